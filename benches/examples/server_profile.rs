//! Runs one server-benchmark variant a fixed number of times, for `valgrind --tool=callgrind`
//! (instruction counts are repeatable where timings on a shared 2-core machine are not).
//!
//! `cargo build --release -p benches --example server_profile`
//! `valgrind --tool=callgrind target/release/examples/server_profile sampled 20000`
//! Variants: bare, bare-tp (with a `traceparent`), bare-layer, bare-layer-tp (a pass-through
//! layer), sampled, unsampled (`traceparent` flag 00), ratio0 (sampler `traceidratio` 0, no
//! caller) (tower-trace with `axum_body()`; `sampled-wrapped` and `unsampled-wrapped` in the
//! default body mode), otel-axum, unsampled-noid (flag 00 without `x-trace-id`), excluded-tp (an excluded
//! route with a `traceparent`), propagate-tp (`benches::server_bench::PropagateLayer`: extract
//! and `with_context`, nothing else). `BENCH_OTLP=1`: export over OTLP/gRPC (see `main`).
//! `PROFILE_PAUSE=16`: sleep after every 16 requests, so that under valgrind (one thread at a time)
//! the export thread keeps up and the sampled path profiled is the one a service runs (see `main`).

use benches::server_bench::{ratio0_layer, router, run, served, UNSAMPLED_PARENT};

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
    let base = router();
    let (app, tp) = match variant.as_str() {
        "bare" => (base, None),
        "bare-tp" => (base, Some(UNSAMPLED_PARENT)),
        // a layer that does nothing: what `Router::layer` itself costs per request, the
        // baseline any tower layer starts from
        "bare-layer" => (base.layer(tower::util::MapRequestLayer::new(|r| r)), None),
        "bare-layer-tp" => (
            base.layer(tower::util::MapRequestLayer::new(|r| r)),
            Some(UNSAMPLED_PARENT),
        ),
        // tower-trace as configured for axum (`axum_body()`); the `-wrapped` variants are the
        // default body mode (`ResponseBody`, boxed by the router)
        "sampled" => (base.layer(tower_trace::TraceLayer::new().axum_body()), None),
        "sampled-wrapped" => (base.layer(tower_trace::TraceLayer::new()), None),
        "unsampled" => (
            base.layer(tower_trace::TraceLayer::new().axum_body()),
            Some(UNSAMPLED_PARENT),
        ),
        "unsampled-wrapped" => (
            base.layer(tower_trace::TraceLayer::new()),
            Some(UNSAMPLED_PARENT),
        ),
        // the caller's flag 00 without the `x-trace-id` response header
        "unsampled-noid" => (
            base.layer(
                tower_trace::TraceLayer::new()
                    .without_trace_id_header()
                    .axum_body(),
            ),
            Some(UNSAMPLED_PARENT),
        ),
        // an excluded route: the caller's context extracted and attached, no span, no header
        "excluded-tp" => (
            base.layer(
                tower_trace::TraceLayer::new()
                    .exclude("/users/{id}")
                    .axum_body(),
            ),
            Some(UNSAMPLED_PARENT),
        ),
        // the least a layer continuing the caller's trace does: extract, `with_context`
        "propagate-tp" => (
            base.layer(benches::server_bench::PropagateLayer),
            Some(UNSAMPLED_PARENT),
        ),
        // a tracer whose sampler keeps nothing (`traceidratio` 0), no caller
        "ratio0" => (base.layer(ratio0_layer().axum_body()), None),
        "otel-axum" => (
            base.layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
                .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
            None,
        ),
        other => panic!("unknown variant {other}"),
    };
    // as `axum::serve` does: every handler turned into a route once, not on each request
    let app = served(app);
    // PROFILE_PAUSE=<k>: sleep 200 us after every k requests. Under valgrind, which runs one
    // thread at a time, the export thread otherwise seldom runs while this loop does: the span
    // queue fills and drops, and the pool of attribute vectors runs dry, so the request path
    // profiled is not the one a real service runs.
    let pause = std::env::var("PROFILE_PAUSE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&k| k > 0);
    for i in 0..n {
        run(&app, tp).await;
        if pause.is_some_and(|k| (i + 1) % k == 0) {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    if let Some(q) = _guard
        .is_none()
        .then(|| benches::install().queue.as_ref())
        .flatten()
    {
        // a queue that dropped spans made the request thread's work lighter: say so
        eprintln!("span queue: {:?}", q.stats());
    }
}
