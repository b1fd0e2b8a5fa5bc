"""README's Node.js client for the platform's backends, taken from the README as it stands,
run with Node against a live server and the provider stand-ins."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

from werkzeug.serving import make_server

from ..support.app import connect_via_oauth
from ..support.backends import make_key
from ..support.processes import ROOT
from ..support.requirements import require

SECTION = re.compile(r"^## For the platform's backends$(.*?)^## ", re.S | re.M)
JS = re.compile(r"^```js\n(.*?)^```", re.S | re.M)
NODE = shutil.which("node")
# What a scheduler does with the client: its creator's integrations, then a token of each.
DRIVER = """
import { integrationsOf, tokenFor } from "./platform-client.mjs";
const integrations = await integrationsOf(1);
const tokens = {};
for (const item of integrations) {
  const forceRefresh = item.provider === "reddit"; // as after Reddit refused its token
  tokens[item.provider] = await tokenFor(item.id, { forceRefresh });
}
console.log(JSON.stringify({ integrations, tokens }));
"""


def readme_client() -> str:
    section = SECTION.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert section, "README.md has no section 'For the platform's backends'"
    [code] = JS.findall(section[1])
    return code


def test_the_readme_client_is_short():
    assert len([line for line in readme_client().splitlines() if line.strip()]) <= 30


def test_the_readme_client_reads_integrations_and_tokens_and_handles_a_dead_grant(
    signed_in_client, provider_app, standins, tmp_path: Path
):
    require("the README's Node.js client", [("node", NODE)])
    assert NODE
    connect_via_oauth(signed_in_client, "tiktok")
    connect_via_oauth(signed_in_client, "reddit")
    standins.reddit.revoke_all()  # the creator removed the app at Reddit
    key = make_key(provider_app, "scheduler", "integrations:read", "credentials:read")
    (tmp_path / "platform-client.mjs").write_text(readme_client(), encoding="utf-8")
    (tmp_path / "driver.mjs").write_text(DRIVER, encoding="utf-8")
    server = make_server("127.0.0.1", 0, provider_app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        ran = subprocess.run(
            [NODE, "driver.mjs"],
            cwd=tmp_path,
            env={
                "INTEGRATIONS_URL": f"http://127.0.0.1:{server.server_port}",
                "INTEGRATIONS_KEY": key,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
        serving.join()

    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert [item["provider"] for item in out["integrations"]] == ["tiktok", "reddit"]
    tiktok, reddit = out["tokens"]["tiktok"], out["tokens"]["reddit"]
    assert tiktok["tokenType"] == "bearer"
    assert standins.tiktok.token_state(tiktok["accessToken"]) == "valid"
    assert reddit["reason"] == "access_revoked"
    assert reddit["reconnect"].endswith("/integrations#integration-2")
