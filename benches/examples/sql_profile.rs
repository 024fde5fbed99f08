//! Runs N primary-key selects on in-memory SQLite, bare or traced, for `valgrind --tool=callgrind`.
//!
//! `valgrind --tool=callgrind --separate-threads=yes target/release/examples/sql_profile traced 5000`

use sqlx::pool::PoolOptions;
use sqlx::Executor;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    benches::install();
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap_or_else(|| "traced".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let pool = PoolOptions::<sqlx::Sqlite>::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    pool.execute("CREATE TABLE bench_users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL)")
        .await
        .unwrap();
    pool.execute("INSERT INTO bench_users VALUES (1, 'ada', 'ada@example.com')")
        .await
        .unwrap();
    let traced = sqlx_trace::TracedPool::new(pool.clone());
    const Q: &str = "SELECT id, name, email FROM bench_users WHERE id = ?";
    for _ in 0..n {
        let row: (i64, String, String) = if variant == "bare" {
            sqlx::query_as(Q).bind(1).fetch_one(&pool).await.unwrap()
        } else {
            sqlx::query_as(Q).bind(1).fetch_one(&traced).await.unwrap()
        };
        std::hint::black_box(row);
    }
}
