//! The demo service: an axum API traced by `tower-trace`, exporting with `trace-init` (a console
//! waterfall by default; OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set).
//!
//! `cargo run -p demo` drives a few requests at itself, prints their traces, and keeps serving on
//! `127.0.0.1:3000` (`PORT` to change it). `cargo run -p demo -- --once` exits after the scenario.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::KeyValue;
use tower_trace::TraceLayer;
use trace_core::context_attributes::ContextAttributesExt;

#[tracing::instrument]
async fn load_profile(id: u64) -> String {
    tokio::time::sleep(Duration::from_millis(3)).await;
    tracing::info!(user.id = id, "profile loaded");
    format!("{{\"id\":{id},\"name\":\"user {id}\"}}")
}

async fn user(Path(id): Path<u64>) -> String {
    // Domain context set once: every span opened beneath carries it.
    load_profile(id)
        .with_context_attributes([KeyValue::new("user.id", id.to_string())])
        .await
}

async fn fail() -> (StatusCode, &'static str) {
    tracing::error!("the inventory service is unavailable");
    (StatusCode::INTERNAL_SERVER_ERROR, "inventory unavailable")
}

fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .route("/fail", get(fail))
        .route("/health", get(|| async { "ok" }))
        .layer(TraceLayer::new().exclude("/health"))
}

async fn scenario(addr: SocketAddr) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Body>();
    for path in ["/users/42", "/fail", "/health", "/nowhere"] {
        let req = http::Request::get(format!("http://{addr}{path}"))
            .body(Body::empty())
            .expect("request");
        match client.request(req).await {
            Ok(res) => {
                let trace = res
                    .headers()
                    .get("x-trace-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-")
                    .to_owned();
                let status = res.status();
                let _ = res.into_body().collect().await;
                tracing::info!(%path, %status, trace_id = %trace, "scenario request done");
            }
            Err(e) => tracing::warn!(%path, error = %e, "scenario request failed"),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = trace_init::builder()
        .service_name("demo")
        .service_version(env!("CARGO_PKG_VERSION"))
        .default_log_filter("info")
        .init()?;
    let once = std::env::args().any(|a| a == "--once");
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?,
    };
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "demo listening");
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app().into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    scenario(addr).await;
    // let the last response bodies finish and the waterfalls print
    tokio::time::sleep(Duration::from_millis(300)).await;
    if once {
        server.abort();
        drop(guard);
        return Ok(());
    }
    tracing::info!("scenario done; still serving on http://{addr} (Ctrl-C to stop)");
    tokio::signal::ctrl_c().await?;
    drop(guard);
    Ok(())
}
