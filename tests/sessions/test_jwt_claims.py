"""JWT sessions: exp, nbf and iat checked as NextAuth checks them; malformed tokens are 401."""

from __future__ import annotations

import base64
import json
import math
import os
import time

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.identity.jwe import derive_key

from ..support.app import SECRET, jwt_cookie

URL = "/api/integrations/status"
V4_COOKIE = "next-auth.session-token"
V5_COOKIE = "authjs.session-token"
V4_HEADER = b'{"alg":"dir","enc":"A256GCM"}'
DEEP = "[" * 5000 + "]" * 5000  # deeper than Python's JSON parser recurses


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sealed(plaintext: bytes, header: bytes = V4_HEADER) -> str:
    """A v4 cookie around any bytes, encrypted with our secret as NextAuth does (A256GCM)."""
    header_b64 = _b64(header)
    iv = os.urandom(12)
    key = derive_key(SECRET, V4_COOKIE, "A256GCM")
    out = AESGCM(key).encrypt(iv, plaintext, header_b64.encode("ascii"))
    return ".".join([header_b64, "", _b64(iv), _b64(out[:-16]), _b64(out[-16:])])


def claims_json(**raw: str) -> bytes:
    """Claims with the given values spelled as raw JSON, so they can be what json.dumps refuses."""
    claims = {"sub": '"1"', "exp": str(int(time.time()) + 3600), **raw}
    return ("{" + ",".join(f'"{name}":{value}' for name, value in claims.items()) + "}").encode()


@pytest.fixture
def jwt_client(make_app, add_user):
    unlimited = "100000 per minute"
    app = make_app(
        NEXTAUTH_SESSION_STRATEGY="jwt", STATUS_RATE_LIMIT=unlimited, ANONYMOUS_RATE_LIMIT=unlimited
    )
    add_user(1)
    return app.test_client(use_cookies=False)


def status_with(client, token: str, cookie: str = V4_COOKIE):
    return client.get(URL, headers={"Cookie": f"{cookie}={token}"})


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)[:200]
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


BAD_NUMERIC_DATES = {
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "overflowing float": "1e999",
    "integer too large for a float": "1" + "0" * 400,
    "integer too long to parse": "1" * 5000,
    "string": '"9999999999"',
    "true": "true",
    "false": "false",
    "null": "null",
    "array": "[9999999999]",
    "object": '{"$date":9999999999}',
}


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_numeric_dates_that_are_not_finite_numbers_get_401(jwt_client, subtests, claim):
    for label, value in BAD_NUMERIC_DATES.items():
        with subtests.test(value=label):
            assert_unauthorized(status_with(jwt_client, sealed(claims_json(**{claim: value}))))


@pytest.mark.parametrize("cookie", [V4_COOKIE, V5_COOKIE])
def test_exp_of_the_wrong_type_gets_401_in_both_cookie_families(jwt_client, subtests, cookie):
    for exp in [float("nan"), float("inf"), "9999999999", True]:
        with subtests.test(exp=repr(exp)):
            token = jwt_cookie("1", cookie=cookie, exp=exp)
            assert_unauthorized(status_with(jwt_client, token, cookie))


def test_sealed_token_with_ordinary_claims_is_accepted(jwt_client):
    now = int(time.time())
    fractional = claims_json(exp=f"{now + 3600}.5", iat=str(now), nbf=str(now))

    assert status_with(jwt_client, sealed(claims_json())).status_code == 200
    assert status_with(jwt_client, sealed(fractional)).status_code == 200


def test_nbf_is_honoured_with_nextauths_clock_tolerance(jwt_client):
    now = int(time.time())

    assert status_with(jwt_client, jwt_cookie("1", nbf=now + 5)).status_code == 200
    assert_unauthorized(status_with(jwt_client, jwt_cookie("1", nbf=now + 60)))
    assert_unauthorized(
        status_with(jwt_client, jwt_cookie("1", cookie=V5_COOKIE, nbf=now + 60), V5_COOKIE)
    )


MALFORMED_PLAINTEXTS = {
    "deeply nested claim": claims_json(extra=DEEP),
    "deeply nested claims": DEEP.encode(),
    "array": b'[{"sub":"1"}]',
    "string": b'"sub"',
    "number": b"1",
    "empty": b"",
    "not UTF-8": b'{"sub":"\xff\xfe"}',
    "truncated": claims_json()[:-1],
}


def test_malformed_claims_get_401(jwt_client, subtests):
    for label, plaintext in MALFORMED_PLAINTEXTS.items():
        with subtests.test(plaintext=label):
            assert_unauthorized(status_with(jwt_client, sealed(plaintext)))


MALFORMED_HEADERS = {
    "deeply nested": b'{"alg":"dir","enc":"A256GCM","x":' + DEEP.encode() + b"}",
    "integer too long to parse": b'{"alg":"dir","enc":"A256GCM","x":' + b"1" * 5000 + b"}",
    "NaN": b'{"alg":"dir","enc":"A256GCM","x":NaN}',
    "zip": b'{"alg":"dir","enc":"A256GCM","zip":"DEF"}',
    "crit": b'{"alg":"dir","enc":"A256GCM","crit":["exp"],"exp":1}',
    "alg none": b'{"alg":"none","enc":"A256GCM"}',
    "alg of another key type": b'{"alg":"A256KW","enc":"A256GCM"}',
    "alg not a string": b'{"alg":["dir"],"enc":"A256GCM"}',
    "enc not a string": b'{"alg":"dir","enc":{"A256GCM":1}}',
    "enc missing": b'{"alg":"dir"}',
    "v5 enc in a v4 cookie": b'{"alg":"dir","enc":"A256CBC-HS512"}',
    "array": b'["dir","A256GCM"]',
    "not UTF-8": b'{"alg":"dir","enc":"A256GCM","x":"\xff"}',
}


def test_malformed_protected_headers_get_401_even_when_the_seal_is_good(jwt_client, subtests):
    for label, header in MALFORMED_HEADERS.items():
        with subtests.test(header=label):
            assert_unauthorized(status_with(jwt_client, sealed(claims_json(), header)))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats()  # NaN and infinities too: json.dumps writes them as NaN and Infinity
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
NOW = int(time.time())
NUMERIC_DATES = (
    st.integers(min_value=NOW - 60, max_value=NOW + 3600)  # around now: some pass, some fail
    | st.floats(min_value=NOW - 60, max_value=NOW + 3600)
    | st.floats()
    | JSON_VALUES
)
DATES = {"nbf": NUMERIC_DATES, "iat": NUMERIC_DATES}
CLAIMS = st.fixed_dictionaries({"sub": st.just("1"), "exp": NUMERIC_DATES}, optional=DATES) | (
    st.fixed_dictionaries({"sub": st.just("1")}, optional=DATES)
)
HEADER_NAMES = st.sampled_from(["alg", "enc", "zip", "crit", "kid"]) | st.text(max_size=8)
HEADER_VALUES = st.sampled_from(["dir", "A256GCM", "A256CBC-HS512", "none"]) | JSON_VALUES
HEADERS = st.fixed_dictionaries(
    {"alg": st.just("dir"), "enc": st.just("A256GCM")}, optional={"kid": JSON_VALUES}
) | st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=5)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(header=HEADERS, claims=CLAIMS)
def test_any_json_sealed_in_a_token_is_401_unless_nextauth_would_accept_it(
    jwt_client, header, claims
):
    token = sealed(json.dumps(claims).encode(), json.dumps(header).encode())

    response = status_with(jwt_client, token)

    assert response.status_code in (200, 401), response.get_data(as_text=True)[:200]
    if response.status_code == 200:  # only what NextAuth itself would accept
        assert (header["alg"], header["enc"]) == ("dir", "A256GCM")
        assert not {"zip", "crit"} & set(header)
        assert "exp" in claims
        assert all(is_finite_number(claims.get(name, 0)) for name in ("exp", "nbf", "iat"))


def is_finite_number(value: object) -> bool:
    return type(value) in (int, float) and -math.inf < value < math.inf
