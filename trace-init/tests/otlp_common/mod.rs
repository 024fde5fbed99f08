//! Shared by the OTLP export tests: a traced axum server, one request through it, and the checks on
//! what the receiver got.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use test_support::{Receiver, Value};

pub const INCOMING_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
pub const INCOMING_SPAN: &str = "b7ad6b7169203331";

#[tracing::instrument]
async fn lookup(order: u32) -> u32 {
    tracing::info!(order, "looked up");
    order * 2
}

/// Serves one request through the server layer and returns the `x-trace-id` it answered with.
pub async fn one_request() -> String {
    let app = Router::new()
        .route(
            "/orders/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                    lookup(id).await.to_string()
                },
            ),
        )
        .layer(tower_trace::TraceLayer::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    let req = http::Request::get(format!("http://{addr}/orders/21"))
        .header(
            "traceparent",
            format!("00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"),
        )
        .body(Body::empty())
        .unwrap();
    let res = client.request(req).await.unwrap();
    let trace_id = res.headers()["x-trace-id"].to_str().unwrap().to_owned();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "42");
    // the server span ends with the body; give the server a moment to finish it
    tokio::time::sleep(Duration::from_millis(50)).await;
    trace_id
}

/// Checks the received trace: names, kinds, typed attributes, parentage, resource, events.
pub fn check(receiver: &Receiver, service: &str) {
    let spans = receiver.wait_until(Duration::from_secs(10), |s| s.len() >= 2);
    let server = spans
        .iter()
        .find(|s| s.name == "GET /orders/{id}")
        .unwrap_or_else(|| panic!("no server span in {spans:#?}"));
    assert_eq!(server.kind, 2, "SERVER");
    assert_eq!(server.trace_id, INCOMING_TRACE);
    assert_eq!(server.parent_span_id, INCOMING_SPAN);
    assert_eq!(
        server.attr("http.response.status_code"),
        Some(&Value::Int(200))
    );
    assert!(matches!(server.attr("server.port"), Some(Value::Int(p)) if *p > 0));
    assert_eq!(
        server.attr("http.route"),
        Some(&Value::Str("/orders/{id}".into()))
    );
    assert_eq!(
        server.attr("url.path"),
        Some(&Value::Str("/orders/21".into()))
    );
    assert_eq!(
        server.resource_attr("service.name"),
        Some(&Value::Str(service.into()))
    );
    assert!(server.resource_attr("process.pid").is_some());
    let child = spans
        .iter()
        .find(|s| s.name == "lookup")
        .unwrap_or_else(|| panic!("no handler span in {spans:#?}"));
    assert_eq!(child.parent_span_id, server.span_id);
    assert_eq!(child.trace_id, INCOMING_TRACE);
    assert!(child.events.iter().any(|e| e == "looked up"));
    // the lean bridge settings: no thread/code/busy attributes
    assert!(child.attr("thread.id").is_none() && child.attr("busy_ns").is_none());
}
