"""A throwaway PostgreSQL cluster on loopback (Debian's `postgresql` package), for the hub's
tests and benchmarks: initdb and pg_ctl run as the postgres user in a fresh folder under /tmp
(PostgreSQL refuses to run as root, and pytest's own temp folders are root-only), with trust
authentication on 127.0.0.1 only; `stop()` is `pg_ctl -m immediate stop` and removes it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from vendd.errors import VenddError


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise VenddError("PostgreSQL is not installed (apt-get install postgresql)")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.folder = Path(tempfile.mkdtemp(prefix="vpg-", dir="/tmp"))  # short socket path
        self.data = self.folder / "data"
        self.port = _free_port()
        shutil.chown(self.folder, "postgres", "postgres")

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True,
                       capture_output=True, cwd=self.folder)

    def start(self) -> None:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-E", "UTF8",
                          "--locale=C.UTF-8", "--no-sync", "-A", "trust", "-U", "postgres")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.folder / "log"), "-o",
                          f"-k {self.folder} -p {self.port} -c listen_addresses=127.0.0.1 "
                          f"-c fsync=off -c max_connections=200", "start")

    def stop(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "stop"], capture_output=True,
                       check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import sqlalchemy as sa

        name = f"hub_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return self.url(name)
