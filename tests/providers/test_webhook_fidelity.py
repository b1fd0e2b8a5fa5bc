"""Provider callbacks as the providers really send them: Meta names an Instagram account by an
id other than the one the service shows, pads its base64 or not, and may sign with `expires`;
TikTok's signature header is a list of `key=value` elements in any order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from webapp.extensions import db

from ..support.app import connect_via_oauth
from ..support.grants import every_row, integrations, set_ago, status_of, stored
from ..support.webhooks import (
    DEAUTHORIZE,
    DELETION,
    meta_payload,
    meta_signed_request,
    post_meta,
    post_tiktok,
    signed_for_instagram,
    state,
    tiktok_body,
)

META_APP_SECRET = "the-meta-app-secret-of-this-platform"


def instagram_ids(standins) -> dict[str, str]:
    ig = standins.instagram
    return {
        "account": ig.account_id,  # /me's user_id: the accountId the service shows
        "instagram-scoped": ig.instagram_scoped_id,  # the code exchange's user_id
        "app-scoped": ig.app_scoped_id,  # /me's id: what Meta's signed requests carry
    }


@pytest.mark.parametrize("named_by", ["account", "instagram-scoped", "app-scoped"])
def test_deauthorize_finds_the_account_by_any_id_instagram_gave_for_it(
    standins, service, sign_in, provider, named_by
):
    creator = sign_in(1)
    connect_via_oauth(creator, "instagram")

    response = post_meta(
        provider, DEAUTHORIZE, signed_for_instagram(standins, instagram_ids(standins)[named_by])
    )

    assert response.get_json()["data"] == {"received": True, "expired": 1}
    assert status_of(creator, "instagram")["status"] == "expired"
    assert stored(service, "instagram")["expired_reason"] == "provider_removed"


def test_every_id_is_kept_for_the_account_and_goes_with_it(standins, service, sign_in):
    creator = sign_in(1)
    connect_via_oauth(creator, "instagram")
    connect_via_oauth(creator, "instagram")  # a reconnect adds nothing twice

    with service.app_context():
        aliases = db.session.execute(
            text("SELECT provider, alias FROM account_aliases ORDER BY alias")
        ).all()
        db.session.rollback()
    ig = standins.instagram
    assert [tuple(a) for a in aliases] == sorted(
        [("instagram", ig.instagram_scoped_id), ("instagram", ig.app_scoped_id)],
        key=lambda pair: pair[1],
    )
    assert integrations(creator)[0]["accountId"] == ig.account_id  # what the service shows

    creator.delete(f"/api/integrations/disconnect/instagram/{ig.account_id}")

    assert every_row(service, "account_aliases") == []


def test_a_data_deletion_by_the_app_scoped_id_deletes_the_account(
    standins, service, sign_in, provider
):
    creators = [sign_in(1), sign_in(2)]
    for creator in creators:
        connect_via_oauth(creator, "instagram")
    visitor = service.test_client()

    answer = post_meta(provider, DELETION, signed_for_instagram(standins)).get_json()

    assert list(answer) == ["url", "confirmation_code"]
    assert [integrations(creator) for creator in creators] == [[], []]
    assert every_row(service, "account_aliases") == []
    status = visitor.get(answer["url"], headers={"Accept": "application/json"}).get_json()
    request = status["data"]["deletionRequest"]
    assert (request["status"], request["integrationsDeleted"]) == ("completed", 2)


def test_a_data_deletion_that_matched_nothing_says_so_and_claims_no_deletion(
    standins, service, sign_in, provider
):
    creator = sign_in(1)
    connect_via_oauth(creator, "instagram")
    before = every_row(service, "integrations")

    answer = post_meta(provider, DELETION, signed_for_instagram(standins, "someone-else"))

    # Meta's required answer all the same: where to look, and a code.
    body = answer.get_json()
    assert answer.status_code == 200 and list(body) == ["url", "confirmation_code"]
    assert every_row(service, "integrations") == before
    visitor = service.test_client()
    as_json = visitor.get(body["url"], headers={"Accept": "application/json"}).get_json()
    request = as_json["data"]["deletionRequest"]
    assert (request["status"], request["integrationsDeleted"]) == ("nothing_held", 0)
    page = visitor.get(body["url"]).get_data(as_text=True)
    assert "<dt>Status</dt><dd>Nothing held</dd>" in page
    assert "there was nothing to delete" in page
    assert "were deleted" not in page and "Completed" not in page
    assert status_of(creator, "instagram")["status"] == "connected"


# Meta's signed_request: padding, `expires`, and which secret signs it ------------------------


def padded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def signed_padded(payload: dict, secret: str) -> str:
    """As Meta's own samples build it: base64url of both parts, with their `=` padding."""
    encoded = padded(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    return f"{padded(signature)}.{encoded}"


def test_a_signed_request_with_base64_padding_is_believed(standins, service, sign_in, provider):
    ig = standins.instagram
    connect_via_oauth(sign_in(1), "instagram")
    payload = {"algorithm": "HMAC-SHA256", "issued_at": int(time.time()), "user_id": ""}
    payload["user_id"] = ig.app_scoped_id
    while len(json.dumps(payload)) % 3 == 0:  # a length whose base64 needs padding
        payload["note"] = payload.get("note", "") + "x"
    signed = signed_padded(payload, ig.client_secret)
    signature, encoded = signed.split(".")
    assert signature.endswith("=") and encoded.endswith("=")

    response = post_meta(provider, DEAUTHORIZE, signed)

    assert response.status_code == 200 and response.get_json()["data"]["expired"] == 1


def test_a_signed_request_is_good_until_its_expires(standins, service, sign_in, provider):
    ig = standins.instagram
    creator = sign_in(1)
    connect_via_oauth(creator, "instagram")
    set_ago(service, "instagram", "granted_at", timedelta(hours=1))  # before the removal
    now = int(time.time())
    # Issued 20 minutes ago, good for an hour (as the deletion-callback page's example is).
    late = meta_payload(ig.app_scoped_id, now - 1200, expires=now + 2400)

    response = post_meta(provider, DEAUTHORIZE, meta_signed_request(late, ig.client_secret))

    assert response.status_code == 200 and response.get_json()["data"]["expired"] == 1


@pytest.mark.parametrize(
    ("issued", "expires"),
    [(-3700, -100), (-60, -1), (0, -60), (600, 4200), (0, "soon")],
    ids=["expired", "just-expired", "expires-before-issued", "issued-ahead", "not-a-time"],
)
def test_a_signed_request_past_its_expires_is_refused(
    standins, service, sign_in, provider, issued, expires
):
    ig = standins.instagram
    connect_via_oauth(sign_in(1), "instagram")
    before = state(service)
    now = int(time.time())
    until = now + expires if isinstance(expires, int) else expires
    payload = meta_payload(ig.app_scoped_id, now + issued, expires=until)

    response = post_meta(provider, DEAUTHORIZE, meta_signed_request(payload, ig.client_secret))

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "INVALID_SIGNATURE"
    assert state(service) == before


@pytest.fixture
def extra_settings() -> dict[str, str]:
    return {"META_APP_SECRET": META_APP_SECRET}


def test_a_request_signed_with_the_meta_app_secret_is_believed_when_it_is_set(
    standins, service, sign_in, provider
):
    creator = sign_in(1)
    connect_via_oauth(creator, "instagram")
    payload = meta_payload(standins.instagram.app_scoped_id)
    by_meta_app = meta_signed_request(payload, META_APP_SECRET)
    by_instagram_app = signed_for_instagram(standins)

    assert post_meta(provider, DEAUTHORIZE, by_meta_app).get_json()["data"]["expired"] == 1
    assert post_meta(provider, DEAUTHORIZE, by_instagram_app).status_code == 200


def test_without_meta_app_secret_only_the_instagram_app_secret_signs(make_app, standins):
    service = make_app(**standins.settings())  # no META_APP_SECRET
    payload = meta_payload(standins.instagram.app_scoped_id)

    response = post_meta(
        service.test_client(), DEAUTHORIZE, meta_signed_request(payload, META_APP_SECRET)
    )

    assert response.status_code == 401


# TikTok-Signature: split on `,`, then on `=` -------------------------------------------------


def tiktok_hmac(body: bytes, secret: str, stamp: str) -> str:
    return hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "layout",
    ["s={s},t={t}", "t={t}, s={s}", "t={t},v=2,s={s}", "t={t},s={bad},s={s}"],
    ids=["signature-first", "space-after-comma", "another-element", "two-signatures"],
)
def test_the_tiktok_signature_header_is_read_as_its_docs_say(
    standins, service, sign_in, provider, layout
):
    creator = sign_in(1)
    connect_via_oauth(creator, "tiktok")
    body = tiktok_body(standins)
    stamp = str(int(time.time()))
    signature = tiktok_hmac(body, standins.tiktok.client_secret, stamp)
    header = layout.format(t=stamp, s=signature, bad="0" * 64)

    response = post_tiktok(provider, body, header)

    assert response.status_code == 200 and response.get_json()["data"]["expired"] == 1
    assert status_of(creator, "tiktok")["status"] == "expired"


@pytest.mark.parametrize(
    "layout",
    ["s={s}", "t={t},t={t},s={s}", "t={t},s={s}x", "t=,s={s}", "t={t};s={s}"],
    ids=["no-timestamp", "two-timestamps", "not-hex", "empty-timestamp", "other-separator"],
)
def test_a_tiktok_signature_header_out_of_shape_is_refused(
    standins, service, sign_in, provider, layout
):
    connect_via_oauth(sign_in(1), "tiktok")
    before = state(service)
    body = tiktok_body(standins)
    stamp = str(int(time.time()))
    header = layout.format(t=stamp, s=tiktok_hmac(body, standins.tiktok.client_secret, stamp))

    response = post_tiktok(provider, body, header)

    assert response.status_code == 401
    assert state(service) == before
