"""Write webapp/names.py's display-name rule into webapp/openapi.yaml: `make openapi`.

The accountName pattern spells out thousands of code point ranges from Python's Unicode data,
so it is generated, never edited; tests/test_openapi_values.py fails when the file differs
from what this would write now.
"""

from __future__ import annotations

import re
import unicodedata

from webapp.names import name_pattern
from webapp.openapi import SOURCE

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
        f"{indent}# Written by `make openapi` from webapp/names.py: edit that, not these lines.",
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


if __name__ == "__main__":
    SOURCE.write_text(regenerated(SOURCE.read_text(encoding="utf-8")), encoding="utf-8")
