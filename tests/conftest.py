"""Shared database fixtures: a real PostgreSQL server per session and fresh databases per test.

Fixtures:
- `pg_server` (session): a throw-away PostgreSQL cluster on 127.0.0.1; `.url(dbname)` builds URLs.
- `pg_url` (session): `postgresql+psycopg://postgres@127.0.0.1:PORT/zerogate_test` (an empty DB).
- `make_database` (function): `make_database("sqlite" | "postgresql", migrated=True) -> url`,
  a fresh database dropped after the test.
- `store_url` / `empty_store_url` (function, parametrized sqlite + postgresql): a fresh migrated /
  empty database URL, so every store test runs on both backends.
- `store` (function, parametrized the same way): an open, migrated `zerogate.store.Store`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from zerogate.app import free_port
from zerogate.store import Store, open_store

DIALECTS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
_TEMPLATE_DB = "zerogate_template"


@dataclass(frozen=True, slots=True)
class PgServer:
    """A running PostgreSQL cluster started for this test session."""

    port: int
    data_dir: Path

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq DSN for admin statements through psycopg directly."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, statement: sql.Composable | str, dbname: str = "postgres") -> None:
        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            conn.execute(statement if isinstance(statement, sql.Composable) else sql.SQL(statement))


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if not found:
        pytest.fail(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `make test`, "
            "which installs it (scripts/system-deps.sh), or `apt-get install postgresql`.",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parts[-3]  # /usr/lib/postgresql/<version>/bin/initdb
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; drop to the `postgres` system user when we are root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _stop_cluster(bin_dir: Path, data_dir: Path) -> None:
    pid_file = data_dir / "postmaster.pid"
    pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else None
    stopped = subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w"]),
        capture_output=True,
        check=False,
    )
    if stopped.returncode != 0 and pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)  # the postmaster we started, by its PID: immediate stop


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="zerogate-pg-"))
    data_dir, sock_dir = root / "data", root / "sock"
    sock_dir.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (root, sock_dir):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = free_port()
    started = False
    try:
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres"]
        initdb += ["-A", "trust", "-E", "UTF8", "--no-sync"]
        result = subprocess.run(_as_postgres(initdb), capture_output=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"initdb failed: {result.stderr.decode(errors='replace')}", pytrace=False)
        # Durability off: a test cluster trades crash safety for speed.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sock_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        pg_ctl = [str(bin_dir / "pg_ctl"), "start", "-D", str(data_dir), "-w", "-t", "30"]
        pg_ctl += ["-l", str(root / "postgres.log"), "-o", options]
        result = subprocess.run(_as_postgres(pg_ctl), capture_output=True, check=False)
        started = True
        if result.returncode != 0:
            log = (root / "postgres.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"PostgreSQL did not start: {result.stderr.decode()}\n{log}", pytrace=False)
        server = PgServer(port=port, data_dir=data_dir)
        server.execute("CREATE DATABASE zerogate_test")
        yield server
    finally:
        if started:
            _stop_cluster(bin_dir, data_dir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    return pg_server.url("zerogate_test")


@pytest.fixture(scope="session")
def _pg_template(pg_server: PgServer) -> str:
    """A migrated database that per-test databases are cloned from (much faster than migrating)."""
    pg_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_TEMPLATE_DB)))
    store = open_store(pg_server.url(_TEMPLATE_DB))
    try:
        store.migrate()
    finally:
        store.close()
    return _TEMPLATE_DB


@pytest.fixture
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., str]]:
    created: list[str] = []
    server: list[PgServer] = []

    def make(dialect: str, *, migrated: bool = True) -> str:
        if dialect == "sqlite":
            url = f"sqlite:///{tmp_path / f'zerogate-{uuid.uuid4().hex[:8]}.db'}"
            if migrated:
                store = open_store(url)
                try:
                    store.migrate()
                finally:
                    store.close()
            return url
        if dialect != "postgresql":
            raise ValueError(dialect)
        pg: PgServer = request.getfixturevalue("pg_server")
        server.append(pg)
        name = f"t_{uuid.uuid4().hex}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if migrated:
            # FILE_COPY: with fsync off, copying the small template's files is ~4x faster here.
            template = request.getfixturevalue("_pg_template")
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        pg.execute(statement)
        created.append(name)
        return pg.url(name)

    yield make
    for name in created:
        server[0].execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=DIALECTS)
def store_url(request: pytest.FixtureRequest, make_database: Callable[..., str]) -> str:
    return make_database(request.param)


@pytest.fixture(params=DIALECTS)
def empty_store_url(request: pytest.FixtureRequest, make_database: Callable[..., str]) -> str:
    return make_database(request.param, migrated=False)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
