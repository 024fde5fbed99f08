//! Runs N operations of one adapter, bare or traced, for `valgrind --tool=callgrind`: the
//! instruction counts are the repeatable measure of what an adapter adds on the caller's thread.
//!
//! `valgrind --tool=callgrind --separate-threads=yes target/release/examples/adapter_profile <case> <bare|traced> 5000`
//! with `<case>` one of `sqlite` (in-memory primary-key select), `redis` (GET on 127.0.0.1:6379,
//! database 6), `redis-floor` (the bare GET inside the cheapest sampled span, as `paired
//! redis-floor`; its `bare` is the plain GET), `client` (loopback GET through reqwest-middleware to an axum server on the same
//! thread; `PROFILE_REMOTE=1` puts the server on its own thread, so the first thread's file is
//! the client's side alone) or `sanitize` (the SQL sanitiser alone on a short statement).

use redis::AsyncCommands;
use sqlx::pool::PoolOptions;
use sqlx::Executor;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    benches::install();
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "sqlite".into());
    let traced = args.next().as_deref() != Some("bare");
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5000);
    match case.as_str() {
        "sqlite" => {
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
            let traced_pool = sqlx_trace::TracedPool::new(pool.clone());
            const Q: &str = "SELECT id, name, email FROM bench_users WHERE id = ?";
            for _ in 0..n {
                let row: (i64, String, String) = if traced {
                    sqlx::query_as(Q)
                        .bind(1)
                        .fetch_one(&traced_pool)
                        .await
                        .unwrap()
                } else {
                    sqlx::query_as(Q).bind(1).fetch_one(&pool).await.unwrap()
                };
                std::hint::black_box(row);
            }
        }
        "redis" | "redis-floor" => {
            // redis-floor: the bare GET inside the cheapest sampled span (`paired redis-floor`)
            let floor = case == "redis-floor" && traced;
            let floor_tracer = trace_core::tracer::Tracer::new("redis-floor");
            let floor_target = trace_core::db::DbTarget {
                system: "redis",
                ..Default::default()
            };
            let client = redis::Client::open("redis://127.0.0.1:6379/6").unwrap();
            let mut bare = client.get_multiplexed_async_connection().await.unwrap();
            let _: () = bare.set("trace_bench:key", "value").await.unwrap();
            let mut wrapped =
                redis_trace::TracedConnection::new(bare.clone()).with_address_of(&client);
            for _ in 0..n {
                let v: Option<String> = if floor {
                    use opentelemetry::trace::Span as _;
                    let mut span = trace_core::db::start_with(
                        &floor_tracer,
                        &floor_target,
                        None,
                        &opentelemetry::Context::current(),
                        || trace_core::db::DbOperation {
                            name: "GET".into(),
                            ..Default::default()
                        },
                    );
                    let v = bare.get("trace_bench:key").await.unwrap();
                    span.end();
                    v
                } else if traced {
                    wrapped.get("trace_bench:key").await.unwrap()
                } else {
                    bare.get("trace_bench:key").await.unwrap()
                };
                std::hint::black_box(v);
            }
        }
        "client" => {
            // PROFILE_REMOTE=1: the server on its own thread (callgrind's first thread file is
            // then the client's side alone)
            let url = if std::env::var_os("PROFILE_REMOTE").is_some() {
                benches::users_server_on_own_thread()
            } else {
                benches::users_server().await
            };
            let mut builder = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
            if traced {
                builder = builder.with(reqwest_trace::TracingMiddleware::new());
            }
            let client = builder.build();
            // PROFILE_UNSAMPLED=1: the traced side under a caller whose flags say "not sampled";
            // PROFILE_HEADER=1: the bare side sending a `traceparent` (what the header costs)
            let unsampled = std::env::var_os("PROFILE_UNSAMPLED").is_some();
            let header = std::env::var_os("PROFILE_HEADER").is_some();
            let header = header.then_some(benches::server_bench::UNSAMPLED_PARENT);
            for _ in 0..n {
                let b = benches::client_get(&client, &url, header, unsampled).await;
                std::hint::black_box(b);
            }
        }
        "sanitize" => {
            // the sanitiser alone, on the short statement of the criterion benchmark
            const SHORT: &str = "SELECT u.id, u.name FROM users u WHERE u.email = 'someone@example.com' AND u.age > 42 -- lookup";
            for _ in 0..n {
                std::hint::black_box(trace_core::sql::sanitize(
                    std::hint::black_box(SHORT),
                    trace_core::sql::Dialect::Postgres,
                    1 << 20,
                ));
            }
        }
        other => panic!("unknown case {other}"),
    }
}
