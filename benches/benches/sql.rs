//! SQL adapter: bare sqlx vs `TracedPool` vs the peer oxtel-sql 0.3 (the one that builds for sqlx
//! 0.9: `tracing` spans, bridged to OpenTelemetry by tracing-opentelemetry) on a primary-key
//! select (PostgreSQL over 127.0.0.1, and in-memory SQLite without the peer), one connection, one current-thread
//! runtime, every span through the shared batch pipeline; plus the sanitiser alone on a short and
//! a 10 KB statement. (sqlx-tracing 0.2 builds for sqlx 0.8 only, sqlx-otel 0.5 for OpenTelemetry
//! 0.32 only.)
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (trust auth); creates the database `trace_bench` if missing.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sqlx::pool::PoolOptions;
use trace_core::sql::{sanitize, Dialect};

fn bench(c: &mut Criterion) {
    benches::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let (pg, lite) = rt.block_on(async {
        let pg = benches::sql_bench::postgres().await;
        let lite = PoolOptions::<sqlx::Sqlite>::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        benches::sql_bench::fill::<sqlx::Sqlite>(&lite).await;
        (pg, lite)
    });
    let pg_traced = sqlx_trace::TracedPool::new(pg.clone());
    let lite_traced = sqlx_trace::TracedPool::new(lite.clone());
    let pg_peer = oxtel_sql::sqlx::v0_9::Pool::new(pg.clone());
    // (not on the in-memory SQLite pool: oxtel-sql 0.3.1's `Pool::new` asks sqlx-sqlite 0.9.0
    // for the pool's URL, and that panics for an in-memory database: "generated un-parseable URL")

    let mut g = c.benchmark_group("sql");
    g.bench_function("postgres pk select, bare sqlx", |b| {
        b.to_async(&rt)
            .iter(|| benches::sql_bench::pk_select_pg(&pg))
    });
    g.bench_function("postgres pk select, sqlx-trace", |b| {
        b.to_async(&rt)
            .iter(|| benches::sql_bench::pk_select_pg(&pg_traced))
    });
    g.bench_function("postgres pk select, oxtel-sql", |b| {
        b.to_async(&rt)
            .iter(|| benches::sql_bench::pk_select_pg(&pg_peer))
    });
    let pg_ratio0 =
        sqlx_trace::TracedPool::new(pg.clone()).with_tracer(benches::ratio0_tracer("sqlx-trace"));
    for (label, cx, pool) in [
        (
            "postgres pk select, sqlx-trace, incoming traceparent",
            benches::sampled_parent(),
            &pg_traced,
        ),
        (
            "postgres pk select, sqlx-trace, not sampled (parent flag 00)",
            benches::unsampled_parent(),
            &pg_traced,
        ),
        (
            "postgres pk select, sqlx-trace, not sampled (traceidratio 0)",
            opentelemetry::Context::new(),
            &pg_ratio0,
        ),
        (
            "postgres pk select, sqlx-trace, ten context attributes",
            benches::ten_attributes(),
            &pg_traced,
        ),
    ] {
        g.bench_function(label, |b| {
            b.to_async(&rt).iter(|| {
                opentelemetry::context::FutureExt::with_context(
                    benches::sql_bench::pk_select_pg(pool),
                    cx.clone(),
                )
            })
        });
    }
    g.bench_function("sqlite pk select, bare sqlx", |b| {
        b.to_async(&rt)
            .iter(|| benches::sql_bench::pk_select_sqlite(&lite))
    });
    g.bench_function("sqlite pk select, sqlx-trace", |b| {
        b.to_async(&rt)
            .iter(|| benches::sql_bench::pk_select_sqlite(&lite_traced))
    });
    g.finish();

    let short = "SELECT u.id, u.name FROM users u WHERE u.email = 'someone@example.com' AND u.age > 42 -- lookup";
    let mut long = String::from("INSERT INTO events (id, kind, payload, at) VALUES ");
    let mut i = 0;
    while long.len() < 10 * 1024 {
        long.push_str(&format!(
            "({i}, 'click', '{{\"x\": {i}, \"tag\": \"it''s\"}}', '2026-11-21 10:00:{:02}'), ",
            i % 60
        ));
        i += 1;
    }
    long.push_str("(0, 'end', '{}', now())");
    let mut g = c.benchmark_group("sanitizer");
    g.throughput(Throughput::Bytes(short.len() as u64));
    g.bench_function("short statement", |b| {
        b.iter(|| sanitize(std::hint::black_box(short), Dialect::Postgres, 1 << 20))
    });
    g.throughput(Throughput::Bytes(long.len() as u64));
    g.bench_function("10 KB statement", |b| {
        b.iter(|| sanitize(std::hint::black_box(&long), Dialect::Postgres, 1 << 20))
    });
    g.finish();
}

criterion_group! {
    name = sql;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(sql);
