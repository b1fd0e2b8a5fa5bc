"""The README's receiving example, taken from the README as it stands, against real deliveries."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server

from ..support.events import EVENTS_SECRET, deliver, events_settings, outbox
from ..support.processes import ROOT

SECTION = re.compile(r"^### Receiving the events$(.*?)^## ", re.S | re.M)
PYTHON = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def readme_example() -> str:
    section = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section, "README.md has no section 'Receiving the events'"
    [code] = PYTHON.findall(section[1])
    return code


def test_the_readme_example_is_short():
    lines = [line for line in readme_example().splitlines() if line.strip()]

    assert len(lines) <= 16


def test_the_readme_example_verifies_a_real_delivery_and_handles_it_once(
    make_app, add_user, db_session_cookie, monkeypatch
):
    monkeypatch.setenv("EVENTS_SECRET", EVENTS_SECRET)
    printed: list[tuple] = []
    example: dict = {"__name__": "platform_receiver", "print": lambda *a: printed.append(a)}
    exec(compile(readme_example(), "README.md", "exec"), example)
    server = make_server("127.0.0.1", 0, example["app"], threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        [route] = [r.rule for r in example["app"].url_map.iter_rules() if r.endpoint != "static"]
        app = make_app(**events_settings(f"http://127.0.0.1:{server.server_port}{route}"))
        add_user(1)
        creator = app.test_client()
        creator.set_cookie("next-auth.session-token", db_session_cookie(1))
        body = {"accountId": "of1", "accountName": "OF", "apiKey": "ofapi_0123456789abcdef"}
        creator.post("/api/integrations/connect/onlyfans", json=body)

        assert deliver(app) == "delivered=1 retried=0 failed=0 gone=0"
    finally:
        server.shutdown()
        serving.join()

    [row] = outbox(app)
    assert example["handled"] == {row["webhook_id"]}
    assert printed == [("integration.connected", 1, "new")]
    receiver = example["app"].test_client()
    headers = signed(row["webhook_id"], row["body"])
    assert receiver.post(route, data=row["body"], headers=headers).status_code == 204  # again
    assert example["handled"] == {row["webhook_id"]} and len(printed) == 1
    tampered = row["body"].replace('"new"', '"reconnected"')
    assert receiver.post(route, data=tampered, headers=headers).status_code == 400


def signed(webhook_id: str, body: str) -> dict[str, str]:
    """The headers the service sends, signed now, as a retry of the same event would be."""
    now = datetime.now(UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(EVENTS_SECRET).sign(webhook_id, now, body),
    }
