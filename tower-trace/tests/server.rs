//! The server layer on a real axum server over loopback, read back as exported spans.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::Context;
use tower_trace::TraceLayer;
use trace_core::testing::{install, SpanDataExt};

const PARENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

fn traceparent() -> String {
    format!("00-{PARENT_TRACE}-{PARENT_SPAN}-01")
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn trace_id(&self) -> TraceId {
        let h = self.headers.get("x-trace-id").expect("x-trace-id header");
        TraceId::from_hex(h.to_str().unwrap()).unwrap()
    }
}

async fn send(req: Request<Body>) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let res = client.request(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

async fn get_path(addr: SocketAddr, path: &str) -> Reply {
    send(
        Request::get(format!("http://{addr}{path}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// A GET of `uri` carrying `traceparent`.
fn get_request(uri: &str, traceparent: &str) -> Request<Body> {
    Request::get(uri)
        .header("traceparent", traceparent)
        .body(Body::empty())
        .unwrap()
}

/// A GET whose caller sent `traceparent`.
async fn get_under(addr: SocketAddr, path: &str, traceparent: &str) -> Reply {
    send(get_request(&format!("http://{addr}{path}"), traceparent)).await
}

#[tracing::instrument]
async fn load_user(id: u32) -> String {
    tracing::info!(user = id, "loading user");
    format!("user {id}")
}

fn app(layer: TraceLayer) -> Router {
    routes().layer(layer)
}

fn routes() -> Router {
    Router::new()
        .route(
            "/users/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                    tracing::info!("handler started");
                    load_user(id).await
                },
            ),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/whoami",
            get(|| async {
                // The trace the handler runs in, as downstream adapters would see it, before
                // and after the handler waits once (the layer polls it again, in the same
                // context, whether or not the request has a span).
                let before = Context::current().span().span_context().clone();
                tokio::task::yield_now().await;
                let cx = Context::current();
                let sc = cx.span().span_context().clone();
                if sc != before {
                    return format!("context changed across a wait: {before:?} then {sc:?}");
                }
                format!("{}:{}", sc.trace_id(), sc.is_sampled())
            }),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/purge", any(|| async { "purged" }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_span_has_the_stable_attributes_with_their_types() {
    let pipeline = install();
    let addr = serve(app(TraceLayer::new())).await;
    let reply = send(
        Request::get(format!("http://{addr}/users/42?page=2&sig=secret"))
            .header("user-agent", "test-agent/1.0")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let trace = pipeline.wait_for_spans(reply.trace_id(), 2);
    let server = trace.span("GET /users/{id}");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(server.status, Status::Unset);
    assert_eq!(server.str_attr("http.request.method"), "GET");
    assert_eq!(server.str_attr("url.path"), "/users/42");
    assert_eq!(server.str_attr("url.query"), "page=2&sig=REDACTED");
    assert_eq!(server.str_attr("url.scheme"), "http");
    assert_eq!(server.str_attr("http.route"), "/users/{id}");
    assert_eq!(server.str_attr("server.address"), "127.0.0.1");
    assert_eq!(server.int_attr("server.port"), i64::from(addr.port()));
    assert_eq!(server.str_attr("client.address"), "127.0.0.1");
    assert_eq!(server.str_attr("network.peer.address"), "127.0.0.1");
    assert!(server.int_attr("network.peer.port") > 0);
    assert_eq!(server.str_attr("network.protocol.version"), "1.1");
    assert_eq!(server.str_attr("user_agent.original"), "test-agent/1.0");
    assert_eq!(server.int_attr("http.response.status_code"), 200);
    assert!(server.attr("error.type").is_none());
    server.assert_declared(&[]);
    assert_eq!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);

    // The handler's #[instrument] span nests under the server span, with its log event.
    let child = trace.span("load_user");
    assert_eq!(child.parent_span_id, server.span_context.span_id());
    assert!(child.events.iter().any(|e| e.name == "loading user"));
    // A log line outside any tracing span lands on the server span as an event.
    assert!(server.events.iter().any(|e| e.name == "handler started"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_traceparent_is_the_parent() {
    let pipeline = install();
    let addr = serve(app(TraceLayer::new())).await;
    let reply = send(
        Request::get(format!("http://{addr}/users/7"))
            .header("traceparent", traceparent())
            .header("tracestate", "vendor=abc")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.trace_id().to_string(), PARENT_TRACE);
    let trace = pipeline.wait_for_spans(reply.trace_id(), 2);
    let server = trace.span("GET /users/{id}");
    assert_eq!(server.parent_span_id.to_string(), PARENT_SPAN);
    assert!(server.parent_span_is_remote);
    assert_eq!(server.span_context.trace_state().header(), "vendor=abc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_rules_5xx_is_an_error_4xx_is_not() {
    let pipeline = install();
    let addr = serve(app(TraceLayer::new())).await;
    let fail = get_path(addr, "/fail").await;
    assert_eq!(fail.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(fail.body, "boom");
    let t = pipeline.wait_for_spans(fail.trace_id(), 1);
    let s = t.span("GET /fail");
    assert!(matches!(s.status, Status::Error { .. }));
    assert_eq!(s.str_attr("error.type"), "500");
    assert_eq!(s.int_attr("http.response.status_code"), 500);

    let missing = get_path(addr, "/missing").await;
    let t = pipeline.wait_for_spans(missing.trace_id(), 1);
    let s = t.span("GET /missing");
    assert_eq!(s.status, Status::Unset);
    assert!(s.attr("error.type").is_none());
    assert_eq!(s.int_attr("http.response.status_code"), 404);

    // No route matched: the name is the method alone.
    let nowhere = get_path(addr, "/no/such/route").await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    let t = pipeline.wait_for_spans(nowhere.trace_id(), 1);
    let s = t.span("GET");
    assert!(s.attr("http.route").is_none());
    assert_eq!(s.str_attr("url.path"), "/no/such/route");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_route_has_no_span_but_passes_context() {
    let pipeline = install();
    let layer = TraceLayer::new().exclude("/whoami").exclude("/health");
    let addr = serve(app(layer)).await;
    let reply = get_under(
        addr,
        "/whoami",
        "00-11111111111111111111111111111111-2222222222222222-01",
    )
    .await;
    assert_eq!(reply.body, "11111111111111111111111111111111:true");
    assert!(reply.headers.get("x-trace-id").is_none());
    let health = get_path(addr, "/health").await;
    assert_eq!(health.body, "ok");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tid = TraceId::from_hex("11111111111111111111111111111111").unwrap();
    assert!(pipeline.trace(tid).spans.is_empty());
    // (this server's spans only: other tests here export `GET /whoami` spans of their own)
    let port = opentelemetry::Value::I64(i64::from(addr.port()));
    assert!(pipeline
        .all_spans()
        .iter()
        .filter(|s| s.attr("server.port") == Some(&port))
        .all(|s| s.name != "GET /health" && s.name != "GET /whoami"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_sampling_ratio() {
    let pipeline = install();
    let layer = TraceLayer::new()
        .sample_route("/whoami", 0.0)
        .sample_route("/users/{id}", 1.0);
    let addr = serve(app(layer)).await;
    // Left out: no span, and the handler's context says "not sampled" so nothing beneath records.
    let reply = get_path(addr, "/whoami").await;
    let (tid, sampled) = std::str::from_utf8(&reply.body)
        .unwrap()
        .split_once(':')
        .unwrap();
    assert_eq!(sampled, "false");
    assert_eq!(reply.trace_id().to_string(), tid);
    let kept = get_path(addr, "/users/1").await;
    pipeline.wait_for_spans(kept.trace_id(), 2);
    let dropped = pipeline.trace(TraceId::from_hex(tid).unwrap());
    assert!(dropped.spans.is_empty(), "{}", dropped.render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_endpoint_starts_a_new_trace_and_links_the_caller() {
    let pipeline = install();
    let addr = serve(app(TraceLayer::new().public_endpoint(true))).await;
    let reply = send(
        Request::get(format!("http://{addr}/users/3"))
            .header("traceparent", traceparent())
            .header("baggage", "user.id=attacker")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let tid = reply.trace_id();
    assert_ne!(tid.to_string(), PARENT_TRACE);
    let trace = pipeline.wait_for_spans(tid, 2);
    let server = trace.span("GET /users/{id}");
    assert_eq!(server.parent_span_id, opentelemetry::trace::SpanId::INVALID);
    assert_eq!(server.links.links.len(), 1);
    let link = &server.links.links[0];
    assert_eq!(link.span_context.trace_id().to_string(), PARENT_TRACE);
    assert_eq!(link.span_context.span_id().to_string(), PARENT_SPAN);
    assert!(server.attr("user.id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_lasts_until_the_streamed_body_ends() {
    use std::sync::{Arc, Mutex};
    let pipeline = install();
    let last_chunk_at: Arc<Mutex<Option<SystemTime>>> = Arc::default();
    let marker = last_chunk_at.clone();
    let app = Router::new()
        .route(
            "/stream",
            get(move || {
                let marker = marker.clone();
                async move {
                    let stream = futures_util::stream::unfold(0u32, move |i| {
                        let marker = marker.clone();
                        async move {
                            if i == 3 {
                                return None;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            if i == 1 {
                                // code in a streaming body runs in the request's context
                                tracing::info!("streamed a chunk");
                            }
                            if i == 2 {
                                *marker.lock().unwrap() = Some(SystemTime::now());
                            }
                            Some((
                                Ok::<_, Infallible>(Bytes::from(format!("chunk{i}\n"))),
                                i + 1,
                            ))
                        }
                    });
                    Body::from_stream(stream)
                }
            }),
        )
        .route(
            "/broken",
            get(|| async {
                let stream = futures_util::stream::unfold(0u32, |i| async move {
                    match i {
                        0 => Some((Ok(Bytes::from_static(b"part")), 1)),
                        1 => {
                            tokio::time::sleep(Duration::from_millis(30)).await;
                            Some((Err(std::io::Error::other("disk on fire")), 2))
                        }
                        _ => None,
                    }
                });
                Body::from_stream(stream)
            }),
        )
        .layer(TraceLayer::new());
    let addr = serve(app).await;
    let reply = get_path(addr, "/stream").await;
    assert_eq!(reply.body, "chunk0\nchunk1\nchunk2\n");
    let trace = pipeline.wait_for_spans(reply.trace_id(), 1);
    let s = trace.span("GET /stream");
    assert_eq!(s.str_attr("url.path"), "/stream", "a static route's path");
    let last = last_chunk_at.lock().unwrap().expect("last chunk produced");
    // (span times come from trace-core's counter clock, `last` from the system clock: they may
    // differ by microseconds; a span ended with the headers would end 100 ms early)
    assert!(
        s.end_time + Duration::from_millis(1) >= last,
        "span ended before the last chunk was produced"
    );
    assert!(
        s.events.iter().any(|e| e.name == "streamed a chunk"),
        "a log line in the streaming body lands on the server span: {:?}",
        s.events
    );

    // An error in the body is recorded on the span (the client sees a broken response).
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let req = Request::get(format!("http://{addr}/broken"))
        .header(
            "traceparent",
            "00-55555555555555555555555555555555-6666666666666666-01",
        )
        .body(Body::empty())
        .unwrap();
    if let Ok(res) = client.request(req).await {
        assert!(res.into_body().collect().await.is_err());
    }
    let tid = TraceId::from_hex("55555555555555555555555555555555").unwrap();
    let t = pipeline.wait_for_spans(tid, 1);
    let s = t.span("GET /broken");
    assert!(matches!(s.status, Status::Error { .. }), "{:?}", s.status);
    assert!(s.attr("error.type").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_captured_by_allow_list_and_redacted() {
    let pipeline = install();
    let layer = TraceLayer::new()
        .capture_request_headers(["x-request-id", "authorization", "cookie", "x-binary"])
        .capture_response_headers(["content-type", "set-cookie"])
        .trace_id_header("x-correlation");
    let app = Router::new()
        .route(
            "/login",
            get(|| async { ([("set-cookie", "session=s3cr3t")], "hi") }),
        )
        .layer(layer);
    let addr = serve(app).await;
    let reply = send(
        Request::get(format!("http://{addr}/login"))
            .header("x-request-id", "req-1")
            .header("authorization", "Bearer t0ken")
            .header("cookie", "a=b")
            .header("x-binary", HeaderValue::from_bytes(&[0x80, 0xff]).unwrap())
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(reply.headers.get("x-trace-id").is_none());
    let tid = TraceId::from_hex(reply.headers["x-correlation"].to_str().unwrap()).unwrap();
    let t = pipeline.wait_for_spans(tid, 1);
    let s = t.span("GET /login");
    let dump = format!("{:?}", s.attributes);
    assert!(!dump.contains("t0ken") && !dump.contains("s3cr3t") && !dump.contains("a=b"));
    assert_eq!(
        s.attr("http.request.header.x-request-id").unwrap().as_str(),
        "[\"req-1\"]"
    );
    assert_eq!(
        s.attr("http.request.header.authorization")
            .unwrap()
            .as_str(),
        "[\"REDACTED\"]"
    );
    assert_eq!(
        s.attr("http.response.header.set-cookie").unwrap().as_str(),
        "[\"REDACTED\"]"
    );
    assert!(s.attr("http.response.header.content-type").is_some());
    assert!(s.attr("http.request.header.x-binary").is_none());
    s.assert_declared(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_trace_headers_and_methods_do_not_break_anything() {
    let pipeline = install();
    let addr = serve(app(TraceLayer::new())).await;
    let hostile: Vec<(&str, HeaderValue)> = vec![
        (
            "traceparent",
            HeaderValue::from_static("00-zzzz-00f067aa0ba902b7-01"),
        ),
        (
            "traceparent",
            HeaderValue::from_static("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        ),
        (
            "traceparent",
            HeaderValue::from_bytes(&[0xff, 0xfe, 0x41]).unwrap(),
        ),
        (
            "traceparent",
            HeaderValue::from_str(&"0".repeat(9000)).unwrap(),
        ),
        (
            "tracestate",
            HeaderValue::from_str(
                &(0..500)
                    .map(|i| format!("k{i}=v"))
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .unwrap(),
        ),
        (
            "baggage",
            HeaderValue::from_str(&"x".repeat(10_000)).unwrap(),
        ),
    ];
    for (name, value) in hostile {
        let reply = send(
            Request::get(format!("http://{addr}/users/9"))
                .header(name, value)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let t = pipeline.wait_for_spans(reply.trace_id(), 2);
        let s = t.span("GET /users/{id}");
        if name == "traceparent" {
            // ignored: a new root trace
            assert_eq!(s.parent_span_id, opentelemetry::trace::SpanId::INVALID);
        }
    }

    // A method outside the known set.
    let reply = send(
        Request::builder()
            .method(Method::from_bytes(b"PURGE").unwrap())
            .uri(format!("http://{addr}/purge"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.body, "purged");
    let t = pipeline.wait_for_spans(reply.trace_id(), 1);
    let s = t.span("HTTP /purge");
    assert_eq!(s.str_attr("http.request.method"), "_OTHER");
    assert_eq!(s.str_attr("http.request.method_original"), "PURGE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_error_is_recorded_and_returned_unchanged() {
    use tower::ServiceExt;
    let pipeline = install();
    #[derive(Debug)]
    struct Overloaded;
    impl std::fmt::Display for Overloaded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("overloaded")
        }
    }
    let svc = tower::service_fn(|_req: Request<Body>| async {
        Err::<http::Response<Body>, _>(Overloaded)
    });
    let svc = tower::Layer::layer(&TraceLayer::new(), svc);
    let req = get_request(
        "/anything",
        "00-33333333333333333333333333333333-4444444444444444-01",
    );
    let err = svc
        .oneshot(req)
        .await
        .err()
        .expect("the service's own error");
    assert_eq!(err.to_string(), "overloaded");
    let tid = TraceId::from_hex("33333333333333333333333333333333").unwrap();
    let t = pipeline.wait_for_spans(tid, 1);
    let s = t.span("GET");
    assert!(matches!(&s.status, Status::Error { description } if description == "overloaded"));
    assert!(s.str_attr("error.type").ends_with("Overloaded"));
    assert!(s.events.iter().any(|e| e.name == "exception"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allow_listed_baggage_reaches_spans_and_never_from_public_callers() {
    let pipeline = install();
    let trusted = serve(app(TraceLayer::new().baggage_attributes(["user.id"]))).await;
    let public = serve(app(TraceLayer::new()
        .baggage_attributes(["user.id"])
        .public_endpoint(true)))
    .await;
    for (addr, expect, tp) in [
        (
            trusted,
            Some("42"),
            "00-77777777777777777777777777777777-1111111111111111-01",
        ),
        (
            public,
            None,
            "00-88888888888888888888888888888888-1111111111111111-01",
        ),
    ] {
        let reply = send(
            Request::get(format!("http://{addr}/users/5"))
                .header("traceparent", tp)
                .header("baggage", "user.id=42,session=s3cr3t")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let trace = pipeline.wait_for_spans(reply.trace_id(), 2);
        let server = trace.span("GET /users/{id}");
        assert_eq!(
            server
                .attr("user.id")
                .map(|v| v.as_str().into_owned())
                .as_deref(),
            expect
        );
        assert!(server.attr("session").is_none());
        server.assert_declared(&["user.id"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_recorded_and_the_server_keeps_serving() {
    let pipeline = install();
    let app = Router::new()
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("handler exploded")
                } else {
                    "never"
                }
            }),
        )
        .route("/users/{id}", get(|| async { "user" }))
        .layer(TraceLayer::new());
    let addr = serve(app).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let req = Request::get(format!("http://{addr}/boom"))
        .header(
            "traceparent",
            "00-99999999999999999999999999999999-1111111111111111-01",
        )
        .body(Body::empty())
        .unwrap();
    assert!(
        client.request(req).await.is_err(),
        "the connection is dropped by the panic"
    );
    let tid = TraceId::from_hex("99999999999999999999999999999999").unwrap();
    let t = pipeline.wait_for_spans(tid, 1);
    let s = t.span("GET /boom");
    assert!(matches!(s.status, Status::Error { .. }));
    assert_eq!(s.str_attr("error.type"), "panic");
    // and the next request is served
    assert_eq!(get_path(addr, "/users/1").await.body, "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_body_ends_the_span_without_an_error() {
    let pipeline = install();
    let app = Router::new()
        .route(
            "/endless",
            get(|| async {
                let stream = futures_util::stream::unfold(0u64, |i| async move {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Some((
                        Ok::<_, Infallible>(Bytes::from(format!("event {i}\n"))),
                        i + 1,
                    ))
                });
                Body::from_stream(stream)
            }),
        )
        .layer(TraceLayer::new());
    let addr = serve(app).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let req = Request::get(format!("http://{addr}/endless"))
        .header(
            "traceparent",
            "00-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-1111111111111111-01",
        )
        .body(Body::empty())
        .unwrap();
    let res = client.request(req).await.unwrap();
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    drop(client);
    let tid = TraceId::from_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
    let t = pipeline.wait_for_spans(tid, 1);
    let s = t.span("GET /endless");
    assert_eq!(
        s.status,
        Status::Unset,
        "a caller that goes away is not an error"
    );
    assert_eq!(s.int_attr("http.response.status_code"), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_headers_and_odd_paths_are_handled() {
    let pipeline = install();
    let addr = serve(app(TraceLayer::new().capture_request_headers(["x-h-1"]))).await;
    // hyper refuses this many headers before the layer sees them; nothing panics
    let mut b = Request::get(format!("http://{addr}/users/1"));
    for i in 0..2000 {
        b = b.header(format!("x-h-{i}"), "v");
    }
    let reply = send(b.body(Body::empty()).unwrap()).await;
    assert!(reply.status.is_client_error(), "{}", reply.status);
    // control characters and long paths in the query
    let q = format!("a=%00%01%1b&long={}", "x".repeat(10_000));
    let reply = send(
        Request::get(format!("http://{addr}/users/1?{q}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let t = pipeline.wait_for_spans(reply.trace_id(), 2);
    let s = t.span("GET /users/{id}");
    assert!(
        s.str_attr("url.query").len() <= trace_core::limits::DEFAULT_MAX_VALUE_LEN,
        "bounded"
    );
}

/// `axum_body()`: the same spans, context and header; bodies without a span are the handler's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_body_mode_keeps_spans_context_and_bodies() {
    let pipeline = install();
    let layer = TraceLayer::new()
        .exclude("/health")
        .sample_route("/whoami", 0.0)
        .axum_body();
    let streamed = Router::new().route(
        "/stream",
        get(|| async {
            let stream = futures_util::stream::unfold(0u32, |i| async move {
                if i == 2 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(60)).await;
                Some((
                    Ok::<_, Infallible>(Bytes::from(format!("chunk{i}\n"))),
                    i + 1,
                ))
            });
            Body::from_stream(stream)
        }),
    );
    let addr = serve(routes().merge(streamed).layer(layer)).await;

    // sampled: the span with its attributes, ended with the body
    let reply = get_path(addr, "/users/42").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user 42");
    let trace = pipeline.wait_for_spans(reply.trace_id(), 2);
    let server = trace.span("GET /users/{id}");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(server.int_attr("http.response.status_code"), 200);
    let stream = get_path(addr, "/stream").await;
    assert_eq!(stream.body, "chunk0\nchunk1\n");
    let t = pipeline.wait_for_spans(stream.trace_id(), 1);
    let s = t.span("GET /stream");
    let took = s.end_time.duration_since(s.start_time).unwrap();
    assert!(
        took >= Duration::from_millis(110),
        "ended with the last chunk: {took:?}"
    );

    // not sampled: no span, the handler in a not-sampled context, the trace id returned
    let reply = get_path(addr, "/whoami").await;
    let (tid, sampled) = std::str::from_utf8(&reply.body)
        .unwrap()
        .split_once(':')
        .unwrap();
    assert_eq!(sampled, "false");
    assert_eq!(reply.trace_id().to_string(), tid);

    // excluded: the caller's context reaches the handler, the body is the handler's
    let reply = get_under(
        addr,
        "/health",
        "00-7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a-2222222222222222-01",
    )
    .await;
    assert_eq!(reply.body, "ok");
    assert!(reply.headers.get("x-trace-id").is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    for t in ["7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a", tid] {
        let spans = pipeline.trace(TraceId::from_hex(t).unwrap()).spans;
        assert!(spans.is_empty(), "{t}: {spans:?}");
    }
}

/// A layer whose service notes the span context current when its `call` runs (before any
/// polling), as a middleware that logs in `call` would see it.
#[derive(Clone)]
struct NoteCallContext(std::sync::Arc<std::sync::Mutex<Vec<SpanContext>>>);

impl<S> tower::Layer<S> for NoteCallContext {
    type Service = NoteCallContextService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        NoteCallContextService(inner, self.0.clone())
    }
}

#[derive(Clone)]
struct NoteCallContextService<S>(S, std::sync::Arc<std::sync::Mutex<Vec<SpanContext>>>);

impl<S: tower::Service<Request<Body>>> tower::Service<Request<Body>> for NoteCallContextService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, req: Request<Body>) -> S::Future {
        let current = Context::current().span().span_context().clone();
        self.1.lock().unwrap().push(current);
        self.0.call(req)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_inside_the_layer_are_called_in_the_request_context() {
    use tower::ServiceExt;
    let pipeline = install();
    let noted = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let noted_last = || noted.lock().unwrap().pop().expect("the inner call ran");
    // under axum: a layer added before this one runs inside the route this layer wraps, in the
    // server span's context
    let addr = serve(
        routes()
            .layer(NoteCallContext(noted.clone()))
            .layer(TraceLayer::new()),
    )
    .await;
    let reply = get_under(
        addr,
        "/whoami",
        "00-abababababababababababababababab-1111111111111111-01",
    )
    .await;
    let seen = noted_last();
    let trace = pipeline.wait_for_spans(reply.trace_id(), 1);
    let server = trace.span("GET /whoami");
    assert_eq!(seen.trace_id(), server.span_context.trace_id());
    assert_eq!(seen.span_id(), server.span_context.span_id());
    // not sampled: the caller's context is current all the same
    let reply = get_under(
        addr,
        "/whoami",
        "00-55555555555555555555555555555555-6666666666666666-00",
    )
    .await;
    let seen = noted_last();
    assert_eq!(seen.trace_id(), reply.trace_id());
    assert!(!seen.is_sampled());

    // any other service: its `call` itself runs in the server span's context
    let svc = tower::Layer::layer(
        &NoteCallContext(noted.clone()),
        tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        }),
    );
    let svc = tower::Layer::layer(&TraceLayer::new(), svc);
    let req = get_request(
        "/plain",
        "00-cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd-1111111111111111-01",
    );
    let res = svc.oneshot(req).await.unwrap();
    let tid = TraceId::from_hex("cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd").unwrap();
    assert_eq!(res.headers()["x-trace-id"], tid.to_string().as_str());
    // (the span ends with the response body)
    drop(res);
    let seen = noted_last();
    let trace = pipeline.wait_for_spans(tid, 1);
    assert_eq!(seen.span_id(), trace.span("GET").span_context.span_id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_does_not_sample_gets_no_span_whatever_the_settings() {
    let pipeline = install();
    // the default settings (nothing reads the route: the caller's flags are acted on first) and
    // settings that read the route and the baggage (the request goes the whole way round)
    let layers = [
        ("default", TraceLayer::new()),
        (
            "per-route settings",
            TraceLayer::new()
                .exclude("/health")
                .sample_route("/users/{id}", 0.5)
                .baggage_attributes(["tenant.id"]),
        ),
    ];
    for (i, (what, layer)) in layers.into_iter().enumerate() {
        let addr = serve(routes().layer(layer)).await;
        let tid = format!(
            "{:032x}",
            0x0dd0_0000_0000_0000_0000_0000_0000_0000u128 + i as u128
        );
        let req = Request::get(format!("http://{addr}/whoami"))
            .header("traceparent", format!("00-{tid}-1212121212121212-00"))
            .header("baggage", "tenant.id=acme")
            .body(Body::empty())
            .unwrap();
        let reply = send(req).await;
        assert_eq!(reply.status, StatusCode::OK, "{what}");
        // the caller's trace id comes back, and the handler runs in the caller's trace, not
        // sampled (so nothing beneath it records either)
        assert_eq!(reply.trace_id().to_string(), tid, "{what}");
        assert_eq!(
            std::str::from_utf8(&reply.body).unwrap(),
            format!("{tid}:false"),
            "{what}"
        );
        // a sampled request through the same layer is exported: the pipeline is live (another
        // route: a test beside this one checks that no `/whoami` span is ever exported)
        let other = format!(
            "{:032x}",
            0x0dd1_0000_0000_0000_0000_0000_0000_0000u128 + i as u128
        );
        let sampled = get_under(addr, "/missing", &format!("00-{other}-1212121212121212-01")).await;
        pipeline.wait_for_spans(sampled.trace_id(), 1);
        let spans = pipeline.trace(TraceId::from_hex(&tid).unwrap()).spans;
        assert!(spans.is_empty(), "{what}: {spans:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampler_that_keeps_no_root_still_gives_each_request_a_trace_id() {
    use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider};
    use trace_core::tracer::{KnownSampler, RootSampler, Tracer};
    install();
    // `traceidratio` 0 and `parentbased_always_off`, each with the default settings (the request
    // is known dropped before its route is read) and with per-route settings (the whole way)
    for (known, sdk) in [
        (
            KnownSampler::TraceIdRatio(0.0),
            Sampler::TraceIdRatioBased(0.0),
        ),
        (
            KnownSampler::ParentBased(RootSampler::AlwaysOff),
            Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        ),
    ] {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .with_sampler(sdk)
            .build();
        let tracer = || Tracer::from_provider("tower-trace", &provider, Some(known));
        for (what, layer) in [
            ("default", TraceLayer::new().with_tracer(tracer())),
            (
                "per-route settings",
                TraceLayer::new().with_tracer(tracer()).exclude("/health"),
            ),
        ] {
            let addr = serve(routes().layer(layer)).await;
            let reply = get_path(addr, "/whoami").await;
            assert_eq!(reply.status, StatusCode::OK, "{known:?} {what}");
            // a trace id of its own, current in the handler (for its logs and calls), not
            // sampled, and returned in `x-trace-id`
            let tid = reply.trace_id();
            assert_ne!(tid, TraceId::INVALID, "{known:?} {what}");
            assert_eq!(
                std::str::from_utf8(&reply.body).unwrap(),
                format!("{tid}:false"),
                "{known:?} {what}"
            );
            // a caller that samples: kept under `parentbased_always_off`; under `traceidratio` 0
            // dropped all the same, and the handler (and the calls beneath it) then see the
            // caller's trace not sampled, not the caller's "sampled"
            let caller = TraceId::from(0x5eed_u128 << 64 | tid_low(tid));
            let reply =
                get_under(addr, "/whoami", &format!("00-{caller}-1212121212121212-01")).await;
            let kept = matches!(known, KnownSampler::ParentBased(_));
            assert_eq!(reply.trace_id(), caller, "{known:?} {what}");
            assert_eq!(
                std::str::from_utf8(&reply.body).unwrap(),
                format!("{caller}:{kept}"),
                "{known:?} {what}"
            );
        }
        provider.force_flush().unwrap();
        let spans = exporter.get_finished_spans().unwrap();
        // only the two sampled callers under `parentbased_always_off` made spans
        let expected = if matches!(known, KnownSampler::ParentBased(_)) {
            2
        } else {
            0
        };
        assert_eq!(spans.len(), expected, "{known:?}: {spans:?}");
        assert!(spans.iter().all(|s| s.name == "GET /whoami"));
    }
}

/// The low 64 bits of a trace id, to make distinct caller ids from it.
fn tid_low(tid: TraceId) -> u128 {
    u128::from_be_bytes(tid.to_bytes()) & u128::from(u64::MAX)
}
