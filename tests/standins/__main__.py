"""Serve the stand-ins as a local sandbox for `make run`, so Connect and Reconnect work offline.

    python -m tests.standins --port 8101 --env-file instance/sandbox.env --demo-user 1

Instagram, TikTok and Reddit listen on PORT, PORT+1 and PORT+2; the service's settings for
them are written to the env file. With --demo-user, each stand-in approves as the account
`flask seed-demo` gave that user, so reconnecting updates the demo card in place.
"""

from __future__ import annotations

import argparse
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

from webapp.demo import demo_integrations

from .instagram import InstagramStandIn
from .reddit import RedditStandIn
from .tiktok import TikTokStandIn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--demo-user", type=int)
    args = parser.parse_args()

    demo = {}
    if args.demo_user:
        demo = {
            row["provider"]: row["account_id"]
            for row in demo_integrations(args.demo_user, datetime.now(UTC))
        }
    standins = [
        InstagramStandIn(account_id=demo.get("instagram")),
        TikTokStandIn(account_id=demo.get("tiktok")),
        RedditStandIn(account_id=demo.get("reddit")),
    ]
    lines = []
    for offset, standin in enumerate(standins):
        standin.start(args.port + offset)
        lines += [f"{key}={value}" for key, value in standin.settings().items()]
    args.env_file.parent.mkdir(parents=True, exist_ok=True)
    args.env_file.write_text("\n".join(lines) + "\n")
    print(f"sandbox providers on 127.0.0.1:{args.port}-{args.port + 2}", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    for standin in standins:
        standin.stop()


if __name__ == "__main__":
    main()
