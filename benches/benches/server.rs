//! Server layer: bare axum vs tower-trace configured for axum (`axum_body()`: sampled, unsampled,
//! incoming traceparent, ten context attributes; sampled and unsampled also in the default body
//! mode) vs axum-tracing-opentelemetry's `OtelAxumLayer` vs tower-http's `TraceLayer` with the
//! OpenTelemetry bridge. In-process `oneshot` on an axum 0.8 router prepared as `axum::serve`
//! prepares it (`with_state(())`), body read to the end, every
//! span through the same batch pipeline into an exporter that discards; the queue is flushed
//! (untimed) before each sample. The two bare cases run first and again last, to show the
//! drift along the run (the interleaved `paired server` has none).

use axum::routing::get;
use axum::Router;
use benches::server_bench::{
    handler, ratio0_layer, router, run, served, SAMPLED_PARENT, UNSAMPLED_PARENT,
};
use criterion::{criterion_group, criterion_main, Criterion};

fn ten_attrs_router() -> Router {
    use opentelemetry::KeyValue;
    use trace_core::context_attributes::ContextAttributesExt;
    Router::new()
        .route(
            "/users/{id}",
            get(|p: axum::extract::Path<u32>| {
                // keys written as literals, as application code writes `tenant.id`
                const KEYS: [&str; 10] = [
                    "app.key0", "app.key1", "app.key2", "app.key3", "app.key4", "app.key5",
                    "app.key6", "app.key7", "app.key8", "app.key9",
                ];
                let attrs = KEYS.map(|k| KeyValue::new(k, "value"));
                handler(p).with_context_attributes(attrs)
            }),
        )
        .layer(tower_trace::TraceLayer::new().axum_body())
}

/// Times `iters` requests through `app`, after the span queue has exported what the sample
/// before left (untimed, as `paired server` does between blocks): each variant is charged for
/// the spans it makes, and none runs against a queue another variant filled.
fn timed(
    b: &mut criterion::Bencher<'_>,
    rt: &tokio::runtime::Runtime,
    app: &Router,
    traceparent: Option<&str>,
) {
    b.iter_custom(|iters| {
        let _ = benches::install().provider.force_flush();
        rt.block_on(async {
            let t = std::time::Instant::now();
            for _ in 0..iters {
                run(app, traceparent).await;
            }
            t.elapsed()
        })
    })
}

fn bench(c: &mut Criterion) {
    benches::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bare = router();
    // configured for axum (`axum_body()`), as the README's quick start does; `wrapped` is the
    // default body mode, for any `http` service
    let ours = router().layer(tower_trace::TraceLayer::new().axum_body());
    let wrapped = router().layer(tower_trace::TraceLayer::new());
    let ten = ten_attrs_router();
    // a layer whose tracer samples nothing (`traceidratio` 0)
    let ratio0 = router().layer(ratio0_layer().axum_body());
    let otel_axum = router()
        .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
        .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default());
    let tower_http = router().layer(tower_http::trace::TraceLayer::new_for_http());
    let [bare, ours, wrapped, ten, ratio0, otel_axum, tower_http] =
        [bare, ours, wrapped, ten, ratio0, otel_axum, tower_http].map(served);

    let mut g = c.benchmark_group("server");
    g.bench_function("bare axum", |b| timed(b, &rt, &bare, None));
    // the same request with a traceparent header (the baseline for the parent cases)
    g.bench_function("bare axum, incoming traceparent", |b| {
        timed(b, &rt, &bare, Some(UNSAMPLED_PARENT))
    });
    g.bench_function("tower-trace sampled", |b| timed(b, &rt, &ours, None));
    g.bench_function("tower-trace sampled, incoming traceparent", |b| {
        timed(b, &rt, &ours, Some(SAMPLED_PARENT))
    });
    g.bench_function("tower-trace not sampled (parent flag 00)", |b| {
        timed(b, &rt, &ours, Some(UNSAMPLED_PARENT))
    });
    g.bench_function("tower-trace not sampled (traceidratio 0)", |b| {
        timed(b, &rt, &ratio0, None)
    });
    g.bench_function("tower-trace sampled, default body mode", |b| {
        timed(b, &rt, &wrapped, None)
    });
    g.bench_function(
        "tower-trace not sampled (parent flag 00), default body mode",
        |b| timed(b, &rt, &wrapped, Some(UNSAMPLED_PARENT)),
    );
    g.bench_function("tower-trace sampled, ten context attributes", |b| {
        timed(b, &rt, &ten, None)
    });
    g.bench_function("axum-tracing-opentelemetry OtelAxumLayer", |b| {
        timed(b, &rt, &otel_axum, None)
    });
    g.bench_function("tower-http TraceLayer + tracing-opentelemetry", |b| {
        timed(b, &rt, &tower_http, None)
    });
    // The bare cases once more, last: a case measured after the span-making ones runs about
    // 0.05 us slower whatever it is (allocator and cache state; docs/benchmark-sessions.md,
    // "Session 16"), so a later case is compared with these as well as with the first ones.
    g.bench_function("bare axum, again", |b| timed(b, &rt, &bare, None));
    g.bench_function("bare axum, incoming traceparent, again", |b| {
        timed(b, &rt, &bare, Some(UNSAMPLED_PARENT))
    });
    g.finish();
}

criterion_group! {
    name = server;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(server);
