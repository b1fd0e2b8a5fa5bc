"""Every enum and pattern of webapp/web/openapi.yaml is the code's own value.

The document is written by hand; these tests fail as soon as it and the code part ways: the
providers, the request validators, the error codes and their statuses, the headers, the session
cookies, the path and column limits, the timestamp format and the integration statuses.
"""

from __future__ import annotations

import ast
import re
import sys
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from itertools import chain
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

import webapp
from webapp.errors import ApiError
from webapp.identity import SESSION_COOKIES
from webapp.integrations.fields import ACCOUNT_ID, API_KEY, api_key_fields
from webapp.integrations.revocations import DELETION_STATUSES
from webapp.integrations.status import EXPIRED_REASONS, status_at
from webapp.models import Integration
from webapp.providers import ALL_PROVIDERS, OAUTH_PROVIDERS
from webapp.providers.signatures import MAX_AGE_S
from webapp.timeutil import iso_z
from webapp.web.api import MAX_PATH_SEGMENT, PAGE_PATH
from webapp.web.http import CACHE_CONTROL
from webapp.web.openapi import SOURCE

from ..support.openapi_names import regenerated

EVERY = {"X-Correlation-Id", "X-Duration-Ms", "Cache-Control"}
LIMITED = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}
RETRY_STATUSES = {"429", "500", "502"}
VALID_KEY = {"accountId": "of_1", "accountName": "Fans", "apiKey": "k" * 16}
ERROR_CODE = re.compile(r"[A-Z]+(?:_[A-Z]+)*")


def providers() -> tuple[list[str], list[str]]:
    """Every provider, and those connected through OAuth: the one place these tests ask."""
    return list(ALL_PROVIDERS), list(OAUTH_PROVIDERS)


def service_accepts(field: str, value: str) -> bool:
    """Whether the OnlyFans connection's validator takes `value` for `field`."""
    try:
        api_key_fields({**VALID_KEY, field: value})
    except ApiError:
        return False
    return True


def error_statuses() -> dict[str, int]:
    """Every error code webapp/ answers with, and its status, read from the source itself.

    Codes have no single home in the code: they are written where they are raised, as
    `ApiError(code, message, status)`, `error_body(code, ...), status[, headers]` and
    `{status: (code, ...)}`.
    """
    found: dict[str, int] = {}
    for path in Path(webapp.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for code, status in _code_and_status(node):
                assert found.setdefault(code, status) == status, f"{code} has two statuses"
    return found


def nginx_error_statuses() -> dict[str, int]:
    """The codes nginx answers with itself (deploy/snippets/integrations-server.conf), by code."""
    snippet = Path(webapp.__file__).parents[1] / "deploy/snippets/integrations-server.conf"
    answer = re.compile(r"return (\d{3}) '\{\"success\":false,\"error\":\{\"code\":\"([A-Z_]+)\"")
    answers = answer.findall(snippet.read_text(encoding="utf-8"))
    return {code: int(status) for status, code in answers}


def _code_and_status(node: ast.AST) -> Iterator[tuple[str, int]]:
    """The (code, status) pairs one syntax node writes, in any of the three forms."""
    if isinstance(node, ast.Call) and len(node.args) >= 3:  # ApiError(code, message, status)
        pairs = [(node.args[0], node.args[2])]
    elif isinstance(node, ast.Tuple) and len(node.elts) >= 2 and isinstance(node.elts[0], ast.Call):
        call, status = node.elts[:2]  # error_body(code, message), status[, headers]
        pairs = [(call.args[0], status)] if call.args else []
    elif isinstance(node, ast.Dict):  # {status: (code, message)}
        entries = zip(node.keys, node.values, strict=True)
        pairs = [(v.elts[0], k) for k, v in entries if isinstance(v, ast.Tuple) and v.elts]
    else:
        pairs = []
    for code, status in pairs:
        code_value, status_value = getattr(code, "value", None), getattr(status, "value", None)
        if (
            isinstance(code_value, str)
            and ERROR_CODE.fullmatch(code_value)
            and type(status_value) is int
        ):
            yield code_value, status_value


@pytest.fixture
def document(client) -> dict[str, Any]:
    return client.get("/api/openapi.json").get_json()


def responses(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, status, response) of every operation, references followed."""
    shared = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for status, response in operation["responses"].items():
                name = response.get("$ref", "").rsplit("/", 1)[-1]
                yield path, status, shared[name] if name else response


def matcher(pattern: str) -> Any:
    """The document's pattern as a JSON Schema validator evaluates it (ECMA-262 semantics)."""
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern})


def narrowed_codes(response: dict[str, Any]) -> list[str]:
    narrowing = response["content"]["application/json"]["schema"]["allOf"][1]
    codes: list[str] = narrowing["properties"]["error"]["properties"]["code"]["enum"]
    return codes


# Providers ------------------------------------------------------------------------------------


def test_provider_enums_are_the_providers(document):
    every, oauth = providers()
    components = document["components"]
    schemas = components["schemas"]
    disconnected = schemas["DisconnectResult"]["properties"]["data"]["properties"]["disconnected"]

    assert components["parameters"]["provider"]["schema"]["enum"] == every
    assert components["parameters"]["oauthProvider"]["schema"]["enum"] == oauth
    assert schemas["Integration"]["properties"]["provider"]["enum"] == every
    assert disconnected["properties"]["provider"]["enum"] == every


# Request validators ---------------------------------------------------------------------------


def test_account_id_and_api_key_patterns_are_the_validators(document):
    fields = document["components"]["schemas"]["ApiKey"]["properties"]

    assert fields["accountId"]["pattern"] == f"^{ACCOUNT_ID.pattern}$"
    assert fields["apiKey"]["pattern"] == f"^{API_KEY.pattern}$"


def test_account_id_pattern_refuses_the_dot_segments_as_the_service_does(document):
    documented = matcher(
        document["components"]["schemas"]["ApiKey"]["properties"]["accountId"]["pattern"]
    )
    ids = [".", "..", "...", ".a", "a.", "..a", "a..", "._", "-.", "." * 64, "." * 65, "a\n"]

    assert [documented.is_valid(i) for i in ids] == [service_accepts("accountId", i) for i in ids]
    assert [service_accepts("accountId", i) for i in ids[:2]] == [False, False]


def test_the_fields_named_in_errors_are_the_validated_fields(document):
    schemas = document["components"]["schemas"]
    error = schemas["ErrorEnvelope"]["properties"]["error"]["properties"]
    with pytest.raises(ApiError) as raised:
        api_key_fields({})
    flag = document["paths"]["/api/platform/integrations/{integrationId}/credentials"]["get"]
    [query] = [p["name"] for p in flag["parameters"] if p["in"] == "query"]

    assert schemas["ApiKey"]["required"] == list(VALID_KEY)
    assert error["field"]["enum"] == [*VALID_KEY, query]
    assert error["fields"]["propertyNames"]["enum"] == [*raised.value.fields, query]


def test_the_account_name_pattern_is_what_make_openapi_writes_now(document):
    """The pattern is generated from webapp/integrations/names.py and this Python's Unicode data."""
    name = document["components"]["schemas"]["ApiKey"]["properties"]["accountName"]
    text = SOURCE.read_text(encoding="utf-8")

    assert name["x-unicode-version"] == unicodedata.unidata_version, "run `make openapi`"
    assert regenerated(text) == text, "run `make openapi`"


def sample_characters() -> Iterator[str]:
    """Every character of the Basic Multilingual Plane; beyond it, the first and the last
    character of each run of one Unicode category (what a rule by category decides on)."""
    # Lone surrogates are no characters: a JSON Schema pattern cannot name them.
    points = chain(range(0xD800), range(0xE000, sys.maxunicode + 1))
    last = ""
    for char in map(chr, points):
        if char <= "\uffff":
            yield char
        elif unicodedata.category(char) != unicodedata.category(last):
            yield from (last, char)
        last = char
    yield last


def name_samples() -> Iterator[str]:
    """Each sample character alone, leading, trailing and inside a name; then the limits."""
    for char in sample_characters():
        yield from (char, char + "x", "x" + char, "x" + char + "x")
    yield from ("", "x" * 100, "x" * 101, "\u3000" + "x" * 100 + " \x85", "\t\u2028x\x1c\n")
    yield from ("x" + " " * 98 + "x", "x" + " " * 99 + "x", "\U0001f469\u200d\U0001f4bb")
    yield from ("\u2764\ufe0f", "e\u0301", "\U0001f600" * 100, "\U0001f600" * 101)
    yield from JOINERS


# Each joiner where it joins, and where it does not: between letters, first, last, alone.
JOINERS = [
    "\U0001f469\u200d\U0001f4bb",  # woman, ZWJ, laptop
    "\u2764\ufe0f\u200d\U0001f525",  # heart in emoji style, ZWJ, fire
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # with a skin tone
    "\U0001f642\u200d\u2194\ufe0f",  # a symbol of category Sm after the ZWJ
    "x\ufe0f\u200d\U0001f4bb",
    "\ufe0f\u200d\U0001f4bb",
    "a\u200db",
    "\U0001f4bb\u200d",
    "\u200d\U0001f4bb",
    " \u200d\U0001f4bb",
    "\U0001f4bb\u200d x",
    "\u0dc1\u0dca\u200d\u0dbb\u0dd3",  # Sinhala: a ZWJ after the virama
    "\u0915\u094d\u200c",  # Devanagari: a ZWNJ after the virama, last
    "\u0915\u094d\u200d ",
    "\u0639\u0644\u06cc\u200c\u0627\u06a9",  # Persian: a ZWNJ between two letters
    "\u06cc\u200c",
    "\u200c\u0627",
    "\u06cc\u200c\u0301",
    "\u0627\u200d\u0627",
    "a\u200cb",
]


def test_account_name_pattern_accepts_exactly_what_the_service_accepts(document):
    pattern = document["components"]["schemas"]["ApiKey"]["properties"]["accountName"]["pattern"]
    documented = matcher(pattern)

    disagreements = [
        name
        for name in name_samples()
        if documented.is_valid(name) != service_accepts("accountName", name)
    ]

    assert disagreements == [], [f"{name!r}" for name in disagreements[:20]]


@pytest.mark.parametrize(
    "name",
    [
        "Fans",
        "  Fans\u3000",
        "\x85Fans\x1c",
        "Fa\u202ens",
        "Fans\x7f",
        "\u200b",
        " ",
        "\U0001f469\u200d\U0001f4bb Studio",
        "a\u200db",
        "Fa\u00adns",
        "\U000e0041Fans",
    ],
)
def test_a_name_is_connected_as_the_document_says(
    document, client, add_user, db_session_cookie, name
):
    pattern = document["components"]["schemas"]["ApiKey"]["properties"]["accountName"]["pattern"]
    client.set_cookie("next-auth.session-token", db_session_cookie(add_user(1)))

    response = client.post(
        "/api/integrations/connect/onlyfans", json={**VALID_KEY, "accountName": name}
    )

    assert response.status_code == (201 if matcher(pattern).is_valid(name) else 400)


# Errors ---------------------------------------------------------------------------------------


def test_error_table_is_every_code_the_service_and_its_nginx_answer_with(document):
    table = re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", document["info"]["description"], re.M)
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    # nginx says INTERNAL_ERROR with 502 and 504 too: the table gives the service's own status.
    expected = nginx_error_statuses() | error_statuses()

    assert {code: int(status) for code, status in table} == expected
    assert len(table) == len(expected)
    assert envelope["properties"]["error"]["properties"]["code"]["enum"] == [c for c, _ in table]


def test_each_error_response_carries_only_codes_of_its_status(document):
    statuses = error_statuses()

    for path, status, response in responses(document):
        if int(status) < 400 or path == "/readyz":  # not ready is a report, not an error
            continue
        assert {statuses[code] for code in narrowed_codes(response)} == {int(status)}, path


# Headers --------------------------------------------------------------------------------------


def test_headers_are_documented_on_every_response(document):
    for path, status, response in responses(document):
        expected = set(EVERY)
        if path.startswith(("/api/integrations/", "/api/webhooks/", "/api/platform/")):
            expected |= LIMITED
        if status in RETRY_STATUSES:
            expected.add("Retry-After")
        assert expected <= set(response["headers"]), (path, status)
        assert set(response["headers"]) - expected <= {"Location"}, (path, status)


def test_header_values_are_the_service_s(document):
    headers = document["components"]["headers"]

    assert headers["Cache-Control"]["schema"]["const"] == CACHE_CONTROL
    assert headers["Location"]["schema"]["pattern"] == f"^{re.escape(PAGE_PATH)}\\?"


def test_session_cookies_are_those_the_service_reads(document):
    scheme = document["components"]["securitySchemes"]["sessionCookie"]
    also_read = re.findall(r"`([\w.-]+\.session-token)`", scheme["description"])

    assert sorted([scheme["name"], *also_read]) == sorted(SESSION_COOKIES)


# Limits, formats and statuses -----------------------------------------------------------------


def test_lengths_are_the_path_and_column_limits(document):
    components = document["components"]
    integration = components["schemas"]["Integration"]["properties"]
    columns = Integration.__table__.columns

    assert components["parameters"]["accountId"]["schema"]["maxLength"] == MAX_PATH_SEGMENT
    assert integration["accountId"]["maxLength"] == columns["account_id"].type.length
    assert integration["accountName"]["maxLength"] == columns["account_name"].type.length


def test_timestamp_pattern_is_the_format_the_service_writes(document):
    pattern = matcher(document["components"]["schemas"]["Timestamp"]["pattern"])
    moments = [
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(1999, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC),
        datetime(2025, 6, 1, 12, 30, 0, 123_456, tzinfo=timezone(timedelta(hours=-7))),
    ]

    for moment in moments:
        written = iso_z(moment)
        assert written is not None and pattern.is_valid(written), written
        assert iso_z(datetime.fromisoformat(written)) == written


def test_the_reasons_a_backend_is_given_are_the_services(document):
    enum = document["components"]["schemas"]["ExpiredReason"]["enum"]

    assert enum == list(EXPIRED_REASONS)


def test_status_enum_is_the_statuses_the_service_gives(document):
    enum = document["components"]["schemas"]["Integration"]["properties"]["status"]["enum"]
    given = {status_at(reason) for reason in (None, *EXPIRED_REASONS)}

    assert sorted(enum) == sorted(given)


# Webhooks -------------------------------------------------------------------------------------


def test_signature_age_is_the_one_the_service_allows(document):
    minutes = f"{MAX_AGE_S // 60} minutes"
    table = re.search(r"^\| `INVALID_SIGNATURE` \|.*$", document["info"]["description"], re.M)

    assert MAX_AGE_S % 60 == 0
    assert f"more than {minutes} ago" in document["info"]["description"]
    assert table is not None and minutes in table[0]


def test_deletion_statuses_are_those_the_service_records(document):
    result = document["components"]["schemas"]["DeletionStatusResult"]["properties"]["data"]
    request = result["properties"]["deletionRequest"]["properties"]

    assert request["status"]["enum"] == list(DELETION_STATUSES)
