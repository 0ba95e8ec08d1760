//! The throwaway PostgreSQL cluster: starts, hands out separate databases, and leaves nothing behind.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, ensure};
use latch_testkit::postgres::{TestPostgres, shared_postgres};

fn psql_query(psql: &Path, url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new(psql).args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).output()?;
    ensure!(output.status.success(), "psql {url} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

#[test]
fn shared_cluster_hands_out_separate_databases() -> anyhow::Result<()> {
    let Some(postgres) = shared_postgres()? else {
        return Ok(());
    };
    let first = postgres.fresh_database("cluster smoke")?;
    let second = postgres.fresh_database("cluster smoke")?;
    ensure!(first != second, "two fresh databases share a URL: {first}");

    ensure!(psql_query(postgres.psql_path(), &first, "select 1")? == "1");
    psql_query(postgres.psql_path(), &first, "create table marker (id integer)")?;
    let tables_in_second =
        psql_query(postgres.psql_path(), &second, "select count(*) from pg_tables where tablename = 'marker'")?;
    ensure!(tables_in_second == "0", "a table created in one fresh database shows up in another");

    let database = psql_query(postgres.psql_path(), &postgres.url(), "select current_database()")?;
    ensure!(database == "latch", "url() points at {database}");
    Ok(())
}

#[test]
fn dropped_cluster_stops_and_removes_its_directory() -> anyhow::Result<()> {
    if shared_postgres()?.is_none() {
        return Ok(());
    }
    let cluster = TestPostgres::start()?;
    let port = cluster.port();
    let root = cluster.root_dir().to_path_buf();
    ensure!(psql_query(cluster.psql_path(), &cluster.url(), "select 1")? == "1");
    drop(cluster);

    ensure!(!root.exists(), "{} still exists after drop", root.display());
    let refused = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err();
    ensure!(refused, "port {port} still accepts connections after drop");
    Ok(())
}

#[test]
fn watchdog_cleans_up_after_a_killed_process() -> anyhow::Result<()> {
    // Re-runs this test binary as a child that starts the shared cluster, prints where it is, then SIGKILLs itself:
    // no destructor, no exit handler runs.
    if std::env::var_os("LATCH_TESTKIT_PG_CHILD").is_some() {
        let Some(postgres) = shared_postgres()? else {
            return Ok(());
        };
        let mut stdout = std::io::stdout();
        writeln!(stdout, "\nlatch-pg-cluster {} {}", postgres.port(), postgres.root_dir().display())?;
        stdout.flush()?;
        Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status()?;
        std::process::exit(1);
    }
    if shared_postgres()?.is_none() {
        return Ok(());
    }
    let output = Command::new(std::env::current_exe()?)
        .args(["--exact", "watchdog_cleans_up_after_a_killed_process", "--nocapture", "--test-threads=1"])
        .env("LATCH_TESTKIT_PG_CHILD", "1")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("latch-pg-cluster "))
        .with_context(|| format!("child printed no cluster: {stdout}{}", String::from_utf8_lossy(&output.stderr)))?;
    let (port, root) = line.split_once(' ').context("malformed child line")?;
    let port: u16 = port.parse()?;

    // The watchdog polls nothing: it reacts to EOF, so a few seconds are ample for pg_ctl stop and rm -rf.
    for _ in 0..100 {
        let refused = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_err();
        if refused && !Path::new(root).exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("cluster on port {port} in {root} outlived its killed test process")
}
