//! Bounded soaks on loopback: the demo (every adapter, every request sampled) as its own process,
//! 16 clients. With a receiver that keeps span ids, for 60 s: zero failed requests, a trace for
//! every request (none dropped), every trace complete (no span whose parent never arrived),
//! resident memory of the service flat from the first to the last 10 s. Then, with the collector
//! unreachable for 30 s: zero failed requests, memory flat, and the lost spans reported in a
//! bounded number of log lines (not one per span). The two runs are one test so they never share
//! the machine.

use std::process::Child;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use test_support::{Mode, Receiver};

const SECONDS: u64 = 60;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

struct Demo {
    child: Child,
    pid: u32,
    base: String,
}

/// Starts the demo exporting to `endpoint`; its log lines (stdout) go to `log_to`.
async fn start_demo(endpoint: &str, log_to: std::process::Stdio) -> Demo {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_demo"))
        .env("PORT", port.to_string())
        .env("REDIS_URL", "redis://127.0.0.1:6379/9")
        .env("DATABASE_URL", "sqlite::memory:")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("RUST_LOG", "error,trace_core::export=warn")
        .stdout(log_to)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the demo binary");
    let pid = child.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            return Demo { child, pid, base };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the demo did not come up");
}

struct Load {
    ok: u64,
    failed: u64,
    /// RSS in KiB, once a second.
    rss: Vec<u64>,
    /// Request latencies in microseconds, sorted.
    latencies: Vec<u64>,
}

impl Load {
    fn percentile(&self, p: f64) -> u64 {
        let i = ((self.latencies.len() as f64 - 1.0) * p) as usize;
        self.latencies.get(i).copied().unwrap_or(0)
    }

    /// Mean RSS over seconds 2-11 and over the last 10 seconds.
    fn rss_first_last(&self) -> (u64, u64) {
        let first = self.rss[2..12].iter().sum::<u64>() / 10;
        let last = self.rss[self.rss.len() - 10..].iter().sum::<u64>() / 10;
        (first, last)
    }
}

/// 16 clients for `seconds` against the demo.
async fn drive(demo: &Demo, seconds: u64) -> Load {
    let client = reqwest::Client::new();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for c in 0..16u64 {
        let (client, base, ok, failed, latencies) = (
            client.clone(),
            demo.base.clone(),
            ok.clone(),
            failed.clone(),
            latencies.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut i = c;
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                i += 1;
                let path = format!("/users/{}", 1 + i % 3);
                let t = Instant::now();
                let good = match client.get(format!("{base}{path}")).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                mine.push(t.elapsed().as_micros() as u64);
                if good {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }
    let mut rss = Vec::new();
    while Instant::now() < deadline {
        rss.push(rss_kib(demo.pid));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for c in clients {
        c.await.unwrap();
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort_unstable();
    Load {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        rss,
        latencies,
    }
}

/// SIGINT: the demo stops serving and flushes its pipeline (bounded by its shutdown timeout).
async fn stop_demo(mut demo: Demo) {
    let _ = std::process::Command::new("kill")
        .args(["-INT", &demo.pid.to_string()])
        .status();
    let started = Instant::now();
    loop {
        if demo.child.try_wait().unwrap().is_some() {
            return;
        }
        if started.elapsed() > Duration::from_secs(15) {
            demo.child.kill().unwrap();
            panic!("the demo did not exit after SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_loses_nothing_and_leaks_nothing_with_the_collector_up_or_down() {
    // collector up, 60 s
    let receiver = Receiver::grpc();
    receiver.set_mode(Mode::Ids);
    let demo = start_demo(&receiver.endpoint(), std::process::Stdio::null()).await;
    let up = drive(&demo, SECONDS).await;
    stop_demo(demo).await;

    let (ok, failed) = (up.ok, up.failed);
    let rps = ok / SECONDS;
    assert_eq!(failed, 0, "{failed} failed requests out of {}", ok + failed);
    assert!(rps >= 300, "only {rps} requests/s");
    let ids = receiver.ids();
    assert!(
        ids.len() as u64 >= ok * 2,
        "{} spans for {ok} requests (a request makes at least 2)",
        ids.len()
    );
    // each request is its own trace (no caller context): one trace per request, plus the
    // scenario the demo drives at itself on start (its /health request makes none)
    let traces: std::collections::HashSet<&str> = ids.iter().map(|(t, _, _)| t.as_str()).collect();
    let scenario = demo::SCENARIO.iter().filter(|p| **p != "/health").count() as u64;
    assert_eq!(
        traces.len() as u64,
        ok + scenario,
        "a trace per request, none dropped"
    );
    let known: std::collections::HashSet<&str> = ids.iter().map(|(_, s, _)| s.as_str()).collect();
    let orphans = ids
        .iter()
        .filter(|(_, _, p)| !p.is_empty() && !known.contains(p.as_str()))
        .count();
    assert_eq!(orphans, 0, "{orphans} spans whose parent never arrived");
    let (first, last) = up.rss_first_last();
    println!(
        "soak, collector up: {rps} req/s, p50 {} us, p99 {} us, {} spans, RSS first 10 s {first} KiB, last 10 s {last} KiB",
        up.percentile(0.5),
        up.percentile(0.99),
        ids.len()
    );
    assert!(
        last <= first + first / 5 + 4096,
        "RSS grew from {first} KiB to {last} KiB"
    );

    // collector unreachable (nothing listens on its port), 30 s
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let log = std::env::temp_dir().join(format!("demo-soak-{}.log", std::process::id()));
    let log_file = std::fs::File::create(&log).unwrap();
    let demo = start_demo(&format!("http://127.0.0.1:{closed}"), log_file.into()).await;
    let down = drive(&demo, 30).await;
    stop_demo(demo).await;
    assert_eq!(down.failed, 0, "{} failed requests", down.failed);
    let (first, last) = down.rss_first_last();
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    let reports: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains("trace_core::export"))
        .collect();
    println!(
        "soak, collector down: {} req/s, p50 {} us, p99 {} us, RSS first 10 s {first} KiB, last 10 s {last} KiB, {} report lines",
        down.ok / 30,
        down.percentile(0.5),
        down.percentile(0.99),
        reports.len()
    );
    assert!(
        last <= first + first / 5 + 4096,
        "collector down: RSS grew from {first} KiB to {last} KiB"
    );
    // one report a minute at most, plus the last one at shutdown
    assert!(
        !reports.is_empty() && reports.len() <= 2,
        "lost spans are reported, not once per span: {reports:#?}"
    );
    assert!(
        reports.iter().all(|l| l.contains("failed exports")),
        "{reports:#?}"
    );
}
