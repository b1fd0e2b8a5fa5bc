"""The bench's own PostgreSQL database: one schema per data size, seeded with `seed-demo`."""

from __future__ import annotations

import base64
import hashlib
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from webapp.identity.jwe import encode_session_token

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
COOKIE_NAME = "__Secure-next-auth.session-token"  # what NextAuth sets on an https origin


@dataclass(frozen=True)
class Dataset:
    """A migrated schema holding `users` demo creators, four integrations and a session each."""

    users: int
    schema: str
    url: str  # DATABASE_URL for the service, search_path set to the schema


def with_database(url: str, database: str) -> str:
    """The same server URL on another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def ensure_database(admin_url: str, name: str) -> str:
    """CREATE DATABASE `name` unless it exists; returns its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def encryption_key(database: str) -> str:
    """The bench database's TOKEN_ENCRYPTION_KEYS: its demo secrets are no secret, and a kept
    database is read by later runs with the same key."""
    digest = hashlib.sha256(f"integrations-bench:{database}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def prepare(database_url: str, users: int, env: dict[str, str], cwd: Path = ROOT) -> Dataset:
    """Migrate and seed a schema for `users` creators (kept rows make a rerun quick)."""
    schema = f"users_{users}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    separator = "&" if "?" in database_url else "?"
    url = f"{database_url}{separator}options={quote(f'-csearch_path={schema}')}"
    started = time.perf_counter()
    cli_env = {**env, "DATABASE_URL": url}
    _flask(cwd, cli_env, "db", "upgrade")
    _flask(cwd, cli_env, "seed-demo", "--user-id", "1", "--users", str(users))
    with psycopg.connect(url, autocommit=True) as conn:
        # NextAuth's database strategy: one live session per creator.
        conn.execute(
            """INSERT INTO sessions ("userId", expires, "sessionToken")
               SELECT u.id, now() + interval '365 days', gen_random_uuid()::text FROM users u
               WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s."userId" = u.id)"""
        )
        conn.execute("ANALYZE")
        row = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM integrations),"
            " (SELECT count(*) FROM sessions)"
        ).fetchone()
    counts = row or (0, 0, 0)
    print(
        f"  schema {schema}: {counts[0]:,} users, {counts[1]:,} integrations, "
        f"{counts[2]:,} sessions ({time.perf_counter() - started:.1f}s)",
        flush=True,
    )
    return Dataset(users, schema, url)


def service_key(dataset: Dataset, env: dict[str, str], name: str, cwd: Path = ROOT) -> str | None:
    """A service key that reads credentials, made with `flask api-keys create` (None for a
    version of the service without service keys)."""
    cli_env = {**env, "DATABASE_URL": dataset.url}
    probe = subprocess.run(
        [str(FLASK), "--app", "wsgi", "api-keys", "--help"],
        cwd=cwd,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return None
    made = _flask(cwd, cli_env, "api-keys", "create", "--name", name, "--scope", "credentials:read")
    return made.rstrip("\n").splitlines()[-1]


def write_credential_paths(dataset: Dataset, user_ids: list[int], path: Path) -> Path:
    """One credentials path per line, of integrations whose token needs no renewal: the demo
    creators' Instagram tokens (60 days) and OnlyFans keys (no expiry)."""
    with psycopg.connect(dataset.url) as conn:
        rows = conn.execute(
            "SELECT id FROM integrations WHERE user_id = ANY(%s)"
            " AND provider IN ('instagram', 'onlyfans') ORDER BY id",
            (user_ids,),
        ).fetchall()
    lines = [
        f"/api/platform/integrations/{integration_id}/credentials" for (integration_id,) in rows
    ]
    random.Random(len(lines)).shuffle(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _flask(cwd: Path, env: dict[str, str], *args: str, attempts: int = 3) -> str:
    """A flask command's output; retried, as a busy machine can outlast the 200 ms connect
    timeout."""
    for attempt in range(1, attempts + 1):
        done = subprocess.run(
            [str(FLASK), "--app", "wsgi", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return done.stdout
        if attempt == attempts:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        time.sleep(1)
    raise AssertionError("unreachable")


def sample_users(dataset: Dataset, count: int, seed: int = 6) -> list[int]:
    """`count` creators spread over the whole table (all of them when there are fewer)."""
    if dataset.users <= count:
        return list(range(1, dataset.users + 1))
    return sorted(random.Random(seed).sample(range(1, dataset.users + 1), count))


def write_cookies(
    dataset: Dataset, strategy: str, user_ids: list[int], secret: str, path: Path
) -> Path:
    """One session-cookie value per line: a session token, or a JWE NextAuth would issue."""
    if strategy == "jwt":
        now = int(time.time())
        values = [
            encode_session_token(
                {"sub": str(u), "iat": now, "exp": now + 86_400, "jti": str(uuid.uuid4())},
                COOKIE_NAME,
                secret,
            )
            for u in user_ids
        ]
    else:
        with psycopg.connect(dataset.url) as conn:
            rows = conn.execute(
                'SELECT "sessionToken" FROM sessions WHERE "userId" = ANY(%s)', (user_ids,)
            ).fetchall()
        values = [token for (token,) in rows]
    random.Random(len(values)).shuffle(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(values) + "\n")
    return path
