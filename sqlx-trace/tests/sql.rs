//! The traced pool against real PostgreSQL, MariaDB and SQLite, read back as exported spans.
//!
//! Each test creates its own database (PostgreSQL, MariaDB) or file (SQLite) and drops it at the
//! end, so runs do not collide.

use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::TryStreamExt;
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use sqlx::Row;
use sqlx_trace::{QueryText, TracedPool};
use test_support::traced;
use trace_core::testing::{install, SpanDataExt, Trace};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const MY_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}

/// A fresh database; dropped by `drop_db`.
struct TestDb {
    url: String,
    name: String,
    kind: &'static str,
}

async fn pg_db() -> TestDb {
    let name = unique("trace_pg");
    let admin = sqlx::PgPool::connect(PG_ADMIN)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    TestDb {
        url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
        name,
        kind: "pg",
    }
}

async fn my_db() -> TestDb {
    let name = unique("trace_my");
    let admin = sqlx::MySqlPool::connect(MY_ADMIN)
        .await
        .expect("MariaDB on 127.0.0.1:3306");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    TestDb {
        url: format!("mysql://root@127.0.0.1:3306/{name}"),
        name,
        kind: "my",
    }
}

fn lite_db() -> TestDb {
    let name = unique("trace_lite");
    let path = std::env::temp_dir().join(format!("{name}.db"));
    TestDb {
        url: format!("sqlite://{}?mode=rwc", path.display()),
        name: path.display().to_string(),
        kind: "lite",
    }
}

async fn drop_db(db: TestDb) {
    match db.kind {
        "pg" => {
            let admin = sqlx::PgPool::connect(PG_ADMIN).await.unwrap();
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                db.name
            )))
            .execute(&admin)
            .await;
        }
        "my" => {
            let admin = sqlx::MySqlPool::connect(MY_ADMIN).await.unwrap();
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {}",
                db.name
            )))
            .execute(&admin)
            .await;
        }
        _ => {
            let _ = std::fs::remove_file(&db.name);
        }
    }
}

fn spans<'a>(t: &'a Trace, name: &str) -> Vec<&'a SpanData> {
    t.spans.iter().filter(|s| s.name == name).collect()
}

fn assert_client(s: &SpanData, system: &str, parent: &SpanData) {
    assert_eq!(s.span_kind, SpanKind::Client, "{}", s.name);
    assert_eq!(s.str_attr("db.system.name"), system);
    assert_eq!(
        s.parent_span_id,
        parent.span_context.span_id(),
        "{} nests under its parent",
        s.name
    );
    s.assert_declared(&[]);
}

macro_rules! crud_test {
    ($name:ident, $db:ty, $make:expr, $system:expr, $p1:expr, $p2:expr, $syntax_code:expr, $unique_code:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            install();
            let db: TestDb = $make;
            let pool = TracedPool::<$db>::connect(&db.url).await.unwrap();
            let insert = format!("INSERT INTO items (id, name) VALUES ({}, {})", $p1, $p2);
            let trace = traced(12, || async {
                sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(64) NOT NULL)")
                    .execute(&pool)
                    .await
                    .unwrap();
                for (id, name) in [(1, "alpha"), (2, "beta"), (3, "gamma")] {
                    let r = sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                        .bind(id)
                        .bind(name)
                        .execute(&pool)
                        .await
                        .unwrap();
                    assert_eq!(r.rows_affected(), 1);
                }
                // inline literals: must not reach the span
                let rows = sqlx::query("SELECT id, name FROM items WHERE name = 'hunter2-secret' OR id IN (1, 2, 3)")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                assert_eq!(rows.len(), 3);
                sqlx::query("UPDATE items SET name = 'renamed-secret' WHERE id = 2")
                    .execute(&pool)
                    .await
                    .unwrap();
                // streamed: read to the end
                let mut stream = sqlx::query("SELECT id FROM items ORDER BY id").fetch(&pool);
                let mut seen = 0;
                while let Some(row) = stream.try_next().await.unwrap() {
                    let _: i32 = row.get(0);
                    seen += 1;
                }
                assert_eq!(seen, 3);
                drop(stream);
                // streamed, dropped after one row: the span still ends
                {
                    let mut stream = sqlx::query("SELECT name FROM items").fetch(&pool);
                    let _ = stream.try_next().await.unwrap();
                }
                sqlx::query("DELETE FROM items WHERE id = 3").execute(&pool).await.unwrap();
                // a syntax error and a constraint violation: sqlx's own error comes back
                let err = sqlx::query("SELEC nonsense").execute(&pool).await.unwrap_err();
                assert_eq!(err.as_database_error().and_then(|e| e.code()).as_deref(), Some($syntax_code));
                let err = sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                    .bind(1)
                    .bind("dup")
                    .execute(&pool)
                    .await
                    .unwrap_err();
                assert_eq!(err.as_database_error().and_then(|e| e.code()).as_deref(), Some($unique_code));
                // fetch_optional on no row
                let none = sqlx::query("SELECT id FROM items WHERE id = 99").fetch_optional(&pool).await.unwrap();
                assert!(none.is_none());
            })
            .await;
            let root = trace.span("test");
            let all = format!("{:?}", trace.spans.iter().map(|s| &s.attributes).collect::<Vec<_>>());
            assert!(!all.contains("hunter2-secret") && !all.contains("renamed-secret") && !all.contains("alpha"), "a literal reached a span");

            let inserts = spans(&trace, "INSERT items");
            assert_eq!(inserts.len(), 4, "{}", trace.render());
            let ins = inserts[0];
            assert_client(ins, $system, root);
            assert_eq!(ins.str_attr("db.query.text"), insert);
            assert_eq!(ins.str_attr("db.operation.name"), "INSERT");
            assert_eq!(ins.str_attr("db.collection.name"), "items");
            assert_eq!(ins.str_attr("db.query.summary"), "INSERT items");
            assert_eq!(ins.int_attr("db.response.affected_rows"), 1);
            assert!(ins.attr("db.client.connection.wait_time").is_some());
            if $system != "sqlite" {
                assert_eq!(ins.str_attr("server.address"), "127.0.0.1");
                assert!(ins.int_attr("server.port") > 0);
            }
            assert!(ins.attr("db.namespace").is_some());

            let sel = trace.span("SELECT items");
            assert_client(sel, $system, root);
            assert_eq!(
                sel.str_attr("db.query.text"),
                "SELECT id, name FROM items WHERE name = ? OR id IN (?)"
            );
            assert_eq!(sel.int_attr("db.response.returned_rows"), 3);

            let upd = trace.span("UPDATE items");
            assert_eq!(upd.str_attr("db.query.text"), "UPDATE items SET name = ? WHERE id = ?");
            assert_eq!(upd.int_attr("db.response.affected_rows"), 1);
            assert_eq!(trace.span("DELETE items").int_attr("db.response.affected_rows"), 1);

            let selects = spans(&trace, "SELECT items");
            let streamed = selects.iter().find(|s| s.str_attr("db.query.text").contains("ORDER BY")).unwrap();
            assert_eq!(streamed.int_attr("db.response.returned_rows"), 3);
            let dropped = selects.iter().find(|s| s.str_attr("db.query.text") == "SELECT name FROM items").unwrap();
            assert_eq!(dropped.status, Status::Unset, "a dropped stream is not an error");
            let none = selects.iter().find(|s| s.str_attr("db.query.text").contains("id = ?")).unwrap();
            assert_eq!(none.int_attr("db.response.returned_rows"), 0);

            let bad = trace.spans.iter().find(|s| matches!(s.attr("db.query.text"), Some(v) if v.as_str() == "SELEC nonsense")).unwrap();
            assert!(matches!(bad.status, Status::Error { .. }));
            assert_eq!(bad.str_attr("db.response.status_code"), $syntax_code);
            assert_eq!(bad.str_attr("error.type"), $syntax_code);
            let dup = inserts.iter().find(|s| matches!(s.status, Status::Error { .. })).unwrap();
            assert_eq!(dup.str_attr("db.response.status_code"), $unique_code);
            assert!(dup.events.iter().any(|e| e.name == "exception"));
            drop(pool);
            drop_db(db).await;
        }
    };
}

crud_test!(
    postgres_crud_stream_errors,
    sqlx::Postgres,
    pg_db().await,
    "postgresql",
    "$1",
    "$2",
    "42601",
    "23505"
);
crud_test!(
    mariadb_crud_stream_errors,
    sqlx::MySql,
    my_db().await,
    "mariadb",
    "?",
    "?",
    "42000",
    "23000"
);
crud_test!(
    sqlite_crud_stream_errors,
    sqlx::Sqlite,
    lite_db(),
    "sqlite",
    "?",
    "?",
    "1",
    "1555"
);

macro_rules! tx_test {
    ($name:ident, $db:ty, $make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            install();
            let db: TestDb = $make;
            let pool = TracedPool::<$db>::connect(&db.url).await.unwrap();
            sqlx::query("CREATE TABLE acct (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
                .execute(&pool)
                .await
                .unwrap();
            let trace = traced(9, || async {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("INSERT INTO acct (id, n) VALUES (1, 10)")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("INSERT INTO acct (id, n) VALUES (2, 20)")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.rollback().await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("UPDATE acct SET n = 0")
                    .execute(&mut tx)
                    .await
                    .unwrap();
                drop(tx);
            })
            .await;
            let root = trace.span("test");
            assert_eq!(spans(&trace, "BEGIN").len(), 3, "{}", trace.render());
            assert_eq!(spans(&trace, "COMMIT").len(), 1);
            let rollbacks = spans(&trace, "ROLLBACK");
            assert_eq!(rollbacks.len(), 2);
            assert!(rollbacks.iter().any(|r| r
                .events
                .iter()
                .any(|e| e.name == "transaction dropped without commit")));
            for s in trace.spans.iter().filter(|s| s.name != "test") {
                assert_eq!(
                    s.parent_span_id,
                    root.span_context.span_id(),
                    "{} under the transaction's context",
                    s.name
                );
            }
            // the rolled-back and dropped work is gone, the committed row stays
            let rows: Vec<(i32, i32)> = sqlx::query_as("SELECT id, n FROM acct")
                .fetch_all(pool.inner())
                .await
                .unwrap();
            assert_eq!(rows, vec![(1, 10)]);
            drop(pool);
            drop_db(db).await;
        }
    };
}

tx_test!(postgres_transactions, sqlx::Postgres, pg_db().await);
tx_test!(mariadb_transactions, sqlx::MySql, my_db().await);
tx_test!(sqlite_transactions, sqlx::Sqlite, lite_db());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_query_text_modes_and_sqlcommenter() {
    install();
    let pool = TracedPool::<sqlx::Sqlite>::connect("sqlite::memory:")
        .await
        .unwrap();
    let full = pool.clone().with_query_text(QueryText::Full);
    let off = pool.clone().with_query_text(QueryText::Off);
    let commented = pool.clone().with_sqlcommenter(true);
    let trace = traced(4, || async {
        sqlx::query("SELECT 'visible' AS v")
            .fetch_one(&full)
            .await
            .unwrap();
        sqlx::query("SELECT 1 AS off")
            .fetch_one(&off)
            .await
            .unwrap();
        let row = sqlx::query("SELECT 2 AS c")
            .fetch_one(&commented)
            .await
            .unwrap();
        let _: i64 = row.get(0);
        sqlx::query("SELECT 3 /* mine */")
            .fetch_one(&commented)
            .await
            .unwrap();
    })
    .await;
    let selects = spans(&trace, "SELECT");
    assert_eq!(selects.len(), 4, "{}", trace.render());
    assert!(selects.iter().any(
        |s| matches!(s.attr("db.query.text"), Some(v) if v.as_str() == "SELECT 'visible' AS v")
    ));
    assert_eq!(
        selects
            .iter()
            .filter(|s| s.attr("db.query.text").is_none())
            .count(),
        1
    );
    assert_eq!(selects[0].str_attr("db.namespace"), ":memory:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlcommenter_appends_the_traceparent_seen_by_postgres() {
    install();
    let db = pg_db().await;
    let pool = TracedPool::<sqlx::Postgres>::connect(&db.url)
        .await
        .unwrap()
        .with_sqlcommenter(true);
    let mut seen = String::new();
    let trace = traced(2, || async {
        // the statement as the server received it
        seen =
            sqlx::query_scalar("SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid()")
                .fetch_one(&pool)
                .await
                .unwrap();
        sqlx::query("SELECT 1 /* already commented */")
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
    let span = trace.spans.iter().find(|s| matches!(s.attr("db.query.text"), Some(v) if v.as_str().contains("pg_stat_activity"))).unwrap();
    let expected = format!(
        "/*traceparent='00-{}-{}-01'*/",
        span.span_context.trace_id(),
        span.span_context.span_id()
    );
    assert!(seen.ends_with(&expected), "server saw {seen:?}");
    drop(pool);
    drop_db(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_nest_under_the_server_span() {
    use axum::routing::get;
    let pipeline = install();
    let db = lite_db();
    let pool = TracedPool::<sqlx::Sqlite>::connect(&db.url).await.unwrap();
    let pg = pg_db().await;
    let pg_pool = TracedPool::<sqlx::Postgres>::connect(&pg.url)
        .await
        .unwrap();
    let my = my_db().await;
    let my_pool = TracedPool::<sqlx::MySql>::connect(&my.url).await.unwrap();
    let app = axum::Router::new()
        .route(
            "/count",
            get(move || {
                let (pool, pg_pool, my_pool) = (pool.clone(), pg_pool.clone(), my_pool.clone());
                async move {
                    let a: i64 = sqlx::query_scalar("SELECT 1")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    let b: i32 = sqlx::query_scalar("SELECT 2")
                        .fetch_one(&pg_pool)
                        .await
                        .unwrap();
                    let c: i64 = sqlx::query_scalar("SELECT 3")
                        .fetch_one(&my_pool)
                        .await
                        .unwrap();
                    (a + i64::from(b) + c).to_string()
                }
            }),
        )
        .layer(tower_trace::TraceLayer::new());
    let (tid, body) = test_support::serve_and_get(app, "/count").await;
    assert_eq!(body, "6");
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(tid, 4))
        .await
        .unwrap();
    let server = trace.span("GET /count");
    let systems: Vec<&str> = trace
        .children(server)
        .iter()
        .map(|s| s.str_attr("db.system.name"))
        .collect();
    assert_eq!(systems.len(), 3, "{}", trace.render());
    for sys in ["sqlite", "postgresql", "mariadb"] {
        assert!(systems.contains(&sys), "{sys} missing in {systems:?}");
    }
    drop_db(db).await;
    drop_db(pg).await;
    drop_db(my).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_the_middle_of_a_stream_is_recorded_on_that_span() {
    install();
    let db = pg_db().await;
    let pool = TracedPool::<sqlx::Postgres>::connect(&db.url)
        .await
        .unwrap();
    let trace = traced(1, || async {
        let mut stream =
            sqlx::query("SELECT 10 / (3 - g) FROM generate_series(1, 5) g").fetch(&pool);
        let mut rows = 0;
        let err = loop {
            match stream.try_next().await {
                Ok(Some(_)) => rows += 1,
                Ok(None) => panic!("the stream should fail"),
                Err(e) => break e,
            }
        };
        assert_eq!(rows, 2);
        assert_eq!(
            err.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("22012")
        );
    })
    .await;
    let s = trace.span("SELECT generate_series");
    assert!(matches!(s.status, Status::Error { .. }));
    assert_eq!(s.str_attr("db.response.status_code"), "22012");
    drop(pool);
    drop_db(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_pool_connection_shows_on_the_span() {
    install();
    let inner = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let pool = TracedPool::new(inner);
    let held = pool.acquire().await.unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(held);
    });
    let trace = traced(1, || async {
        sqlx::query("SELECT 1").fetch_one(&pool).await.unwrap();
    })
    .await;
    release.await.unwrap();
    let s = trace.span("SELECT");
    match s.attr("db.client.connection.wait_time") {
        Some(opentelemetry::Value::F64(waited)) => assert!(*waited >= 0.1, "waited {waited} s"),
        other => panic!("wait time is {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_and_a_statement_timeout_are_recorded_with_sqlx_errors() {
    install();
    let db = pg_db().await;
    let inner = sqlx::pool::PoolOptions::<sqlx::Postgres>::new()
        .max_connections(1)
        .acquire_timeout(std::time::Duration::from_millis(200))
        .connect(&db.url)
        .await
        .unwrap();
    let pool = TracedPool::new(inner);
    let trace = traced(2, || async {
        // the only connection is held: the pool times out, sqlx's error comes back
        let held = pool.acquire().await.unwrap();
        let err = sqlx::query("SELECT 1").execute(&pool).await.unwrap_err();
        assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err:?}");
        drop(held);
        // a statement cut by statement_timeout
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL statement_timeout = '50ms'")
            .execute(&mut tx)
            .await
            .unwrap();
        let err = sqlx::query("SELECT pg_sleep(2)")
            .execute(&mut tx)
            .await
            .unwrap_err();
        assert_eq!(
            err.as_database_error().and_then(|e| e.code()).as_deref(),
            Some("57014")
        );
        tx.rollback().await.unwrap();
        // and the pool recovers
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
    })
    .await;
    let timed_out = trace
        .spans
        .iter()
        .find(|s| matches!(s.attr("error.type"), Some(v) if v.as_str() == "pool_timed_out"))
        .unwrap_or_else(|| panic!("no pool_timed_out span in:\n{}", trace.render()));
    assert!(matches!(timed_out.status, Status::Error { .. }));
    let cancelled = trace
        .spans
        .iter()
        .find(|s| matches!(s.attr("db.response.status_code"), Some(v) if v.as_str() == "57014"))
        .unwrap_or_else(|| panic!("no 57014 span in:\n{}", trace.render()));
    assert_eq!(cancelled.name, "SELECT");
    drop(pool);
    drop_db(db).await;
}
