"""A throwaway PostgreSQL cluster for the integration tests: `initdb` into a temp dir, `pg_ctl`
on a free loopback port, trust auth, stopped and removed after. As root (initdb refuses root) the
cluster runs as `nobody`."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    path = shutil.which(name)
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} not found: install postgresql (.ci/run does)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="tollgate-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        self.as_user = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "nobody", "--"]
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
        self._run([_bin("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust", "--no-sync"])
        self.start()

    def _run(self, cmd, **kw):
        subprocess.run(self.as_user + cmd, check=True, capture_output=True, timeout=60, **kw)

    def start(self):
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        self._run([_bin("pg_ctl"), "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"), "-w", "start"])

    def stop(self):
        self._run([_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])

    def create_database(self, name: str) -> str:
        self.sql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def sql(self, statement: str, db: str = "postgres") -> str:
        out = subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db, "-tAc", statement],
            check=True, capture_output=True, text=True, timeout=30,
        )
        return out.stdout.strip()

    def dsn(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def close(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


if __name__ == "__main__":
    c = PgCluster()
    try:
        print(c.create_database("selfcheck"), c.sql("select 1", "selfcheck"))
    finally:
        c.close()
