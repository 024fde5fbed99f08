//! `cargo run -p tracecontext-service` serves the W3C Trace Context harness protocol on
//! `127.0.0.1:$PORT` (default 5000) with the W3C propagator only.

use trace_init::{Exporter, Propagator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let _guard = trace_init::builder()
        .service_name("tracecontext-service")
        .propagators(vec![Propagator::TraceContext])
        .exporter(Exporter::None)
        .init()?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("tracecontext-service on http://127.0.0.1:{port}/test");
    axum::serve(listener, tracecontext_service::app()).await?;
    Ok(())
}
