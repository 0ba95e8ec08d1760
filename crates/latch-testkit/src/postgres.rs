//! A throwaway PostgreSQL cluster for tests.
//!
//! `shared_postgres()` starts one cluster per test process on first use; each test then asks it for its own empty
//! database with `fresh_database`. The cluster listens on 127.0.0.1 only, on a free port, with trust authentication,
//! and keeps everything (data, socket, log) in one temporary directory.
//!
//! `initdb` refuses to run as root, so under root the cluster runs as the system user `latch-pg` (created on first
//! use). A watchdog process, started next to the server, stops it and removes its directory as soon as the test
//! process is gone, however it ended: a cluster kept in a `static` never runs `Drop`.

use crate::process::{Watchdog, describe_output};
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, fs, thread};

use anyhow::{Context, bail};

/// The OS user that owns and runs test clusters when the tests run as root.
const CLUSTER_OS_USER: &str = "latch-pg";
/// When set to "1", missing PostgreSQL binaries fail `shared_postgres` instead of skipping (CI sets it).
const REQUIRE_ENV: &str = "LATCH_REQUIRE_POSTGRES";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const PORT_ATTEMPTS: usize = 5;
/// Unix socket paths are limited to 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A running PostgreSQL cluster in a temporary directory; stopped and removed on drop.
#[derive(Debug)]
pub struct TestPostgres {
    binaries: PostgresBinaries,
    run_as: RunAs,
    port: u16,
    data_dir: PathBuf,
    /// Held for its `Drop`, which runs before `root`'s: stops the server (again) and removes the directory.
    _watchdog: Watchdog,
    root: tempfile::TempDir,
}

impl TestPostgres {
    /// Starts a fresh cluster on 127.0.0.1 and a free port, as an unprivileged OS user, creates database `latch`, and
    /// returns once the server accepts connections (bounded by 30 s).
    pub fn start() -> anyhow::Result<TestPostgres> {
        let binaries = PostgresBinaries::find()?;
        let run_as = RunAs::for_current_process()?;
        let root = create_cluster_root(run_as)?;
        let data_dir = root.path().join("data");
        // From here on, whatever happens to this process, the watchdog cleans up after it.
        let watchdog = spawn_watchdog(&binaries, run_as, root.path(), &data_dir)?;
        init_cluster(&binaries, run_as, root.path(), &data_dir)?;

        let started = Instant::now();
        let port = start_on_free_port(&binaries, run_as, root.path(), &data_dir)?;
        let cluster = TestPostgres { binaries, run_as, port, data_dir, _watchdog: watchdog, root };
        cluster.wait_until_ready(started + START_TIMEOUT)?;
        cluster.create_database("latch")?;
        Ok(cluster)
    }

    /// `postgres://postgres@127.0.0.1:PORT/latch` (trust authentication, loopback only).
    pub fn url(&self) -> String {
        self.database_url("latch")
    }

    /// Creates another empty database and returns its URL, so that each test gets its own database on one cluster.
    /// The name is `name_hint` reduced to `[a-z0-9_]` plus a unique suffix.
    pub fn fresh_database(&self, name_hint: &str) -> anyhow::Result<String> {
        let name = unique_database_name(name_hint);
        self.create_database(&name)?;
        Ok(self.database_url(&name))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data directory, the server's socket and its log (`server.log`).
    pub fn root_dir(&self) -> &Path {
        self.root.path()
    }

    /// The `psql` that belongs to this server, for tests that want to look at a database from outside.
    pub fn psql_path(&self) -> &Path {
        &self.binaries.psql
    }

    fn database_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn psql(&self, database: &str, sql: &str) -> Command {
        let mut command = Command::new(&self.binaries.psql);
        command
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .arg("-c")
            .arg(sql);
        clear_libpq_environment(&mut command);
        command
    }

    fn wait_until_ready(&self, deadline: Instant) -> anyhow::Result<()> {
        loop {
            let output = self.psql("postgres", "SELECT 1").output().context("running psql")?;
            if output.status.success() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "postgres on port {} did not accept connections within {START_TIMEOUT:?}: {}\n{}",
                    self.port,
                    describe_output(&output),
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn create_database(&self, name: &str) -> anyhow::Result<()> {
        let sql = format!("CREATE DATABASE {}", quote_identifier(name));
        let output = self.psql("postgres", &sql).output().context("running psql")?;
        if !output.status.success() {
            bail!("creating database {name:?} failed: {}", describe_output(&output));
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        server_log_tail(self.root.path())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = pg_ctl_stop(&self.binaries, self.run_as, self.root.path(), &self.data_dir).output();
        // Then the fields drop: the watchdog removes the directory, and `root` (TempDir) whatever is left.
    }
}

/// The cluster's watchdog, running as the cluster's user: stops the server and removes the cluster's directory (a
/// cluster in a `static` is never dropped: the end of the test process is its EOF).
fn spawn_watchdog(
    binaries: &PostgresBinaries,
    run_as: RunAs,
    root: &Path,
    data_dir: &Path,
) -> anyhow::Result<Watchdog> {
    const SCRIPT: &str = r#"cat >/dev/null; "$1" -D "$2" stop -m immediate >/dev/null 2>&1; rm -rf "$3""#;
    let mut sh = run_as.command(Path::new("sh"));
    sh.current_dir(root);
    let args = [binaries.pg_ctl.as_os_str(), data_dir.as_os_str(), root.as_os_str()];
    Watchdog::spawn(sh, "latch-pg-watchdog", SCRIPT, &args)
}

/// One cluster per test process, started on first use.
///
/// Returns `Ok(None)` (and says why, once) when no PostgreSQL server binaries are installed, unless the environment
/// variable `LATCH_REQUIRE_POSTGRES` is `1`: then that is an error, as is any failure to start the cluster.
pub fn shared_postgres() -> anyhow::Result<Option<&'static TestPostgres>> {
    static SHARED: OnceLock<Result<Option<TestPostgres>, String>> = OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let required = env::var(REQUIRE_ENV).is_ok_and(|value| value == "1");
        if !required && let Err(missing) = PostgresBinaries::find() {
            eprintln!("latch-testkit: skipping PostgreSQL tests: {missing:#} (set {REQUIRE_ENV}=1 to fail instead)");
            return Ok(None);
        }
        TestPostgres::start().map(Some).map_err(|error| format!("{error:#}"))
    });
    match shared {
        Ok(cluster) => Ok(cluster.as_ref()),
        Err(message) => bail!("starting the shared test postgres failed: {message}"),
    }
}

/// The programs of one PostgreSQL installation.
#[derive(Debug, Clone)]
struct PostgresBinaries {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    psql: PathBuf,
}

impl PostgresBinaries {
    /// `initdb` on PATH first (following symlinks to its real directory, where its siblings live), else the highest
    /// version under /usr/lib/postgresql/*/bin (Debian's layout, not on PATH).
    fn find() -> anyhow::Result<PostgresBinaries> {
        let bin_dir = match find_on_path("initdb") {
            Some(initdb) => fs::canonicalize(&initdb)?.parent().map(Path::to_path_buf).unwrap_or_default(),
            None => highest_debian_bin_dir().context(
                "no PostgreSQL server binaries: initdb is neither on PATH nor in /usr/lib/postgresql/*/bin \
                 (scripts/install-test-deps.sh installs them)",
            )?,
        };
        let tool = |name: &str| -> anyhow::Result<PathBuf> {
            let sibling = bin_dir.join(name);
            if is_executable(&sibling) {
                return Ok(sibling);
            }
            find_on_path(name).with_context(|| format!("found initdb in {} but no {name}", bin_dir.display()))
        };
        Ok(PostgresBinaries { initdb: tool("initdb")?, pg_ctl: tool("pg_ctl")?, psql: tool("psql")? })
    }
}

/// Whether cluster programs run directly or, under root, through `runuser` as the cluster's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunAs {
    CurrentUser,
    ClusterUser,
}

impl RunAs {
    fn for_current_process() -> anyhow::Result<RunAs> {
        // /proc/self is owned by the process's effective uid.
        let euid = fs::metadata("/proc/self").context("reading /proc/self")?.uid();
        if euid != 0 {
            return Ok(RunAs::CurrentUser);
        }
        ensure_cluster_user()?;
        Ok(RunAs::ClusterUser)
    }

    fn command(self, program: &Path) -> Command {
        match self {
            RunAs::CurrentUser => Command::new(program),
            RunAs::ClusterUser => {
                let mut command = Command::new("runuser");
                command.args(["-u", CLUSTER_OS_USER, "--"]).arg(program);
                command
            }
        }
    }
}

/// Creates the system user `latch-pg` if it does not exist (tolerating a concurrent test process doing the same).
fn ensure_cluster_user() -> anyhow::Result<()> {
    if cluster_user_exists() {
        return Ok(());
    }
    let output = Command::new("useradd")
        .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", CLUSTER_OS_USER])
        .output()
        .context("running useradd")?;
    if output.status.success() || cluster_user_exists() {
        return Ok(());
    }
    bail!("creating the OS user {CLUSTER_OS_USER} failed: {}", describe_output(&output))
}

fn cluster_user_exists() -> bool {
    Command::new("id")
        .arg("-u")
        .arg(CLUSTER_OS_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A temporary directory the cluster's user owns. Under root it is made in /tmp (root's TMPDIR may be private);
/// either way the socket path inside it must stay short.
fn create_cluster_root(run_as: RunAs) -> anyhow::Result<tempfile::TempDir> {
    let parent = match run_as {
        RunAs::CurrentUser => env::temp_dir(),
        RunAs::ClusterUser => PathBuf::from("/tmp"),
    };
    let root = tempfile::Builder::new().prefix("latch-pg-").tempdir_in(&parent).context("creating a temp dir")?;
    let socket_path_len = root.path().join(".s.PGSQL.65535").as_os_str().len();
    if socket_path_len > MAX_SOCKET_PATH {
        bail!("temp dir {} is too long for a unix socket path; set TMPDIR to a shorter one", root.path().display());
    }
    if run_as == RunAs::ClusterUser {
        let owner = format!("{CLUSTER_OS_USER}:");
        let output = Command::new("chown").arg(&owner).arg(root.path()).output().context("running chown")?;
        if !output.status.success() {
            bail!("chown {owner} {} failed: {}", root.path().display(), describe_output(&output));
        }
    }
    Ok(root)
}

fn init_cluster(binaries: &PostgresBinaries, run_as: RunAs, root: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let output = run_as
        .command(&binaries.initdb)
        .arg("-D")
        .arg(data_dir)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .context("running initdb")?;
    if !output.status.success() {
        bail!("initdb failed: {}", describe_output(&output));
    }
    Ok(())
}

/// Picks a free port (bind 127.0.0.1:0, release it) and starts the server there; another process may take the port
/// in between, so a failed start is retried with another port.
fn start_on_free_port(binaries: &PostgresBinaries, run_as: RunAs, root: &Path, data_dir: &Path) -> anyhow::Result<u16> {
    let mut failures = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        let port = free_loopback_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c full_page_writes=off \
             -c synchronous_commit=off",
            shell_quote(&root.to_string_lossy())
        );
        let output = run_as
            .command(&binaries.pg_ctl)
            .arg("-D")
            .arg(data_dir)
            .args(["-o", &options, "-w", "-t", "30", "-l"])
            .arg(root.join("server.log"))
            .arg("start")
            .current_dir(root)
            .stdin(Stdio::null())
            .output()
            .context("running pg_ctl start")?;
        if output.status.success() {
            return Ok(port);
        }
        failures.push(format!("port {port}: {}\n{}", describe_output(&output), server_log_tail(root)));
        // A server that came up late after a timeout must not keep the data directory locked.
        let _ = pg_ctl_stop(binaries, run_as, root, data_dir).output();
    }
    bail!("pg_ctl start failed {PORT_ATTEMPTS} times:\n{}", failures.join("\n"))
}

fn pg_ctl_stop(binaries: &PostgresBinaries, run_as: RunAs, root: &Path, data_dir: &Path) -> Command {
    let mut command = run_as.command(&binaries.pg_ctl);
    command.arg("-D").arg(data_dir).args(["stop", "-m", "immediate", "-w"]).current_dir(root).stdin(Stdio::null());
    command
}

fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}

fn unique_database_name(name_hint: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut base: String = name_hint
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' { c } else { '_' })
        .take(32)
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        base.insert(0, 't');
        base.insert(1, '_');
    }
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.subsec_nanos()).unwrap_or(0);
    // At most 32 + 1 + 20 + 1 + 8 bytes: inside PostgreSQL's 63-byte identifier limit.
    format!("{base}_{counter}_{nanos:08x}")
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes for the shell that `pg_ctl` hands its `-o` options to.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// libpq reads these; a developer's own settings must not redirect or alter the test connections.
fn clear_libpq_environment(command: &mut Command) {
    for name in ["PGDATA", "PGOPTIONS", "PGSERVICE", "PGSERVICEFILE", "PGSSLMODE", "PGPASSFILE", "PGCONNECT_TIMEOUT"] {
        command.env_remove(name);
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

fn highest_debian_bin_dir() -> Option<PathBuf> {
    let versions = fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            is_executable(&bin.join("initdb")).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|metadata| metadata.is_file() && metadata.mode() & 0o111 != 0)
}

fn server_log_tail(root: &Path) -> String {
    let mut log = String::new();
    let read = fs::File::open(root.join("server.log")).and_then(|mut file| file.read_to_string(&mut log));
    if read.is_err() {
        return String::from("(no server log)");
    }
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    format!("server log (last lines):\n{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_sanitized_and_unique() {
        let first = unique_database_name("Store: users/ROLES");
        let second = unique_database_name("Store: users/ROLES");
        assert_ne!(first, second);
        assert!(first.starts_with("store__users_roles_"), "{first}");
        assert!(first.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{first}");
        assert!(unique_database_name("9lives").starts_with("t_9lives_"));
        assert!(unique_database_name("").starts_with("t__"));
        assert!(unique_database_name(&"x".repeat(200)).len() <= 63);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(shell_quote("/tmp/it's"), r"'/tmp/it'\''s'");
    }
}
