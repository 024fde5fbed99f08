//! `cargo run -p demo`: starts the demo, drives its scenario at itself, prints every trace as a
//! waterfall (or exports it over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set), then keeps
//! serving. `--once` exits after the scenario, flushing everything.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let guard = trace_init::builder()
        .service_name("demo")
        .service_version(env!("CARGO_PKG_VERSION"))
        .default_log_filter("info,sqlx=warn")
        .init()?;
    let once = std::env::args().any(|a| a == "--once");
    let running = demo::start(demo::Config::from_env()).await?;
    tracing::info!(api = %running.addr, inventory = %running.inventory_addr, redis = running.redis, "demo started");
    for (path, status, trace) in demo::scenario(running.addr).await {
        tracing::info!(%path, status, trace_id = trace.as_deref().unwrap_or("-"), "scenario request");
    }
    // let the worker take its jobs and the last spans end
    tokio::time::sleep(Duration::from_millis(700)).await;
    if once {
        running.stop();
        drop(guard);
        return Ok(());
    }
    tracing::info!(
        "scenario done; serving on http://{} (Ctrl-C to stop)",
        running.addr
    );
    tokio::signal::ctrl_c().await?;
    running.stop();
    drop(guard);
    Ok(())
}
