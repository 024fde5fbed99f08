//! The demo's scenario against real PostgreSQL and Redis, exported over OTLP into a receiver in
//! the test; the whole tree of one request is checked.

use std::time::Duration;

use test_support::{Receiver, Span, Value};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn s(v: Option<&Value>) -> Option<&str> {
    match v {
        Some(Value::Str(s)) => Some(s.as_str()),
        _ => None,
    }
}

pub async fn run(receiver: &Receiver, guard: trace_init::Guard) {
    let unique = format!(
        "e2e_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let admin = sqlx::PgPool::connect(PG_ADMIN)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {unique}")))
        .execute(&admin)
        .await
        .unwrap();
    let config = demo::Config {
        database_url: format!("postgres://postgres@127.0.0.1:5432/{unique}"),
        redis_url: "redis://127.0.0.1:6379/8".into(),
        stream: format!("{unique}:jobs"),
        key_prefix: format!("{unique}:"),
        addr: "127.0.0.1:0".parse().unwrap(),
    };
    let running = demo::start(config).await.unwrap();
    assert!(running.redis, "Redis on 127.0.0.1:6379");
    let results = demo::scenario(running.addr).await;
    let trace_of = |path: &str| {
        results
            .iter()
            .find(|r| r.0 == path)
            .and_then(|r| r.2.clone())
            .unwrap()
    };
    let statuses: Vec<(String, u16)> = results.iter().map(|r| (r.0.clone(), r.1)).collect();
    assert_eq!(statuses[0], ("/users/1".to_string(), 200));
    assert_eq!(statuses[3], ("/checkout/1".to_string(), 500));
    assert_eq!(statuses[4], ("/report".to_string(), 500));
    let miss = trace_of("/users/1");
    // Secrets in every place a request can carry them, with default settings.
    let secret_res = reqwest::Client::new()
        .get(format!(
            "http://{}/users/3?sig=sekrit-sig&X-Amz-Signature=sekrit-amz&X-Amz-Credential=sekrit-cred",
            running.addr
        ))
        .header("authorization", "Bearer sekrit-token")
        .header("cookie", "session=sekrit-cookie")
        .send()
        .await
        .unwrap();
    assert_eq!(secret_res.status(), 200);
    {
        use redis::AsyncCommands;
        let pool = sqlx_trace::TracedPool::<sqlx::Postgres>::connect(&format!(
            "postgres://postgres@127.0.0.1:5432/{unique}"
        ))
        .await
        .unwrap();
        let _: Option<i32> = sqlx::query_scalar("SELECT id FROM users WHERE email = 'sekrit-email@example.com' AND name = 'sekrit-name'")
            .fetch_optional(&pool)
            .await
            .unwrap();
        let client = redis::Client::open("redis://127.0.0.1:6379/8").unwrap();
        let mut con = redis_trace::TracedConnection::connect(&client)
            .await
            .unwrap();
        let _: () = con
            .set(format!("{unique}:token"), "sekrit-redis-value")
            .await
            .unwrap();
        let _: redis::RedisResult<()> = redis::cmd("AUTH")
            .arg("admin")
            .arg("sekrit-auth")
            .query_async(&mut con)
            .await;
    }
    // the worker takes the job, then everything is flushed by dropping the guard
    tokio::time::sleep(Duration::from_millis(800)).await;
    running.stop();
    tokio::task::spawn_blocking(move || drop(guard))
        .await
        .unwrap();

    let spans = receiver.wait_until(Duration::from_secs(10), |s| {
        s.iter().any(|x| x.name.starts_with("process "))
    });
    let tree: Vec<&Span> = spans.iter().filter(|s| s.trace_id == miss).collect();
    let dump = tree
        .iter()
        .map(|s| {
            format!(
                "{} [{}] parent={} attrs={:?}",
                s.name, s.kind, s.parent_span_id, s.attributes
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let find = |name: &str, kind: i32| {
        *tree
            .iter()
            .find(|s| s.name == name && s.kind == kind)
            .unwrap_or_else(|| panic!("no {name} (kind {kind}) in:\n{dump}"))
    };
    let server = find("GET /users/{id}", 2);
    assert!(server.parent_span_id.is_empty(), "the request is the root");
    let redis_get = find("GET", 3);
    assert_eq!(s(redis_get.attr("db.system.name")), Some("redis"));
    assert_eq!(
        redis_get.attr("db.redis.cache_hit"),
        Some(&Value::Bool(false))
    );
    let sql = find("SELECT users", 3);
    assert_eq!(s(sql.attr("db.system.name")), Some("postgresql"));
    assert_eq!(sql.parent_span_id, server.span_id);
    let client = find("GET /stock/{id}", 3);
    assert_eq!(client.parent_span_id, server.span_id);
    let inventory = find("GET /stock/{id}", 2);
    assert_eq!(
        inventory.parent_span_id, client.span_id,
        "the second service is beneath the client span"
    );
    let stock_sql = find("SELECT stock", 3);
    assert_eq!(stock_sql.parent_span_id, inventory.span_id);
    let producer = tree
        .iter()
        .find(|s| s.kind == 4)
        .unwrap_or_else(|| panic!("no producer span in:\n{dump}"));
    let consumer = tree
        .iter()
        .find(|s| s.kind == 5)
        .unwrap_or_else(|| panic!("no consumer span in:\n{dump}"));
    assert_eq!(
        consumer.parent_span_id, producer.span_id,
        "the worker continues the trace"
    );
    assert!(tree
        .iter()
        .any(|s| s.name == "INSERT audit" && s.parent_span_id == consumer.span_id));
    assert!(tree.iter().any(|s| s.name == "SETEX"));
    for span in &tree {
        assert_eq!(
            s(span.attr("user.id")),
            Some("u-42"),
            "user.id on {}",
            span.name
        );
        assert_eq!(
            s(span.attr("profile.id")),
            Some("1"),
            "profile.id on {}",
            span.name
        );
        assert_eq!(s(span.resource_attr("service.name")), Some("demo-e2e"));
    }

    // the error spans
    let checkout = trace_of("/checkout/1");
    let errs: Vec<&Span> = spans.iter().filter(|s| s.trace_id == checkout).collect();
    let srv = errs
        .iter()
        .find(|s| s.name == "GET /checkout/{id}")
        .unwrap();
    assert_eq!(
        (srv.status_code, s(srv.attr("error.type"))),
        (2, Some("500"))
    );
    let cli = errs
        .iter()
        .find(|s| s.name == "GET /reserve/{id}" && s.kind == 3)
        .unwrap();
    assert_eq!(
        (cli.status_code, s(cli.attr("error.type"))),
        (2, Some("503"))
    );
    let report = trace_of("/report");
    let failed = spans
        .iter()
        .find(|s| s.trace_id == report && s.kind == 3)
        .unwrap();
    assert_eq!(failed.name, "SELECT sales_report");
    assert_eq!(failed.status_code, 2);
    assert_eq!(s(failed.attr("db.response.status_code")), Some("42P01"));
    assert_eq!(s(failed.attr("error.type")), Some("42P01"));
    // nothing secret reached the collector
    let everything = format!("{spans:?}");
    assert!(
        everything.contains("SELECT users") && everything.contains("/users/{id}"),
        "the dump is real"
    );
    assert!(
        everything.contains(&format!("SET {unique}:token ?")),
        "the Redis SET with a secret value was exported"
    );
    assert!(
        everything.contains("email = ? AND name = ?"),
        "the SQL with secret literals was exported"
    );
    assert!(
        everything.contains("X-Amz-Signature=REDACTED"),
        "the signed URL was exported"
    );
    for secret in [
        "sekrit-sig",
        "sekrit-amz",
        "sekrit-cred",
        "sekrit-token",
        "sekrit-cookie",
        "sekrit-email",
        "sekrit-name",
        "sekrit-redis-value",
        "sekrit-auth",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} reached the collector"
        );
    }
    // /health produced nothing
    assert!(spans.iter().all(|s| s.name != "GET /health"));

    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {unique} WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
    let client = redis::Client::open("redis://127.0.0.1:6379/8").unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::AsyncCommands::keys(&mut con, format!("{unique}:*"))
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::AsyncCommands::del(&mut con, keys).await.unwrap();
    }
}
