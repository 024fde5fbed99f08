//! A traced redis-rs connection: one OpenTelemetry CLIENT span per command and per pipeline,
//! and trace context through Redis used as a queue (Streams, pub/sub).
//!
//! Each command span is named for the command (`GET`, `HSET`) and carries `db.system.name=redis`,
//! `db.operation.name`, `db.namespace` (the database index), `server.address`, `server.port`,
//! `db.query.text` in CLI form with every value replaced by `?` (`HSET user:42 ? ?`; keys kept,
//! hashed or dropped), `db.redis.cache_hit` for reads, and on failure `db.response.status_code`
//! (the error prefix: `WRONGTYPE`, `NOAUTH`, ...), `error.type` and status Error. A nil reply is
//! not an error. Pipelines are one span `PIPELINE` (`PIPELINE GET` when every command is the
//! same), transactions `MULTI` / `MULTI SET`, with `db.operation.batch.size`.
//!
//! ```no_run
//! # async fn run() -> redis::RedisResult<()> {
//! use redis::AsyncCommands;
//! let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//! let mut con = redis_trace::TracedConnection::connect(&client).await?;
//! let cached: Option<String> = con.get("user:42").await?; // span GET, db.redis.cache_hit
//! let (a, b): (i64, i64) = redis::pipe().incr("a", 1).incr("b", 1).query_async(&mut con).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod command;
mod connection;
pub mod queue;
mod sync;

pub use command::DEFAULT_MAX_QUERY_TEXT;
pub use connection::TracedConnection;
pub use sync::TracedSyncConnection;
pub use trace_core::redis::KeyMode;
