"""Write the display-name rule of webapp/integrations/names.py into webapp/web/openapi.yaml as
a regular expression: `make openapi`.

The accountName pattern spells out thousands of code point ranges from Python's Unicode data,
so it is generated, never edited; tests/api/test_openapi_values.py fails when the file differs
from what this would write now.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import groupby

from webapp.integrations.names import (
    EMOJI_STYLE,
    MAX_LENGTH,
    ZWJ,
    ZWNJ,
    is_arabic_letter,
    is_refused,
    is_symbol,
    is_virama,
)
from webapp.web.openapi import SOURCE

# The generated lines: a comment, the Unicode version and the pattern (a double-quoted scalar).
GENERATED = re.compile(
    r"^( *)# Written by `make openapi`.*\n"
    r"(?:\1x-unicode-version: .*\n)?"
    r'\1pattern:\s+"(?:[^"\\]|\\.)*"',
    re.M | re.S,
)
WIDTH = 100


def regenerated(text: str) -> str:
    """The document with the generated lines as this Python's Unicode data has them."""
    found = GENERATED.search(text)
    assert found, f"{SOURCE.name} has no line marked `# Written by \\`make openapi\\``"
    indent = found[1]
    lines = [
        f"{indent}# Written by `make openapi` from webapp/integrations/names.py: edit that, not"
        " these lines.",
        f"{indent}x-unicode-version: {unicodedata.unidata_version}",
        f"{indent}pattern:",
        yaml_string(name_pattern(), indent + "  "),
    ]
    return text[: found.start()] + "\n".join(lines) + text[found.end() :]


def yaml_string(value: str, indent: str) -> str:
    """A YAML double-quoted scalar that loads as `value`: every character that is not
    printable ASCII escaped, lines wrapped with escaped line breaks (which load as nothing)."""
    lines, line = [], indent + '"'
    for char in value:
        escaped = _escape(char)
        if len(line) + len(escaped) > WIDTH - 1:
            lines.append(line + "\\")
            line = indent
        line += escaped
    return "\n".join([*lines, line + '"'])


def _escape(char: str) -> str:
    if char in '"\\':
        return "\\" + char
    if " " < char < "\x7f":
        return char
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


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


if __name__ == "__main__":
    SOURCE.write_text(regenerated(SOURCE.read_text(encoding="utf-8")), encoding="utf-8")
