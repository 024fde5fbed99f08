//! Runs one server-benchmark variant a fixed number of times, for `valgrind --tool=callgrind`
//! (instruction counts are repeatable where timings on a shared 2-core machine are not).
//!
//! `cargo build --release -p benches --example server_profile`
//! `valgrind --tool=callgrind target/release/examples/server_profile sampled 20000`
//! Variants: bare, bare-tp (with a `traceparent`), bare-layer, bare-layer-tp (a pass-through
//! layer), sampled, unsampled (`traceparent` flag 00), ratio0 (sampler `traceidratio` 0, no
//! caller), otel-axum, unsampled-noid (flag 00 without `x-trace-id`), excluded-tp (an excluded
//! route with a `traceparent`). `BENCH_OTLP=1`: export over OTLP/gRPC (see `main`).

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn handler(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
    format!("user {id}")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // BENCH_OTLP=1: the pipeline trace-init builds, exporting over OTLP/gRPC to a collector
    // stand-in that does not decode (the export threads' cost per span, on their own threads in
    // the profile); otherwise the shared benchmark pipeline into an exporter that discards
    let _guard = if std::env::var_os("BENCH_OTLP").is_some() {
        let sink = test_support::Receiver::grpc_sink();
        let guard = trace_init::builder()
            .otlp(trace_init::Protocol::Grpc, sink.endpoint())
            .init()
            .expect("pipeline");
        std::mem::forget(sink);
        Some(guard)
    } else {
        benches::install();
        None
    };
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "sampled".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let base = Router::new().route("/users/{id}", get(handler));
    let (app, tp) = match variant.as_str() {
        "bare" => (base, None),
        "bare-tp" => (
            base,
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ),
        // a layer that does nothing: what `Router::layer` itself costs per request, the
        // baseline any tower layer starts from
        "bare-layer" => (base.layer(tower::util::MapRequestLayer::new(|r| r)), None),
        "bare-layer-tp" => (
            base.layer(tower::util::MapRequestLayer::new(|r| r)),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ),
        "sampled" => (base.layer(tower_trace::TraceLayer::new()), None),
        "unsampled" => (
            base.layer(tower_trace::TraceLayer::new()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ),
        // the caller's flag 00 without the `x-trace-id` response header
        "unsampled-noid" => (
            base.layer(tower_trace::TraceLayer::new().without_trace_id_header()),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ),
        // an excluded route: the caller's context extracted and attached, no span, no header
        "excluded-tp" => (
            base.layer(tower_trace::TraceLayer::new().exclude("/users/{id}")),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        ),
        // a tracer whose sampler keeps nothing (`traceidratio` 0), no caller
        "ratio0" => (
            base.layer(tower_trace::TraceLayer::new().with_tracer(
                trace_core::tracer::Tracer::from_provider(
                    "tower-trace",
                    &opentelemetry_sdk::trace::SdkTracerProvider::builder().build(),
                    Some(trace_core::tracer::KnownSampler::TraceIdRatio(0.0)),
                ),
            )),
            None,
        ),
        "otel-axum" => (
            base.layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
                .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
            None,
        ),
        other => panic!("unknown variant {other}"),
    };
    // as `axum::serve` does: every handler turned into a route once, not on each request
    let app = app.with_state(());
    for _ in 0..n {
        let mut b = http::Request::get("http://bench.local/users/42?page=1")
            .header("host", "bench.local")
            .header("user-agent", "bench/1.0");
        if let Some(tp) = tp {
            b = b.header("traceparent", tp);
        }
        let res = app
            .clone()
            .oneshot(b.body(Body::empty()).unwrap())
            .await
            .unwrap();
        std::hint::black_box(res.into_body().collect().await.unwrap());
    }
}
