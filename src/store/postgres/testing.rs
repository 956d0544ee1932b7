//! A throwaway PostgreSQL cluster for tests: initdb into a temp dir, a server on a free
//! local port with trust auth and fsync off, stopped and removed on drop. As root (CI and
//! these machines), initdb refuses to run, so the cluster belongs to an unprivileged user
//! and every server command runs as that user (`runuser`, else `setpriv`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to 1 to skip the PostgreSQL tests on a machine without PostgreSQL.
pub const SKIP_ENV: &str = "TOLLGATE_SKIP_POSTGRES";

pub struct TempCluster {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The unprivileged user the server runs as, when the tests run as root.
    run_as: Option<String>,
    running: bool,
}

impl TempCluster {
    /// A running cluster; `None` only when `TOLLGATE_SKIP_POSTGRES=1`. Panics with the reason
    /// otherwise (no binaries, initdb failed, ...), so a missing PostgreSQL fails the test.
    pub fn start_or_skip() -> Option<TempCluster> {
        if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
            eprintln!("PostgreSQL tests skipped ({SKIP_ENV}=1)");
            return None;
        }
        match TempCluster::start() {
            Ok(cluster) => Some(cluster),
            Err(e) => panic!("{e}"),
        }
    }

    pub fn start() -> Result<TempCluster, String> {
        let bin = find_binaries().ok_or_else(|| {
            format!(
                "PostgreSQL server binaries (initdb, pg_ctl) not found in \
                 /usr/lib/postgresql/*/bin or PATH: install postgresql, or set {SKIP_ENV}=1 \
                 to skip these tests"
            )
        })?;
        let root =
            std::env::temp_dir().join(format!("tollgate-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(root.join("sockets"))
            .map_err(|e| format!("creating {}: {e}", root.display()))?;
        let run_as = if effective_uid() == Some(0) {
            let user = unprivileged_user().ok_or("running as root and no unprivileged user")?;
            run(Command::new("chown").arg("-R").arg(&user).arg(&root))?;
            Some(user)
        } else {
            None
        };
        let mut cluster = TempCluster {
            root,
            bin,
            port: free_port()?,
            run_as,
            running: false,
        };
        let data = cluster.data_dir();
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(&mut initdb)?;
        cluster.start_server()?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of one database of the cluster.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, String> {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("connecting to the test cluster: {e}"))?;
        let connection_task = tokio::spawn(connection);
        let created = client
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .map_err(|e| format!("creating database {name}: {}", super::describe_error(&e)));
        drop(client);
        let _ = connection_task.await;
        created.map(|()| self.url(name))
    }

    /// Stops the server (fast shutdown: clients are disconnected), keeping its data.
    pub fn stop(&mut self) -> Result<(), String> {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "stop"]);
        run(&mut stop)?;
        self.running = false;
        Ok(())
    }

    /// Starts the server again on the same port.
    pub fn start_server(&mut self) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k '{}' -c fsync=off",
            self.port,
            self.root.join("sockets").display()
        );
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "30", "-o", &options, "start"]);
        run(&mut start).map_err(|e| format!("{e}\nserver log:\n{}", self.server_log()))?;
        self.running = true;
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
    }

    /// A command for one of the cluster's binaries, as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) if which("runuser").is_some() => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            Some(user) => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={user}"))
                    .arg(format!(
                        "--regid={}",
                        primary_group(user).unwrap_or_else(|| user.clone())
                    ))
                    .arg("--clear-groups")
                    .arg(program);
                c
            }
            None => Command::new(program),
        };
        // The server's user may not be able to read the test's working directory.
        command.current_dir(&self.root);
        command
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        if self.running {
            let mut stop = self.command("pg_ctl");
            stop.arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "stop"]);
            let _ = run(&mut stop);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs a command to completion; its output is the error when it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("running {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The bin directory of the highest installed PostgreSQL version, else one on PATH.
fn find_binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let initdb = which("initdb")?;
    // A Debian-style wrapper on PATH points at the real directory; follow the link.
    let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
    real.parent()
        .filter(|dir| has_both(dir))
        .map(Path::to_path_buf)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn unprivileged_user() -> Option<String> {
    ["nobody", "postgres", "daemon"]
        .into_iter()
        .find(|user| {
            Command::new("id")
                .arg("-u")
                .arg(user)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_owned)
}

fn primary_group(user: &str) -> Option<String> {
    let output = Command::new("id").arg("-g").arg(user).output().ok()?;
    let group = String::from_utf8(output.stdout).ok()?;
    Some(group.trim().to_owned()).filter(|g| !g.is_empty())
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}
