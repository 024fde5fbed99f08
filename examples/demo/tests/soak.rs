//! A bounded soak on loopback: the demo (every adapter, every request sampled) as its own
//! process, exporting over OTLP/gRPC to a receiver that keeps span ids; 16 clients for 60 s.
//! Zero failed requests, a trace for every request (none dropped), every trace complete (no span
//! whose parent never arrived), resident memory of the service flat from the first to the last 10 s.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_seconds_of_load_lose_nothing_and_leak_nothing() {
    let receiver = Receiver::grpc();
    receiver.set_mode(Mode::Ids);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_demo"))
        .env("PORT", port.to_string())
        .env("REDIS_URL", "redis://127.0.0.1:6379/9")
        .env("DATABASE_URL", "sqlite::memory:")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the demo binary");
    let pid = child.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the demo came up");

    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(SECONDS);
    let mut clients = Vec::new();
    for c in 0..16u64 {
        let (client, base, ok, failed) = (client.clone(), base.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < deadline {
                i += 1;
                let path = format!("/users/{}", 1 + i % 3);
                let good = match client.get(format!("{base}{path}")).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if good {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut rss = Vec::new();
    while Instant::now() < deadline {
        rss.push(rss_kib(pid));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for c in clients {
        c.await.unwrap();
    }
    // SIGINT: the demo stops serving and flushes its pipeline
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            panic!("the demo did not exit after SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
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
    let first: u64 = rss[2..12].iter().sum::<u64>() / 10;
    let last: u64 = rss[rss.len() - 10..].iter().sum::<u64>() / 10;
    println!(
        "soak: {rps} req/s, {} spans, RSS first 10 s {first} KiB, last 10 s {last} KiB",
        ids.len()
    );
    assert!(
        last <= first + first / 5 + 4096,
        "RSS grew from {first} KiB to {last} KiB"
    );
}
