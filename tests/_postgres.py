"""A throw-away PostgreSQL server for the tests, started from the system binaries (``initdb`` + ``pg_ctl`` in a
temporary folder, as pytest-postgresql does).

PostgreSQL refuses to run as root: when the tests run as root the server runs as the unprivileged user ``nobody``
(the subprocess is started with ``user=``; its folder is created in the system temporary folder and handed to
that user). Where no binaries exist the tests are skipped with the reason; CI sets INFANTJAX_REQUIRE_POSTGRES=1,
which makes that a failure.
"""

from __future__ import annotations

import glob
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile

import pytest

REQUIRE = "INFANTJAX_REQUIRE_POSTGRES"


def _skip(reason: str):
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}")
    pytest.skip(reason)


def server_binaries() -> pathlib.Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: $INFANTJAX_PG_BIN, PATH, or Debian's /usr/lib/postgresql/*/bin."""
    candidates = [os.environ.get("INFANTJAX_PG_BIN")]
    found = shutil.which("initdb")
    if found:
        candidates.append(str(pathlib.Path(found).resolve().parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and all((pathlib.Path(folder) / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return pathlib.Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server; :attr:`url` is the SQLAlchemy URL of its ``postgres`` database (psycopg 3 driver)."""

    def __init__(self, binaries: pathlib.Path):
        self.binaries = binaries
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="infantjax-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:  # postgres will not run as root
            import pwd

            entry = pwd.getpwnam("nobody")
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self.user = (entry.pw_uid, entry.pw_gid)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        kwargs = {} if self.user is None else {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        result = subprocess.run([str(self.binaries / args[0]), *args[1:]], capture_output=True, text=True,
                                timeout=timeout, cwd=self.folder, check=False, **kwargs)
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr[-2000:]}\n{tail}")

    def start(self) -> Server:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")
        return self

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_server() -> Server:
    """Start a server (or skip the test with the reason no server can run here)."""
    binaries = server_binaries()
    if binaries is None:
        _skip("no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql "
              "(apt-get install postgresql) or set INFANTJAX_PG_BIN to run the PostgreSQL tests")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _skip("the psycopg driver is missing: pip install -e '.[postgres]' (the test extra includes it)")
    return Server(binaries).start()
