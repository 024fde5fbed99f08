//! Cases from the W3C Trace Context test suite (level 1), run against the service in-process: a
//! harness-like endpoint records what each callback received.

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;

type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

async fn harness() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = Router::new().route(
        "/callback",
        post(move |headers: HeaderMap| {
            let s = s.clone();
            async move {
                let get = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                s.lock()
                    .unwrap()
                    .push((get("traceparent"), get("tracestate")));
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (format!("http://{addr}/callback"), seen)
}

async fn service() -> String {
    trace_core::testing::install();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, tracecontext_service::app()).await.unwrap() });
    format!("http://{addr}/test")
}

async fn run(headers: &[(&str, &str)]) -> (Option<String>, Option<String>) {
    let (callback, seen) = harness().await;
    let svc = service().await;
    let mut req = reqwest::Client::new()
        .post(svc)
        .header("content-type", "application/json")
        .body(format!("[{{\"url\": \"{callback}\", \"arguments\": []}}]"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let got = seen.lock().unwrap().pop();
    got.expect("the callback was called")
}

const TID: &str = "12345678901234567890123456789012";
const PID: &str = "1234567890123456";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_id_is_kept_and_parent_id_is_mutated() {
    for flags in ["00", "01"] {
        let tp = format!("00-{TID}-{PID}-{flags}");
        let (out, _) = run(&[("traceparent", &tp)]).await;
        let out = out.expect("traceparent forwarded");
        let parts: Vec<&str> = out.split('-').collect();
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], TID);
        assert_ne!(parts[2], PID, "the parent id is the service's own span");
        assert_eq!(parts[3], flags, "the sampled flag is carried over");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_traceparents_start_a_new_trace() {
    for bad in [
        format!("00-{}-{PID}-01", "0".repeat(32)),
        format!("00-{TID}-{}-01", "0".repeat(16)),
        format!("00-{}-{PID}-01", TID.to_uppercase().replace('1', "A")),
        format!("ff-{TID}-{PID}-01"),
        format!("00-{TID}-{PID}-01-extra"),
        format!("00-{}-{PID}-01", &TID[..31]),
        "garbage".to_string(),
    ] {
        let (out, ts) = run(&[("traceparent", &bad), ("tracestate", "foo=1")]).await;
        let out = out.expect("a new traceparent is sent");
        assert!(!out.contains(TID), "{bad} was trusted: {out}");
        assert_eq!(
            ts, None,
            "a tracestate that came with an invalid traceparent is not forwarded"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_versions_are_read_as_version_00() {
    let tp = format!("cc-{TID}-{PID}-01-what-the-future-holds");
    let (out, _) = run(&[("traceparent", &tp)]).await;
    let out = out.unwrap();
    assert!(out.starts_with(&format!("00-{TID}-")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracestate_is_forwarded_when_valid_and_dropped_when_not() {
    let tp = format!("00-{TID}-{PID}-01");
    let (_, ts) = run(&[("traceparent", &tp), ("tracestate", "foo=1,bar=2")]).await;
    assert_eq!(ts.as_deref(), Some("foo=1,bar=2"));
    let (_, ts) = run(&[("traceparent", &tp), ("tracestate", "foo=1,foo=2")]).await;
    assert_eq!(ts, None, "duplicated keys");
    let (_, ts) = run(&[("traceparent", &tp), ("tracestate", "FOO=1")]).await;
    assert_eq!(ts, None, "upper-case key");
    let many: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let (_, ts) = run(&[("traceparent", &tp), ("tracestate", &many.join(","))]).await;
    assert_eq!(
        ts.as_deref(),
        Some(many.join(",").as_str()),
        "32 members are kept"
    );
    let (_, ts) = run(&[("traceparent", &tp), ("tracestate", "")]).await;
    assert_eq!(ts, None);
}
