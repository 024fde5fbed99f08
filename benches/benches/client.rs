//! HTTP client: bare reqwest vs reqwest-middleware with no middleware vs `TracingMiddleware`, on a
//! loopback GET to an axum server in the same process, every span through the shared batch
//! pipeline. Two set-ups: the server on the client's own thread (one current-thread runtime: the
//! server's reading of the injected `traceparent` is timed with the client), and the server on a
//! thread and runtime of its own, as another service on the machine would be (the round trip
//! then includes two thread wake-ups). reqwest-tracing 0.7 has no feature for OpenTelemetry 0.33:
//! built without one it still makes its `tracing` spans (the bridge exports them through the same
//! pipeline) but injects no trace context, so it is compared with reqwest-trace without
//! propagation as well as with it.

use criterion::{criterion_group, criterion_main, Criterion};
use reqwest_middleware::ClientBuilder;

fn bench(c: &mut Criterion) {
    benches::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(benches::users_server());
    let remote_url = benches::users_server_on_own_thread();
    let bare = reqwest::Client::new();
    let empty = ClientBuilder::new(reqwest::Client::new()).build();
    let traced = ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_trace::TracingMiddleware::new())
        .build();
    // the span alone, to compare with the peer, which cannot inject
    let unpropagated = ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_trace::TracingMiddleware::new().propagate(false))
        .build();
    let peer = ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_tracing::TracingMiddleware::default())
        .build();
    let mut g = c.benchmark_group("client");
    for (setup, url) in [("", &url), (", server on its own thread", &remote_url)] {
        g.bench_function(format!("GET{setup}, bare reqwest"), |b| {
            b.to_async(&rt)
                .iter(|| async { bare.get(url).send().await.unwrap().bytes().await.unwrap() })
        });
        for (label, client) in [
            ("reqwest-middleware without middleware", &empty),
            ("reqwest-trace", &traced),
            ("reqwest-trace without propagation", &unpropagated),
            ("reqwest-tracing 0.7 (spans only)", &peer),
        ] {
            g.bench_function(format!("GET{setup}, {label}"), |b| {
                b.to_async(&rt)
                    .iter(|| benches::client_get(client, url, None, false))
            });
        }
    }
    let ratio0 = ClientBuilder::new(reqwest::Client::new())
        .with(
            reqwest_trace::TracingMiddleware::new()
                .with_tracer(benches::ratio0_tracer("reqwest-trace")),
        )
        .build();
    for (label, cx, client) in [
        (
            "GET, reqwest-trace, incoming traceparent",
            benches::sampled_parent(),
            &traced,
        ),
        (
            "GET, reqwest-trace, not sampled (parent flag 00)",
            benches::unsampled_parent(),
            &traced,
        ),
        (
            "GET, reqwest-trace, not sampled (traceidratio 0)",
            opentelemetry::Context::new(),
            &ratio0,
        ),
        (
            "GET, reqwest-trace, ten context attributes",
            benches::ten_attributes(),
            &traced,
        ),
    ] {
        g.bench_function(label, |b| {
            b.to_async(&rt).iter(|| {
                opentelemetry::context::FutureExt::with_context(
                    async {
                        client
                            .get(&url)
                            .send()
                            .await
                            .unwrap()
                            .bytes()
                            .await
                            .unwrap()
                    },
                    cx.clone(),
                )
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = client;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(client);
