//! One request end to end, bare vs fully traced: 1 server span, 3 SQL spans (in-memory SQLite),
//! 2 Redis spans (loopback Redis), 1 client span (to a second axum server in the process).
//! Needs Redis on 127.0.0.1:6379.

use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn bench(c: &mut Criterion) {
    benches::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare_app, traced_app) = rt.block_on(benches::demo_shape::apps());
    let run = |app: Router| async move {
        let res = app
            .oneshot(
                http::Request::get("/req")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        std::hint::black_box(res.into_body().collect().await.unwrap());
    };
    let mut g = c.benchmark_group("nested");
    g.bench_function("request with 3 SQL, 2 Redis, 1 HTTP call, bare", |b| {
        b.to_async(&rt).iter(|| run(bare_app.clone()))
    });
    g.bench_function(
        "request with 3 SQL, 2 Redis, 1 HTTP call, fully traced (7 spans)",
        |b| b.to_async(&rt).iter(|| run(traced_app.clone())),
    );
    g.finish();
}

criterion_group! {
    name = nested;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(nested);
