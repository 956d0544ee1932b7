"""A throwaway PostgreSQL cluster for the integration suite (the Python twin of
src/store/postgres/testing.rs).

initdb into a temp dir, a server on a free local port with trust auth and fsync off,
stopped (immediate) and removed on close. initdb refuses to run as root, so as root the
cluster belongs to an unprivileged user and every server command runs as that user through
runuser (else setpriv).

    with PgCluster() as pg:
        url = pg.create_database("tollgate")   # postgres://postgres@127.0.0.1:PORT/tollgate
        ...
        pg.stop(); pg.start()                  # an outage, same port and data
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile

SKIP_ENV = "TOLLGATE_SKIP_POSTGRES"


def find_binaries():
    """The bin directory of the highest installed PostgreSQL, else one on PATH, else None."""

    def has_both(directory):
        return all(os.path.isfile(os.path.join(directory, p)) for p in ("initdb", "pg_ctl"))

    versions = []
    for bin_dir in glob.glob("/usr/lib/postgresql/*/bin"):
        version = os.path.basename(os.path.dirname(bin_dir))
        if version.isdigit() and has_both(bin_dir):
            versions.append((int(version), bin_dir))
    if versions:
        return max(versions)[1]
    initdb = shutil.which("initdb")
    if initdb:
        directory = os.path.dirname(os.path.realpath(initdb))
        if has_both(directory):
            return directory
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unprivileged_user():
    for user in ("nobody", "postgres", "daemon"):
        if subprocess.run(["id", "-u", user], capture_output=True).returncode == 0:
            return user
    return None


class PgCluster:
    def __init__(self, port=None):
        self.bin = find_binaries()
        if self.bin is None:
            raise RuntimeError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in "
                f"/usr/lib/postgresql/*/bin or PATH: install postgresql, or set {SKIP_ENV}=1"
            )
        self.port = port or free_port()
        self.root = None
        self.run_as = None
        self.running = False

    # Paths and URLs.
    @property
    def data_dir(self):
        return os.path.join(self.root, "data")

    @property
    def socket_dir(self):
        return os.path.join(self.root, "sockets")

    @property
    def log_path(self):
        return os.path.join(self.root, "server.log")

    def url(self, database="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def dsn(self):
        """The URL of the default database (`postgres`)."""
        return self.url("postgres")

    # Running commands as the cluster's user.
    def _command(self, program, *args):
        path = os.path.join(self.bin, program)
        if self.run_as is None:
            return [path, *args]
        if shutil.which("runuser"):
            return ["runuser", "-u", self.run_as, "--", path, *args]
        group = subprocess.run(["id", "-g", self.run_as], capture_output=True,
                               text=True).stdout.strip() or self.run_as
        return ["setpriv", f"--reuid={self.run_as}", f"--regid={group}",
                "--clear-groups", path, *args]

    def _run(self, program, *args):
        command = self._command(program, *args)
        done = subprocess.run(command, cwd=self.root, capture_output=True, text=True)
        if done.returncode != 0:
            log = ""
            if os.path.exists(self.log_path):
                with open(self.log_path, errors="replace") as f:
                    log = f.read()
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}):\n"
                f"{done.stdout}{done.stderr}\nserver log:\n{log}"
            )
        return done.stdout

    # Lifecycle.
    def start(self):
        """Creates the cluster on first use, then starts the server (again, after stop())."""
        if self.running:
            return self
        if self.root is None:
            self.root = tempfile.mkdtemp(prefix="tollgate-pg-")
            os.makedirs(self.socket_dir)
            if os.geteuid() == 0:
                self.run_as = unprivileged_user()
                if self.run_as is None:
                    raise RuntimeError("running as root and no unprivileged user to run as")
                subprocess.run(["chown", "-R", self.run_as, self.root], check=True)
            self._run("initdb", "-D", self.data_dir, "-U", "postgres", "-A", "trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-k '{self.socket_dir}' -c fsync=off")
        self._run("pg_ctl", "-D", self.data_dir, "-l", self.log_path, "-w", "-t", "30",
                  "-o", options, "start")
        self.running = True
        return self

    def stop(self, mode="fast"):
        """Stops the server, keeping its data (start() brings it back on the same port)."""
        if self.running:
            self._run("pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop")
            self.running = False

    def close(self):
        if self.root is None:
            return
        try:
            self.stop(mode="immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def psql(self, sql, database="postgres"):
        """Runs SQL with the cluster's own psql; returns its unaligned output."""
        psql = os.path.join(self.bin, "psql")
        if not os.path.isfile(psql):
            psql = shutil.which("psql") or psql
        done = subprocess.run(
            [psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
             "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

    def create_database(self, name):
        """Creates an empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        self.close()


if __name__ == "__main__":
    # Self-check: start, query, outage on the same port, query again, clean up.
    with PgCluster() as pg:
        url = pg.create_database("selfcheck")
        assert pg.psql("SELECT 1", "selfcheck").strip() == "1"
        pg.stop()
        pg.start()
        assert pg.psql("SELECT datname FROM pg_database WHERE datname = 'selfcheck'").strip() \
            == "selfcheck"
        root = pg.root
        print(f"ok: {url}")
    assert not os.path.exists(root), root
