"""Which display names the service keeps, decided by Unicode category."""

from __future__ import annotations

import unicodedata

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
