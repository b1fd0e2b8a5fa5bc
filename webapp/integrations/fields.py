"""The fields of a request body, each checked, and every bad one reported in one error."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError
from .names import MAX_LENGTH, is_display_name

# Not "." or "..": in a URL path a browser resolves those, so the page's own Disconnect
# URL for such an account would lead somewhere else.
ACCOUNT_ID = re.compile(r"(?!\.\.?$)[A-Za-z0-9._-]{1,64}")
API_KEY = re.compile(r"[\x21-\x7e]{16,512}")


@dataclass(frozen=True, slots=True)
class Field:
    """A string field: what a good value is, in words and as a check."""

    rule: str
    accepts: Callable[[str], bool]
    strip: bool = False  # surrounding whitespace is no part of the value


ONLYFANS = {
    "accountId": Field(
        "1-64 letters, digits, '.', '_' or '-', and not '.' or '..'",
        lambda value: ACCOUNT_ID.fullmatch(value) is not None,
    ),
    "accountName": Field(
        f"1-{MAX_LENGTH} characters, none of them invisible, control, private-use or unassigned",
        is_display_name,
        strip=True,
    ),
    "apiKey": Field(
        "16-512 printable characters without spaces",
        lambda value: API_KEY.fullmatch(value) is not None,
    ),
}


def api_key_fields(body: Mapping[str, Any]) -> tuple[str, str, str]:
    """accountId, accountName and apiKey of an OnlyFans connection, each checked."""
    account_id, account_name, api_key = checked(body, ONLYFANS)
    return account_id, account_name, api_key


def checked(body: Mapping[str, Any], fields: Mapping[str, Field]) -> list[str]:
    """The value of each field in order; a VALIDATION_ERROR naming every bad one."""
    values, bad = [], {}
    for name, field in fields.items():
        value = body.get(name)
        if isinstance(value, str):
            value = value.strip() if field.strip else value
            if field.accepts(value):
                values.append(value)
                continue
        bad[name] = f"{name} must be {field.rule}"
    if bad:
        raise ApiError("VALIDATION_ERROR", "; ".join(bad.values()), 400, fields=bad)
    return values
