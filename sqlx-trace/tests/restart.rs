//! PostgreSQL restarted under load: a PostgreSQL of the test's own (initdb into a temporary
//! directory, its own port) is stopped hard while queries run through the traced pool, then
//! started again. Every failed query returns sqlx's error and has an error span carrying that
//! error's message; queries succeed again once the server is back (`test_support::check_outage`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::TraceContextExt;
use sqlx::postgres::PgPoolOptions;
use sqlx_trace::TracedPool;
use test_support::{check_outage, Outcomes};
use trace_core::testing::install;

/// A PostgreSQL cluster of this test's own; stopped and removed on drop.
struct PrivatePg {
    dir: PathBuf,
    port: u16,
}

/// A PostgreSQL server binary: on the PATH, else in Debian's versioned directory.
fn pg_bin(name: &str) -> PathBuf {
    if let Ok(out) = Command::new("which").arg(name).output() {
        if out.status.success() {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries (initdb, pg_ctl)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    versions.sort();
    versions.pop().expect("initdb / pg_ctl")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The server refuses to run as root: run its tools as `postgres` then.
fn as_server_user(bin: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg_bin(bin));
        c
    } else {
        Command::new(pg_bin(bin))
    }
}

fn run(mut c: Command, what: &str) {
    let out = c
        .stdout(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePg {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("trace-pg-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&dir);
                    c
                },
                "chown",
            );
        }
        let mut init = as_server_user("initdb");
        init.arg("-D")
            .arg(&dir)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
        run(init, "initdb");
        let pg = Self { dir, port };
        pg.ctl_start();
        pg
    }

    fn ctl_start(&self) {
        let mut c = as_server_user("pg_ctl");
        c.arg("-D")
            .arg(&self.dir)
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.display()
            ))
            .args(["-w", "start"]);
        run(c, "pg_ctl start");
    }

    fn ctl_stop_immediately(&self) {
        let mut c = as_server_user("pg_ctl");
        c.arg("-D")
            .arg(&self.dir)
            .args(["-m", "immediate", "-w", "stop"]);
        run(c, "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let mut c = as_server_user("pg_ctl");
        c.arg("-D").arg(&self.dir).args(["-m", "immediate", "stop"]);
        let _ = c.stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    let pipeline = install();
    let pg = Arc::new(tokio::task::spawn_blocking(PrivatePg::start).await.unwrap());
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&pg.url())
        .await
        .expect("our PostgreSQL came up");
    let traced = TracedPool::new(pool);
    let outcomes: Arc<Mutex<Outcomes>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    // four concurrent query loops, all in one trace
    let load = {
        let (traced, outcomes, stop) = (traced.clone(), outcomes.clone(), stop.clone());
        trace_core::manual::Operation::new("load").run(async move {
            let worker = |n: i32| {
                let (traced, outcomes, stop) = (traced.clone(), outcomes.clone(), stop.clone());
                async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r: Result<i32, sqlx::Error> = sqlx::query_scalar("SELECT $1::int4")
                            .bind(n)
                            .fetch_one(&traced)
                            .await;
                        if let Ok(v) = &r {
                            assert_eq!(*v, n, "results are unchanged");
                        }
                        let failed = r.is_err();
                        outcomes
                            .lock()
                            .unwrap()
                            .push((Instant::now(), r.map(|_| ()).map_err(|e| e.to_string())));
                        if failed {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            };
            futures_util::future::join_all((0..4).map(worker)).await;
            opentelemetry::Context::current()
                .span()
                .span_context()
                .trace_id()
        })
    };
    let load = tokio::spawn(load);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = Instant::now();
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.ctl_stop_immediately())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.ctl_start())
        .await
        .unwrap();
    let restarted_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let trace_id = load.await.unwrap();

    let outcomes = outcomes.lock().unwrap().clone();
    let n = outcomes.len();
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(trace_id, n + 1))
        .await
        .unwrap();
    check_outage(
        &outcomes,
        stopped_at,
        restarted_at,
        &trace,
        "SELECT",
        pg.port,
    );
}
