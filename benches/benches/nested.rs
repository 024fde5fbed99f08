//! One request end to end, bare vs fully traced: 1 server span, 3 SQL spans (in-memory SQLite),
//! 2 Redis spans (loopback Redis), 1 client span (to a second axum server in the process).
//! Needs Redis on 127.0.0.1:6379.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::BodyExt;
use redis::AsyncCommands;
use tower::ServiceExt;

#[derive(Clone)]
struct Bare {
    db: sqlx::SqlitePool,
    redis: redis::aio::MultiplexedConnection,
    http: reqwest::Client,
    url: String,
}

#[derive(Clone)]
struct Traced {
    db: sqlx_trace::TracedPool<sqlx::Sqlite>,
    redis: redis_trace::TracedConnection<redis::aio::MultiplexedConnection>,
    http: reqwest_middleware::ClientWithMiddleware,
    url: String,
}

const Q: &str = "SELECT id, name FROM items WHERE id = ?";

async fn bare(State(mut s): State<Bare>) -> String {
    let _: Option<String> = s.redis.get("trace_bench:nested").await.unwrap();
    for id in 1..=3 {
        let _: (i64, String) = sqlx::query_as(Q).bind(id).fetch_one(&s.db).await.unwrap();
    }
    let _: () = s.redis.set("trace_bench:nested", "v").await.unwrap();
    s.http
        .get(&s.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn traced(State(mut s): State<Traced>) -> String {
    let _: Option<String> = s.redis.get("trace_bench:nested").await.unwrap();
    for id in 1..=3 {
        let _: (i64, String) = sqlx::query_as(Q).bind(id).fetch_one(&s.db).await.unwrap();
    }
    let _: () = s.redis.set("trace_bench:nested", "v").await.unwrap();
    s.http
        .get(&s.url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn bench(c: &mut Criterion) {
    benches::install();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare_app, traced_app) = rt.block_on(async {
        let upstream = Router::new().route("/stock", get(|| async { "7" }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/stock", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, upstream).await.unwrap() });
        let db = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
            .execute(&db)
            .await
            .unwrap();
        sqlx::query("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')")
            .execute(&db)
            .await
            .unwrap();
        let client = redis::Client::open("redis://127.0.0.1:6379/6").unwrap();
        let redis = client
            .get_multiplexed_async_connection()
            .await
            .expect("Redis on 127.0.0.1:6379");
        let b = Bare {
            db: db.clone(),
            redis: redis.clone(),
            http: reqwest::Client::new(),
            url: url.clone(),
        };
        let t = Traced {
            db: sqlx_trace::TracedPool::new(db),
            redis: redis_trace::TracedConnection::new(redis).with_address_of(&client),
            http: reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(reqwest_trace::TracingMiddleware::new())
                .build(),
            url,
        };
        (
            Router::new().route("/req", get(bare)).with_state(b),
            Router::new()
                .route("/req", get(traced))
                .with_state(t)
                .layer(tower_trace::TraceLayer::new()),
        )
    });
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
