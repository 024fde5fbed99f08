//! The middleware against a real axum server on loopback instrumented with tower-trace.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::{SpanKind, Status};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_trace::{DisablePropagation, TracingMiddleware, UrlTemplate};
use test_support::traced;
use trace_core::testing::{install, SpanDataExt};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn app() -> Router {
    let flaky = Arc::new(AtomicU32::new(0));
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/broken",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "late"
            }),
        )
        .route(
            "/flaky",
            get(move || {
                let n = flaky.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        )
        .route(
            "/echo-trace",
            get(|headers: HeaderMap| async move {
                let get = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-")
                        .to_string()
                };
                format!("{}|{}", get("traceparent"), get("tracestate"))
            }),
        )
        .layer(tower_trace::TraceLayer::new())
}

/// The trace's one client span.
fn client_span(trace: &trace_core::testing::Trace) -> &opentelemetry_sdk::trace::SpanData {
    let mut clients = trace
        .spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client);
    let c = clients.next().expect("a client span");
    assert!(clients.next().is_none(), "one client span");
    c
}

fn client() -> ClientWithMiddleware {
    ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .with(TracingMiddleware::new())
    .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_server_spans_are_one_trace() {
    install();
    let addr = serve(app()).await;
    let client = client();
    let trace = traced(2, || async {
        let res = client
            .get(format!("http://{addr}/users/42?page=2"))
            .with_extension(UrlTemplate::new("/users/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.text().await.unwrap(), "user");
    })
    .await;
    let root = trace.span("test");
    // (the server span has the same name)
    let c = client_span(&trace);
    assert_eq!(c.name, "GET /users/{id}");
    assert_eq!(c.parent_span_id, root.span_context.span_id());
    assert_eq!(c.str_attr("http.request.method"), "GET");
    assert_eq!(
        c.str_attr("url.full"),
        format!("http://{addr}/users/42?page=2")
    );
    assert_eq!(c.str_attr("url.template"), "/users/{id}");
    assert_eq!(c.str_attr("url.scheme"), "http");
    assert_eq!(c.str_attr("server.address"), "127.0.0.1");
    assert_eq!(c.int_attr("server.port"), i64::from(addr.port()));
    assert_eq!(c.int_attr("http.response.status_code"), 200);
    assert_eq!(c.str_attr("network.protocol.version"), "1.1");
    assert!(c.attr("http.request.resend_count").is_none());
    c.assert_declared(&[]);
    let server = trace
        .spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(
        server.parent_span_id,
        c.span_context.span_id(),
        "the server span is a child of the client span"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_captured_by_allow_list_and_redacted() {
    install();
    let app = Router::new().route(
        "/login",
        get(|| async {
            (
                [("set-cookie", "session=s3cr3t"), ("retry-after", "5")],
                "hi",
            )
        }),
    );
    let addr = serve(app).await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(
            TracingMiddleware::new()
                .capture_request_headers(["x-request-id", "authorization", "x-absent"])
                .capture_response_headers(["retry-after", "set-cookie"]),
        )
        .build();
    // (the server here has no layer: the client span is the only one under the test's root)
    let trace = traced(1, || async {
        client
            .get(format!("http://{addr}/login"))
            .header("x-request-id", "req-1")
            .header("authorization", "Bearer t0ken")
            .header("x-not-listed", "nope")
            .send()
            .await
            .unwrap();
    })
    .await;
    let c = client_span(&trace);
    let strings = |key: &str| match c.attr(key) {
        Some(opentelemetry::Value::Array(opentelemetry::Array::String(v))) => {
            v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>()
        }
        other => panic!("{key}: expected a string array, got {other:?}"),
    };
    assert_eq!(strings("http.request.header.x-request-id"), ["req-1"]);
    assert_eq!(strings("http.request.header.authorization"), ["REDACTED"]);
    assert_eq!(strings("http.response.header.retry-after"), ["5"]);
    assert_eq!(strings("http.response.header.set-cookie"), ["REDACTED"]);
    assert!(c.attr("http.request.header.x-absent").is_none());
    assert!(c.attr("http.request.header.x-not-listed").is_none());
    let dump = format!("{:?}", c.attributes);
    assert!(!dump.contains("t0ken") && !dump.contains("s3cr3t") && !dump.contains("nope"));
    c.assert_declared(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_signatures_are_redacted() {
    install();
    let addr = serve(app()).await;
    let client = client();
    let trace = traced(2, || async {
        client
            .get(format!(
                "http://alice:pa55word@{addr}/users/1?X-Amz-Signature=deadbeef&sig=s3cr3t&keep=1"
            ))
            .send()
            .await
            .unwrap();
    })
    .await;
    let c = client_span(&trace);
    // reqwest moves URL credentials into an Authorization header before middleware runs, so the
    // URL holds none; the signature parameters are redacted.
    assert_eq!(
        c.str_attr("url.full"),
        format!("http://{addr}/users/1?X-Amz-Signature=REDACTED&sig=REDACTED&keep=1")
    );
    let dump = format!("{:?}", trace.spans);
    for secret in ["pa55word", "alice", "deadbeef", "s3cr3t"] {
        assert!(!dump.contains(secret), "{secret} reached a span");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_and_transport_errors() {
    install();
    let addr = serve(app()).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let client = client();
    let trace = traced(6, || async {
        assert_eq!(
            client
                .get(format!("http://{addr}/missing"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        assert_eq!(
            client
                .get(format!("http://{addr}/broken"))
                .send()
                .await
                .unwrap()
                .status(),
            500
        );
        let refused = client
            .get(format!("http://{closed}/"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(&refused, reqwest_middleware::Error::Reqwest(e) if e.is_connect()));
        let timeout = client
            .get(format!("http://{addr}/slow"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(&timeout, reqwest_middleware::Error::Reqwest(e) if e.is_timeout()));
    })
    .await;
    let clients: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 4, "{}", trace.render());
    let by_type = |t: &str| {
        clients
            .iter()
            .find(|s| matches!(s.attr("error.type"), Some(v) if v.as_str() == t))
            .unwrap_or_else(|| panic!("no client span with error.type {t}: {}", trace.render()))
    };
    for t in ["404", "500", "connect", "timeout"] {
        assert!(
            matches!(by_type(t).status, Status::Error { .. }),
            "{t} is an error on a client span"
        );
    }
    assert_eq!(by_type("404").int_attr("http.response.status_code"), 404);
    // the server's 404 span is not an error
    let server404 = trace
        .spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server && s.name == "GET /missing")
        .unwrap();
    assert_eq!(server404.status, Status::Unset);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_retry_attempt_is_its_own_span_with_resend_count() {
    use reqwest_retry::policies::ExponentialBackoff;
    use reqwest_retry::RetryTransientMiddleware;
    install();
    let addr = serve(app()).await;
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
        .build_with_max_retries(3);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(policy))
        .with(TracingMiddleware::new())
        .build();
    let trace = traced(6, || async {
        let res = client
            .get(format!("http://{addr}/flaky"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    })
    .await;
    let mut attempts: Vec<_> = trace
        .spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    attempts.sort_by_key(|s| s.start_time);
    assert_eq!(attempts.len(), 3, "{}", trace.render());
    assert!(attempts[0].attr("http.request.resend_count").is_none());
    assert_eq!(attempts[1].int_attr("http.request.resend_count"), 1);
    assert_eq!(attempts[2].int_attr("http.request.resend_count"), 2);
    assert!(matches!(attempts[0].status, Status::Error { .. }));
    assert_eq!(attempts[2].status, Status::Unset);
    // each attempt reached the server as a child of that attempt
    for a in &attempts {
        assert_eq!(trace.children(a).len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_can_be_turned_off_per_request() {
    install();
    let addr = serve(app()).await;
    let client = client();
    let mut seen = String::new();
    let trace = traced(1, || async {
        seen = client
            .get(format!("http://{addr}/echo-trace"))
            .with_extension(DisablePropagation)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    })
    .await;
    assert_eq!(seen, "-|-", "no trace headers were sent");
    let c = client_span(&trace);
    assert!(
        trace.children(c).is_empty(),
        "the server started its own trace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_tracestate_from_upstream_is_not_forwarded_broken() {
    install();
    let downstream = serve(app()).await;
    let client = client();
    let relay = Router::new()
        .route(
            "/relay",
            get(move || {
                let client = client.clone();
                async move {
                    client
                        .get(format!("http://{downstream}/echo-trace"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            }),
        )
        .layer(tower_trace::TraceLayer::new());
    let relay_addr = serve(relay).await;
    let plain = reqwest::Client::new();
    for (sent, expected) in [
        ("vendor=ok,other=1", "vendor=ok,other=1"),
        ("bad===,,,=x", "-"),
        ("UPPER=1", "-"),
    ] {
        let body = plain
            .get(format!("http://{relay_addr}/relay"))
            .header(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )
            .header("tracestate", sent)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (tp, ts) = body.split_once('|').unwrap();
        assert!(
            tp.starts_with("00-0af7651916cd43dd8448eb211c80319c-"),
            "{tp}"
        );
        assert!(
            !tp.contains("b7ad6b7169203331"),
            "the parent id is this service's own"
        );
        assert_eq!(ts, expected, "sent {sent:?}");
    }
}
