//! A traced sqlx pool: one OpenTelemetry CLIENT span per statement, for PostgreSQL, MySQL/MariaDB
//! and SQLite (cargo features `postgres`, `mysql`, `sqlite`), on sqlx 0.9.
//!
//! Wrap the pool once; call sites stay as they are (`sqlx::query(..).fetch_all(&pool)`,
//! `query_as`, `query_scalar`, the `query!` macros, `execute`, `fetch`, streams).
//!
//! Each span follows the database conventions: named by `db.query.summary` (`SELECT users`),
//! with `db.system.name`, `db.namespace`, `server.address`, `server.port`, `db.query.text`
//! (sanitised: every literal replaced with `?`, see [`trace_core::sql`]), `db.query.summary`,
//! `db.operation.name`, `db.collection.name`, `db.response.returned_rows`,
//! `db.response.affected_rows`, `db.client.connection.wait_time` (seconds spent waiting for a pool
//! connection), and on failure `db.response.status_code` (SQLSTATE), `error.type` and status
//! Error. The caller always gets sqlx's own result back.
//!
//! ```no_run
//! # async fn run() -> Result<(), sqlx::Error> {
//! let pool = sqlx_trace::TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
//! sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)").execute(&pool).await?;
//! let rows = sqlx::query("SELECT id FROM t WHERE name = ?").bind("x").fetch_all(&pool).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod config;
mod database;
mod executor;
mod pool;
mod statement;
mod transaction;

pub use config::DEFAULT_MAX_QUERY_TEXT;
pub use database::{ConnectionFacts, ResultStream, TracedDatabase};
pub use pool::TracedPool;
pub use trace_core::sql::QueryText;
pub use transaction::{TracedConnection, TracedTransaction};
