//! The demo service: an API whose request checks a Redis cache, queries SQL on a miss, calls a
//! second HTTP service (an inventory service, itself instrumented) and hands work to a worker
//! through a Redis Stream. Everything is traced by the trace-family crates.
//!
//! | route | what it does |
//! | --- | --- |
//! | `GET /users/{id}` | cache → SQL on a miss → inventory call → job on the stream |
//! | `GET /checkout/{id}` | the inventory refuses: answers 500 |
//! | `GET /report` | a query over a missing table: fails, answers 500 |
//! | `GET /health` | excluded from tracing |
#![warn(missing_docs)]

pub mod db;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use opentelemetry::KeyValue;
use redis::AsyncCommands;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tower_trace::TraceLayer;
use trace_core::context_attributes::ContextAttributesExt;

pub use db::Db;

/// The domain keys set once per request and carried to every span beneath, in this service and,
/// through baggage, in the inventory service and the worker.
pub const DOMAIN_KEYS: [&str; 2] = ["user.id", "profile.id"];

/// How the demo connects.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL` (default: in-memory SQLite).
    pub database_url: String,
    /// `REDIS_URL` (default `redis://127.0.0.1:6379`).
    pub redis_url: String,
    /// The stream jobs go through.
    pub stream: String,
    /// Prefix of every Redis key the demo writes.
    pub key_prefix: String,
    /// Where the API listens (port 0: any free port).
    pub addr: SocketAddr,
}

impl Config {
    /// From `DATABASE_URL`, `REDIS_URL` and `PORT`.
    pub fn from_env() -> Self {
        let port = std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000);
        Self {
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "sqlite::memory:".into()),
            redis_url: std::env::var("REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            stream: "demo:jobs".into(),
            key_prefix: "demo:".into(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }
}

type Redis = redis_trace::TracedConnection<redis::aio::ConnectionManager>;

#[derive(Clone)]
struct AppState {
    db: Db,
    redis: Option<Redis>,
    http: ClientWithMiddleware,
    inventory: String,
    stream: String,
    prefix: String,
}

fn fail(e: impl std::fmt::Display) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

async fn user(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<String, (StatusCode, String)> {
    let caller = headers
        .get("x-user-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("anonymous")
        .to_owned();
    let domain = [
        KeyValue::new("user.id", caller),
        KeyValue::new("profile.id", id.to_string()),
    ];
    async move {
        let key = format!("{}profile:{id}", s.prefix);
        if let Some(mut redis) = s.redis.clone() {
            if let Ok(Some(cached)) = redis.get::<_, Option<String>>(&key).await {
                return Ok(cached);
            }
        }
        let name =
            s.db.user(id)
                .await
                .map_err(fail)?
                .ok_or((StatusCode::NOT_FOUND, "no such user".into()))?;
        let stock = s
            .http
            .get(format!("{}/stock/{id}", s.inventory))
            .with_extension(reqwest_trace::UrlTemplate::new("/stock/{id}"))
            .send()
            .await
            .map_err(fail)?
            .text()
            .await
            .map_err(fail)?;
        let body = format!("{{\"id\":{id},\"name\":\"{name}\",\"stock\":{stock}}}");
        if let Some(mut redis) = s.redis.clone() {
            let _: Result<(), _> = redis.set_ex(&key, &body, 30).await;
            let send = redis_trace::queue::producer(&s.stream);
            let mut entry = vec![
                ("user_id".to_string(), id.to_string()),
                ("event".to_string(), "viewed".to_string()),
            ];
            entry.extend(send.fields());
            let _: Result<String, _> = send.run(redis.xadd(&s.stream, "*", &entry)).await;
        }
        Ok(body)
    }
    .with_propagated_attributes(domain)
    .await
}

async fn checkout(
    State(s): State<AppState>,
    Path(id): Path<i64>,
) -> Result<String, (StatusCode, String)> {
    async move {
        let res = s
            .http
            .get(format!("{}/reserve/{id}", s.inventory))
            .with_extension(reqwest_trace::UrlTemplate::new("/reserve/{id}"))
            .send()
            .await
            .map_err(fail)?;
        if !res.status().is_success() {
            tracing::error!(
                status = res.status().as_u16(),
                "the inventory refused the reservation"
            );
            return Err(fail(format!("inventory answered {}", res.status())));
        }
        Ok("reserved".into())
    }
    .with_propagated_attributes([KeyValue::new("profile.id", id.to_string())])
    .await
}

async fn report(State(s): State<AppState>) -> Result<String, (StatusCode, String)> {
    s.db.broken_report()
        .await
        .map(|n| n.to_string())
        .map_err(fail)
}

/// The inventory service (a second instrumented service).
fn inventory(db: Db) -> Router {
    Router::new()
        .route(
            "/stock/{id}",
            get(|State(db): State<Db>, Path(id): Path<i64>| async move {
                db.stock(id).await.map(|n| n.to_string()).map_err(fail)
            }),
        )
        .route(
            "/reserve/{id}",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "out of stock") }),
        )
        .with_state(db)
        .layer(
            TraceLayer::new()
                .baggage_attributes(DOMAIN_KEYS)
                .axum_body(),
        )
}

/// The API router.
fn api(state: AppState) -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .route("/checkout/{id}", get(checkout))
        .route("/report", get(report))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
        .layer(
            TraceLayer::new()
                .exclude("/health")
                .baggage_attributes(DOMAIN_KEYS)
                .axum_body(),
        )
}

/// Consumes the job stream: each job is a CONSUMER span in the request's trace. The blocking
/// reads use a connection of their own, untraced (a poll is not part of any request); the
/// acknowledgement inside the job is traced.
async fn worker(db: Db, mut reader: redis::aio::ConnectionManager, redis: Redis, stream: String) {
    use redis::streams::{StreamReadOptions, StreamReadReply};
    let keys: Vec<opentelemetry::Key> = DOMAIN_KEYS
        .iter()
        .map(|k| opentelemetry::Key::from_static_str(k))
        .collect();
    loop {
        let opts = StreamReadOptions::default()
            .group("workers", "worker-1")
            .count(10)
            .block(1000);
        let reply: StreamReadReply = match reader.xread_options(&[&stream], &[">"], &opts).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "reading the job stream failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for entry in reply.keys.iter().flat_map(|k| k.ids.iter()) {
            let fields: Vec<(String, String)> = entry
                .map
                .iter()
                .filter_map(|(k, v)| {
                    redis::from_redis_value_ref::<String>(v)
                        .ok()
                        .map(|v| (k.clone(), v))
                })
                .collect();
            let user_id: i64 = fields
                .iter()
                .find(|(k, _)| k == "user_id")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let options = redis_trace::queue::ConsumerOptions {
                message_id: Some(&entry.id),
                baggage_attributes: &keys,
                ..Default::default()
            };
            let pairs = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let mut r = redis.clone();
            let (db, stream, id) = (db.clone(), stream.clone(), entry.id.clone());
            redis_trace::queue::consumer_with(&stream, pairs, options)
                .run(async move {
                    if let Err(e) = db.audit(user_id, "viewed").await {
                        tracing::warn!(error = %e, "audit failed");
                    }
                    let _: Result<i64, _> = r.xack(&stream, "workers", &[&id]).await;
                })
                .await;
        }
    }
}

/// A running demo.
#[derive(Debug)]
pub struct Running {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// Where the inventory service listens.
    pub inventory_addr: SocketAddr,
    /// Whether Redis answered (cache and queue on).
    pub redis: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the servers and the worker.
    pub fn stop(self) {
        for t in self.tasks {
            t.abort();
        }
    }
}

async fn manager(client: &redis::Client) -> Option<redis::aio::ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(1);
    tokio::time::timeout(
        Duration::from_secs(2),
        redis::aio::ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    .ok()?
    .ok()
}

async fn connect_redis(url: &str, stream: &str) -> Option<Redis> {
    let client = redis::Client::open(url).ok()?;
    let manager = manager(&client).await?;
    let mut con = redis_trace::TracedConnection::new(manager).with_address_of(&client);
    // the consumer group (ignore "already exists")
    let _: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(stream)
        .arg("workers")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(con.inner())
        .await;
    Some(con)
}

/// Connects, sets up the tables, and starts the API, the inventory service and the worker.
pub async fn start(config: Config) -> Result<Running, Box<dyn std::error::Error + Send + Sync>> {
    let db = Db::connect(&config.database_url).await?;
    db.setup().await?;
    let redis = connect_redis(&config.redis_url, &config.stream).await;
    if redis.is_none() {
        eprintln!(
            "demo: Redis is not reachable at {}; running without the cache and the job queue",
            config.redis_url
        );
    }
    let mut tasks = Vec::new();
    let inv_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let inventory_addr = inv_listener.local_addr()?;
    let inv = inventory(db.clone());
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(
            inv_listener,
            inv.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    }));
    let http = ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_trace::TracingMiddleware::new())
        .build();
    let state = AppState {
        db: db.clone(),
        redis: redis.clone(),
        http,
        inventory: format!("http://{inventory_addr}"),
        stream: config.stream.clone(),
        prefix: config.key_prefix.clone(),
    };
    let listener = match tokio::net::TcpListener::bind(config.addr).await {
        Ok(l) => l,
        Err(_) => tokio::net::TcpListener::bind("127.0.0.1:0").await?,
    };
    let addr = listener.local_addr()?;
    let app = api(state);
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    }));
    if redis.is_some() {
        // the worker blocks on XREADGROUP: it gets a connection of its own
        let reader = match redis::Client::open(config.redis_url.as_str()) {
            Ok(c) => manager(&c).await,
            Err(_) => None,
        };
        if let (Some(reader), Some(traced)) = (reader, redis.clone()) {
            tasks.push(tokio::spawn(worker(
                db,
                reader,
                traced,
                config.stream.clone(),
            )));
        }
    }
    Ok(Running {
        addr,
        inventory_addr,
        redis: redis.is_some(),
        tasks,
    })
}

/// The requests of the scenario: a miss, a hit, another miss, an error route, a failing query, an
/// excluded route.
pub const SCENARIO: [&str; 6] = [
    "/users/1",
    "/users/1",
    "/users/2",
    "/checkout/1",
    "/report",
    "/health",
];

/// Drives [`SCENARIO`] at the demo. Returns `(path, status, x-trace-id)` for each request.
pub async fn scenario(addr: SocketAddr) -> Vec<(String, u16, Option<String>)> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for path in SCENARIO {
        let res = client
            .get(format!("http://{addr}{path}"))
            .header("x-user-id", "u-42")
            .send()
            .await;
        match res {
            Ok(r) => {
                let trace = r
                    .headers()
                    .get("x-trace-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let status = r.status().as_u16();
                let _ = r.text().await;
                out.push((path.to_string(), status, trace));
            }
            Err(e) => {
                eprintln!("demo: {path} failed: {e}");
                out.push((path.to_string(), 0, None));
            }
        }
    }
    out
}
