"""Which display names the service keeps, decided by Unicode category; and that rule as the
regular expression webapp/openapi.yaml carries (built on request, never at import)."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import groupby

MAX_LENGTH = 100
# Control, format, line and paragraph separators, private use, unassigned and surrogates: no
# name a creator reads needs one, and several disguise a name (bidi overrides, tag characters).
REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
ZWNJ, ZWJ = "\u200c", "\u200d"
EMOJI_STYLE = "\ufe0f"  # VARIATION SELECTOR-16, a mark (Mn): asks for the emoji form
VIRAMA = 9  # the canonical combining class of a virama (halant)


def is_display_name(name: str) -> bool:
    """1-100 characters, none in a refused category except a joiner where it joins."""
    return 1 <= len(name) <= MAX_LENGTH and all(
        unicodedata.category(char) not in REFUSED or _joins(name, at)
        for at, char in enumerate(name)
    )


def _joins(name: str, at: int) -> bool:
    """Whether the character at `at` is a joiner (format characters both) where it joins.

    ZWJ or ZWNJ after a virama picks a conjunct form (Sinhala, Devanagari: IDNA2008's rule,
    RFC 5892 A.1 and A.2); ZWNJ between two Arabic-script letters stops them joining (Persian);
    ZWJ between two symbols, the first perhaps in emoji style, makes an emoji ZWJ sequence.
    Python has no emoji property, so symbols stand for pictographs; anywhere else a joiner
    changes nothing a reader sees, and so could only tell apart names that look the same.
    """
    char, before, after = name[at], name[at - 1 : at] if at else "", name[at + 1 : at + 2]
    if char not in (ZWNJ, ZWJ):
        return False
    if is_virama(before):
        return True
    if char == ZWNJ:
        return is_arabic_letter(before) and is_arabic_letter(after)
    if before == EMOJI_STYLE and at >= 2:
        before = name[at - 2]
    return is_symbol(before) and is_symbol(after)


def is_virama(char: str) -> bool:
    return char != "" and unicodedata.combining(char) == VIRAMA


def is_arabic_letter(char: str) -> bool:
    """A letter of a right-to-left Arabic-script writing system (bidi class AL)."""
    return char != "" and unicodedata.bidirectional(char) == "AL" and char.isalpha()


def is_symbol(char: str) -> bool:
    """Sm, Sc, Sk, So: the pictographs, and the skin-tone modifiers (Sk) after them."""
    return char != "" and unicodedata.category(char).startswith("S")


def is_refused(char: str) -> bool:
    return unicodedata.category(char) in REFUSED


@cache
def name_pattern() -> str:
    """`is_display_name`, after str.strip(), as one regular expression over code points."""
    kept = [point for point in range(sys.maxunicode + 1) if not is_refused(chr(point))]
    symbol = char_class(point for point in kept if is_symbol(chr(point)))
    arabic = char_class(point for point in kept if is_arabic_letter(chr(point)))
    virama = char_class(point for point in kept if is_virama(chr(point)))
    space = char_class(point for point in range(sys.maxunicode + 1) if chr(point).isspace())
    joiner = "|".join(
        [
            f"(?<={virama})[{ZWNJ}{ZWJ}]",
            f"(?<={arabic}){ZWNJ}(?={arabic})",
            f"(?:(?<={symbol})|(?<={symbol}{EMOJI_STYLE})){ZWJ}(?={symbol})",
        ]
    )
    body = f"(?:{char_class(kept)}|{joiner}){{1,{MAX_LENGTH}}}"
    return f"^{space}*{body}(?<!{space}){space}*$"


def char_class(points: Iterable[int]) -> str:
    """[...] of these code points (ascending), written as the characters themselves: no escape
    for one beyond U+FFFF reads alike in ECMA-262 and in Python's re."""
    return "[" + "".join(_range(first, last) for first, last in _runs(points)) + "]"


def _runs(points: Iterable[int]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive code points."""
    for _, run in groupby(enumerate(points), key=lambda item: item[1] - item[0]):
        members = [point for _, point in run]
        yield members[0], members[-1]


def _range(first: int, last: int) -> str:
    return _literal(first) if first == last else f"{_literal(first)}-{_literal(last)}"


def _literal(point: int) -> str:
    char = chr(point)
    return "\\" + char if char in "\\]^-[" else char
