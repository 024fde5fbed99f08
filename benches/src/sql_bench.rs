//! The SQL benchmarks' database: `trace_bench` on the local PostgreSQL (created when missing) and
//! its `bench_users` table with two rows, so every SQL benchmark and `paired postgres` start from
//! the same state on a fresh machine.

use sqlx::Executor;

/// Creates `bench_users` in `pool` if missing and puts back its two rows.
pub async fn fill<DB: sqlx::Database>(pool: &sqlx::Pool<DB>)
where
    for<'c> &'c sqlx::Pool<DB>: Executor<'c, Database = DB>,
{
    pool.execute("CREATE TABLE IF NOT EXISTS bench_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)")
        .await
        .unwrap();
    pool.execute("DELETE FROM bench_users").await.unwrap();
    pool.execute("INSERT INTO bench_users (id, name, email) VALUES (1, 'ada', 'ada@example.com'), (2, 'bob', 'bob@example.com')")
        .await
        .unwrap();
}

/// A one-connection pool on `trace_bench` (PostgreSQL on 127.0.0.1:5432, trust auth), the
/// database created and filled first.
pub async fn postgres() -> sqlx::PgPool {
    let admin = sqlx::PgPool::connect("postgres://postgres@127.0.0.1:5432/postgres")
        .await
        .expect("PostgreSQL on 127.0.0.1:5432");
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = 'trace_bench'")
            .fetch_optional(&admin)
            .await
            .unwrap();
    if exists.is_none() {
        admin.execute("CREATE DATABASE trace_bench").await.unwrap();
    }
    admin.close().await;
    let pg = sqlx::pool::PoolOptions::<sqlx::Postgres>::new()
        .max_connections(1)
        .connect("postgres://postgres@127.0.0.1:5432/trace_bench")
        .await
        .unwrap();
    fill(&pg).await;
    pg
}

/// The PostgreSQL benchmarks' primary-key select, through `e` (a bare pool, sqlx-trace's or a
/// peer's), its row read and dropped.
pub async fn pk_select_pg<'e, E: sqlx::Executor<'e, Database = sqlx::Postgres>>(e: E) {
    const Q: &str = "SELECT id, name, email FROM bench_users WHERE id = $1";
    let row: (i32, String, String) = sqlx::query_as(Q).bind(1).fetch_one(e).await.unwrap();
    std::hint::black_box(row);
}

/// The SQLite benchmarks' primary-key select, through `e`.
pub async fn pk_select_sqlite<'e, E: sqlx::Executor<'e, Database = sqlx::Sqlite>>(e: E) {
    const Q: &str = "SELECT id, name, email FROM bench_users WHERE id = ?";
    let row: (i64, String, String) = sqlx::query_as(Q).bind(1).fetch_one(e).await.unwrap();
    std::hint::black_box(row);
}
