//! Redis adapter: bare redis-rs `MultiplexedConnection` vs `TracedConnection` on a loopback GET and
//! a 100-command pipeline, one current-thread runtime, every span through the shared pipeline.
//! Needs Redis on 127.0.0.1:6379 (uses database 6, key `trace_bench:key`).

use criterion::{criterion_group, criterion_main, Criterion};
use redis::AsyncCommands;

fn bench(c: &mut Criterion) {
    benches::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = redis::Client::open("redis://127.0.0.1:6379/6").unwrap();
    let (bare, traced) = rt.block_on(async {
        let mut bare = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis on 127.0.0.1:6379");
        let _: () = bare
            .set("trace_bench:key", "value-of-some-length")
            .await
            .unwrap();
        let traced = redis_trace::TracedConnection::connect(&client)
            .await
            .unwrap();
        (bare, traced)
    });
    let mut pipe = redis::pipe();
    for _ in 0..100 {
        pipe.get("trace_bench:key");
    }

    let mut g = c.benchmark_group("redis");
    g.bench_function("GET, bare redis-rs", |b| {
        b.to_async(&rt).iter(|| {
            let mut con = bare.clone();
            async move {
                let v: Option<String> = con.get("trace_bench:key").await.unwrap();
                std::hint::black_box(v);
            }
        })
    });
    g.bench_function("GET, redis-trace", |b| {
        b.to_async(&rt).iter(|| {
            let mut con = traced.clone();
            async move {
                let v: Option<String> = con.get("trace_bench:key").await.unwrap();
                std::hint::black_box(v);
            }
        })
    });
    let ratio0 = traced
        .clone()
        .with_tracer(benches::ratio0_tracer("redis-trace"));
    for (label, cx, con) in [
        (
            "GET, redis-trace, incoming traceparent",
            benches::sampled_parent(),
            &traced,
        ),
        (
            "GET, redis-trace, not sampled (parent flag 00)",
            benches::unsampled_parent(),
            &traced,
        ),
        (
            "GET, redis-trace, not sampled (traceidratio 0)",
            opentelemetry::Context::new(),
            &ratio0,
        ),
        (
            "GET, redis-trace, ten context attributes",
            benches::ten_attributes(),
            &traced,
        ),
    ] {
        g.bench_function(label, |b| {
            b.to_async(&rt).iter(|| {
                let mut con = con.clone();
                opentelemetry::context::FutureExt::with_context(
                    async move {
                        let v: Option<String> = con.get("trace_bench:key").await.unwrap();
                        std::hint::black_box(v);
                    },
                    cx.clone(),
                )
            })
        });
    }
    g.bench_function("100-command pipeline, bare redis-rs", |b| {
        b.to_async(&rt).iter(|| {
            let (mut con, pipe) = (bare.clone(), pipe.clone());
            async move {
                let v: Vec<Option<String>> = pipe.query_async(&mut con).await.unwrap();
                std::hint::black_box(v);
            }
        })
    });
    g.bench_function("100-command pipeline, redis-trace", |b| {
        b.to_async(&rt).iter(|| {
            let (mut con, pipe) = (traced.clone(), pipe.clone());
            async move {
                let v: Vec<Option<String>> = pipe.query_async(&mut con).await.unwrap();
                std::hint::black_box(v);
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = redis_bench;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(redis_bench);
