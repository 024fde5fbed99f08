//! A demo-shaped service, bare and fully traced, built from the same code: `GET /req` reads a Redis
//! key, runs three SQLite selects, writes the Redis key and calls a second HTTP server in the
//! process (traced: 1 server span, 3 SQL, 2 Redis, 1 client span). Needs Redis on 127.0.0.1:6379.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use redis::AsyncCommands;

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

/// The request, written once and compiled for both states: the only difference between the bare
/// and the traced service is the types of the clients.
macro_rules! request {
    ($name:ident, $state:ty) => {
        async fn $name(State(mut s): State<$state>) -> String {
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
    };
}

request!(bare, Bare);
request!(traced, Traced);

/// The bare and the traced app (call after the pipeline is installed), from the current runtime.
pub async fn apps() -> (Router, Router) {
    let upstream = Router::new().route("/stock", get(|| async { "7" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}/stock", l.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(l, upstream).await });
    let db = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("SQLite in memory");
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        .execute(&db)
        .await
        .expect("schema");
    sqlx::query("INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        .execute(&db)
        .await
        .expect("rows");
    let client = redis::Client::open("redis://127.0.0.1:6379/6").expect("a Redis URL");
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
            .layer(tower_trace::TraceLayer::new().axum_body()),
    )
}
