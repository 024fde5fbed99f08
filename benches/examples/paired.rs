//! Interleaved A/B timing for the adapters' round-trip targets. On a shared 2-core machine the
//! speed drifts by tens of percent between criterion's sequential measurements; here bare and
//! traced alternate in short blocks, and the figure is the median of the per-round ratios.
//!
//! `cargo run --release -p benches --example paired -- <case> [rounds]` with `<case>` one of
//! `postgres`, `sqlite`, `redis`, `redis-unsampled`, `redis-aa`, `client`, `client-remote`, `client-aa`.
//! Needs PostgreSQL (database `trace_bench`, created by the sql benchmark) and Redis on loopback.

use std::time::{Duration, Instant};

use opentelemetry::trace::FutureExt as _;
use redis::AsyncCommands;

const BLOCK: usize = 200;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn time<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t = Instant::now();
    for _ in 0..BLOCK {
        f().await;
    }
    t.elapsed() / BLOCK as u32
}

macro_rules! paired {
    ($rounds:expr, $a:expr, $b:expr) => {{
        let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            time($a).await;
            time($b).await;
        }
        for _ in 0..$rounds {
            let ta = time($a).await.as_secs_f64() * 1e6;
            let tb = time($b).await.as_secs_f64() * 1e6;
            a.push(ta);
            b.push(tb);
            r.push(tb / ta);
        }
        (median(&mut a), median(&mut b), median(&mut r))
    }};
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    benches::install();
    let mut args = std::env::args().skip(1);
    let case = args.next().unwrap_or_else(|| "sqlite".into());
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(40);
    // Both sides run in a spawned task, as a request handler's calls do (PAIRED_INLINE=1: in the
    // runtime's main future instead).
    let inline = std::env::var_os("PAIRED_INLINE").is_some();
    let run = measure(case.clone(), rounds);
    let (bare, traced, ratio) = if inline {
        run.await
    } else {
        tokio::spawn(run).await.unwrap()
    };
    println!(
        "{case}: bare {bare:.2} us, traced {traced:.2} us, median ratio {ratio:.4} ({:+.2}%), {rounds} rounds of {BLOCK}",
        (ratio - 1.0) * 100.0
    );
}

/// The bare and traced medians (us) and the median ratio for one case.
async fn measure(case: String, rounds: usize) -> (f64, f64, f64) {
    match case.as_str() {
        "postgres" => {
            let pool = benches::sql_bench::postgres().await;
            let traced_pool = sqlx_trace::TracedPool::new(pool.clone());
            const Q: &str = "SELECT id, name, email FROM bench_users WHERE id = $1";
            paired!(
                rounds,
                || {
                    let p = pool.clone();
                    async move {
                        let _: (i32, String, String) =
                            sqlx::query_as(Q).bind(1).fetch_one(&p).await.unwrap();
                    }
                },
                || {
                    let p = traced_pool.clone();
                    async move {
                        let _: (i32, String, String) =
                            sqlx::query_as(Q).bind(1).fetch_one(&p).await.unwrap();
                    }
                }
            )
        }
        "sqlite" => {
            let pool = sqlx::pool::PoolOptions::<sqlx::Sqlite>::new()
                .max_connections(1)
                .connect("sqlite::memory:")
                .await
                .unwrap();
            sqlx::query("CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT, email TEXT)")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO u VALUES (1, 'ada', 'ada@example.com')")
                .execute(&pool)
                .await
                .unwrap();
            let traced_pool = sqlx_trace::TracedPool::new(pool.clone());
            const Q: &str = "SELECT id, name, email FROM u WHERE id = ?";
            paired!(
                rounds,
                || {
                    let p = pool.clone();
                    async move {
                        let _: (i64, String, String) =
                            sqlx::query_as(Q).bind(1).fetch_one(&p).await.unwrap();
                    }
                },
                || {
                    let p = traced_pool.clone();
                    async move {
                        let _: (i64, String, String) =
                            sqlx::query_as(Q).bind(1).fetch_one(&p).await.unwrap();
                    }
                }
            )
        }
        "redis" | "redis-unsampled" | "redis-aa" => {
            let unsampled = case == "redis-unsampled";
            // bare against bare: the bias of the method itself
            let aa = case == "redis-aa";
            // REDIS_AA_CONTEXT=1: the bare side of redis-aa runs under an unsampled parent too
            let aa_cx = std::env::var_os("REDIS_AA_CONTEXT").is_some();
            let client = redis::Client::open("redis://127.0.0.1:6379/6").unwrap();
            let con = client.get_multiplexed_async_connection().await.unwrap();
            let traced = redis_trace::TracedConnection::new(con.clone()).with_address_of(&client);
            const KEY: &str = "trace_bench:key";
            let under_unsampled_parent = unsampled || (aa && aa_cx);
            paired!(
                rounds,
                || {
                    let mut c = con.clone();
                    async move {
                        let _: Option<String> = c.get(KEY).await.unwrap();
                    }
                },
                || {
                    // one clone per GET on each side, as on the bare side (cloning both here
                    // charged the traced side an extra connection clone: +1 % in A/A runs)
                    let side = if aa {
                        Err(con.clone())
                    } else {
                        Ok(traced.clone())
                    };
                    async move {
                        let get = async move {
                            let v: redis::RedisResult<Option<String>> = match side {
                                Err(mut b) => b.get(KEY).await,
                                Ok(mut t) => t.get(KEY).await,
                            };
                            v.unwrap();
                        };
                        if under_unsampled_parent {
                            get.with_context(benches::unsampled_parent()).await
                        } else {
                            get.await
                        }
                    }
                }
            )
        }
        "client" | "client-remote" | "client-aa" => {
            // client-remote: the server runs on its own thread and runtime, as another
            // service would (in "client" one thread runs both sides, so the server's parsing
            // of the injected headers is charged to the client). client-aa: empty stack on
            // both sides, the runner's own bias.
            let url = if case == "client" {
                benches::users_server().await
            } else {
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async move {
                        tx.send(benches::users_server().await).unwrap();
                        std::future::pending::<()>().await;
                    });
                });
                rx.recv().unwrap()
            };
            let aa = case == "client-aa";
            let empty = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
            let mut traced = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
            if !aa {
                traced = traced.with(reqwest_trace::TracingMiddleware::new());
            }
            let traced = traced.build();
            paired!(
                rounds,
                || {
                    let (c, u) = (empty.clone(), url.clone());
                    async move {
                        c.get(&u).send().await.unwrap().bytes().await.unwrap();
                    }
                },
                || {
                    let (c, u) = (traced.clone(), url.clone());
                    async move {
                        c.get(&u).send().await.unwrap().bytes().await.unwrap();
                    }
                }
            )
        }
        other => panic!("unknown case {other}"),
    }
}
