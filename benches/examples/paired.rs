//! Interleaved A/B timing for the adapters' round-trip targets. On a shared 2-core machine the
//! speed drifts by tens of percent between criterion's sequential measurements; here bare and
//! traced alternate in short blocks, and the figure is the median of the per-round ratios.
//!
//! `cargo run --release -p benches --example paired -- <case> [rounds]` with `<case>` one of
//! `postgres`, `postgres-peer` (bare against the peer oxtel-sql), `sqlite`, `redis`,
//! `redis-unsampled`, `redis-aa`, `redis-floor`, `client`, `client-remote`, `client-aa`, `client-noop`,
//! `client-header`, `client-peer` (reqwest-tracing 0.7, spans only),
//! or `server` (the server layer against bare axum and `OtelAxumLayer`, see [`server`]).
//! Needs PostgreSQL (database `trace_bench`, created by the sql benchmark) and Redis on loopback.
//! For the client cases: `PAIRED_NO_PROPAGATE=1` runs the middleware without injection (the span
//! alone); `PAIRED_HEADER=1 ... client-aa` has the empty stack send a `traceparent` to the server
//! on its own thread (what carrying the header costs any client); `PAIRED_UNSAMPLED=1` runs the
//! traced side under a caller that does not sample; `PAIRED_REMOTE=1` puts the server on its own
//! thread in every client case (`client-noop`, `client-header`). `redis-floor`: the bare
//! connection's GET inside the cheapest sampled span the pipeline makes (a client span with only
//! `db.system.name`, no statement rendered, no future wrapped), so the Redis figure can be read
//! against what any span costs on the machine at hand.

use std::time::{Duration, Instant};

use benches::median;
use opentelemetry::trace::FutureExt as _;
use redis::AsyncCommands;

const BLOCK: usize = 200;

/// The calling thread's CPU time so far (ns): its CPU clock, up to date at the call.
fn on_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if r != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `PAIRED_EVICT=<KiB>`: between calls, both variants write a buffer that large (outside the
/// timed call), so every call starts with caches as cold as a thread woken on a VM whose idle CPU
/// ran something else meanwhile.
fn evict() {
    use std::sync::OnceLock;
    static BUF: OnceLock<Option<std::sync::Mutex<Vec<u8>>>> = OnceLock::new();
    let buf = BUF.get_or_init(|| {
        let kib: usize = std::env::var("PAIRED_EVICT").ok()?.parse().ok()?;
        Some(std::sync::Mutex::new(vec![0u8; kib * 1024]))
    });
    if let Some(b) = buf {
        let mut b = b.lock().unwrap();
        for i in (0..b.len()).step_by(64) {
            b[i] = b[i].wrapping_add(1);
        }
        std::hint::black_box(&mut *b);
    }
}

/// One block of calls: wall time per call and the thread's on-CPU time per call (us). The
/// on-CPU figure counts only this thread (the client's side of a round trip, with the kernel's
/// work done on its behalf), so it moves less with where the scheduler put the other side.
async fn time<F, Fut>(mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let cpu = on_cpu_ns();
    let mut wall = Duration::ZERO;
    for _ in 0..BLOCK {
        evict();
        let t = Instant::now();
        f().await;
        wall += t.elapsed();
    }
    let cpu = (on_cpu_ns() - cpu) as f64 / 1e3 / BLOCK as f64;
    (wall.as_secs_f64() * 1e6 / BLOCK as f64, cpu)
}

/// The medians of one case: wall time per call, bare and traced, the per-round ratio, and the
/// on-CPU time per call of the timing thread, bare and traced.
struct Medians {
    bare: f64,
    traced: f64,
    ratio: f64,
    /// The median ratio's 95 % confidence interval (`benches::median_interval`).
    ratio_interval: (f64, f64),
    cpu_bare: f64,
    cpu_traced: f64,
}

macro_rules! paired {
    ($rounds:expr, $a:expr, $b:expr) => {{
        let (mut a, mut b, mut r, mut ca, mut cb) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            time($a).await;
            time($b).await;
        }
        for _ in 0..$rounds {
            let (ta, cpu_a) = time($a).await;
            let (tb, cpu_b) = time($b).await;
            a.push(ta);
            b.push(tb);
            r.push(tb / ta);
            ca.push(cpu_a);
            cb.push(cpu_b);
        }
        Medians {
            bare: median(&mut a),
            traced: median(&mut b),
            ratio: median(&mut r),
            ratio_interval: benches::median_interval(&mut r),
            cpu_bare: median(&mut ca),
            cpu_traced: median(&mut cb),
        }
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
    if case == "server" {
        server(rounds).await;
        return;
    }
    let run = measure(case.clone(), rounds);
    let m = if inline {
        run.await
    } else {
        tokio::spawn(run).await.unwrap()
    };
    println!(
        "{case}: bare {:.2} us, traced {:.2} us, median ratio {:.4} ({:+.2}%; 95 % CI {:+.2} to {:+.2}%), \
         {rounds} rounds of {BLOCK}; on-CPU per call (this thread): bare {:.2} us, traced {:.2} us ({:+.2} us)",
        m.bare,
        m.traced,
        m.ratio,
        (m.ratio - 1.0) * 100.0,
        (m.ratio_interval.0 - 1.0) * 100.0,
        (m.ratio_interval.1 - 1.0) * 100.0,
        m.cpu_bare,
        m.cpu_traced,
        m.cpu_traced - m.cpu_bare,
    );
    // (so that a variant recording nothing, a peer's spans filtered out say, shows here)
    let pipeline = benches::install();
    let _ = pipeline.provider.force_flush();
    let exported = pipeline.exported.load(std::sync::atomic::Ordering::Relaxed);
    println!("{case}: spans exported {exported}");
}

/// Bare sqlx against `other` (a pool `wrap` makes of the same connection pool), on the
/// PostgreSQL primary-key select; `select` runs it on `other`.
async fn postgres_against<P, F>(
    rounds: usize,
    wrap: impl FnOnce(sqlx::PgPool) -> P,
    select: impl Fn(P) -> F,
) -> Medians
where
    P: Clone,
    F: std::future::Future<Output = ()>,
{
    let pool = benches::sql_bench::postgres().await;
    let other = wrap(pool.clone());
    paired!(
        rounds,
        || {
            let p = pool.clone();
            async move { benches::sql_bench::pk_select_pg(&p).await }
        },
        || select(other.clone())
    )
}

/// The medians of one case.
async fn measure(case: String, rounds: usize) -> Medians {
    match case.as_str() {
        "postgres" => {
            let select = |p: sqlx_trace::TracedPool<sqlx::Postgres>| async move {
                benches::sql_bench::pk_select_pg(&p).await
            };
            postgres_against(rounds, sqlx_trace::TracedPool::new, select).await
        }
        // the peer that builds for sqlx 0.9, oxtel-sql (`tracing` spans through the bridge into
        // the same pipeline), on the same select
        "postgres-peer" => {
            let select = |p: oxtel_sql::sqlx::v0_9::Pool<sqlx::Postgres>| async move {
                benches::sql_bench::pk_select_pg(&p).await
            };
            postgres_against(rounds, oxtel_sql::sqlx::v0_9::Pool::new, select).await
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
        "redis" | "redis-unsampled" | "redis-aa" | "redis-floor" => {
            let unsampled = case == "redis-unsampled";
            // bare against bare: the bias of the method itself
            let aa = case == "redis-aa";
            let floor = case == "redis-floor";
            // made once and borrowed by every GET: nothing cloned on the traced side of the others
            let floor_tracer: &'static trace_core::tracer::Tracer =
                Box::leak(Box::new(trace_core::tracer::Tracer::new("redis-floor")));
            let floor_target: &'static trace_core::db::DbTarget =
                Box::leak(Box::new(trace_core::db::DbTarget {
                    system: "redis",
                    ..Default::default()
                }));
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
                    let side = if aa || floor {
                        Err(con.clone())
                    } else {
                        Ok(traced.clone())
                    };
                    async move {
                        let get = async move {
                            let v: redis::RedisResult<Option<String>> = match side {
                                Err(mut b) if floor => {
                                    use opentelemetry::trace::Span as _;
                                    let mut span = trace_core::db::start_with(
                                        floor_tracer,
                                        floor_target,
                                        None,
                                        &opentelemetry::Context::current(),
                                        || trace_core::db::DbOperation {
                                            name: "GET".into(),
                                            ..Default::default()
                                        },
                                    );
                                    let v = b.get(KEY).await;
                                    span.end();
                                    v
                                }
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
        "client" | "client-remote" | "client-aa" | "client-noop" | "client-header"
        | "client-peer" => {
            // client-remote: the server runs on its own thread and runtime, as another
            // service would (in "client" one thread runs both sides, so the server's parsing
            // of the injected headers is charged to the client). client-aa: empty stack on
            // both sides, the runner's own bias. On one thread as "client": client-noop, a
            // middleware that only calls the next (what running any middleware costs);
            // client-header, the empty stack sending a `traceparent` (what the server's reading
            // of the injected header costs the thread).
            // PAIRED_REMOTE=1: the server on its own thread for every client case
            let remote = std::env::var_os("PAIRED_REMOTE").is_some();
            // client-peer: reqwest-tracing 0.7 (server on its own thread), whose spans reach the
            // pipeline through the bridge; with no feature for OpenTelemetry 0.33 it injects
            // nothing, so it compares with client-remote under PAIRED_NO_PROPAGATE=1
            let own_thread = ["client-remote", "client-aa", "client-peer"].contains(&case.as_str());
            let url = if !remote && !own_thread {
                benches::users_server().await
            } else {
                benches::users_server_on_own_thread()
            };
            let aa = case == "client-aa" || case == "client-header";
            let empty = reqwest_middleware::ClientBuilder::new(reqwest::Client::new()).build();
            let mut traced = reqwest_middleware::ClientBuilder::new(reqwest::Client::new());
            if case == "client-noop" {
                traced = traced.with(benches::NoopMiddleware);
            } else if case == "client-peer" {
                traced = traced.with(reqwest_tracing::TracingMiddleware::default());
            } else if !aa {
                // PAIRED_NO_PROPAGATE=1: the span without the injected headers (what the
                // span alone costs, apart from writing and sending `traceparent`)
                let propagate = std::env::var_os("PAIRED_NO_PROPAGATE").is_none();
                traced = traced.with(reqwest_trace::TracingMiddleware::new().propagate(propagate));
            }
            let traced = traced.build();
            // PAIRED_UNSAMPLED=1: the traced side's calls under a caller whose flags say "not
            // sampled" (the middleware, no recording span, `traceparent` with flags 00)
            let unsampled = std::env::var_os("PAIRED_UNSAMPLED").is_some();
            // PAIRED_HEADER=1 with client-aa: the empty stack sending a `traceparent` to the
            // server on its own thread (what the header alone costs the client's thread)
            let header = (case == "client-header"
                || (case == "client-aa" && std::env::var_os("PAIRED_HEADER").is_some()))
            .then_some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
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
                        benches::client_get(&c, &u, header, unsampled).await;
                    }
                }
            )
        }
        other => panic!("unknown case {other}"),
    }
}

/// The server layer's targets, interleaved: each round times a block of the server benchmarks'
/// request (`benches::server_bench`) through bare axum, tower-trace configured for axum
/// (`axum_body()`: sampled; parent flag 00; `traceidratio` 0; an excluded route; and, for
/// comparison, sampled and flag 00 in the default body mode), `OtelAxumLayer`, a pass-through layer and
/// `benches::server_bench::PropagateLayer` (the caller's context made current, nothing else), all
/// on routers prepared as `axum::serve` prepares them, in one task (the export thread runs beside
/// it, as in the criterion benchmark; each block starts with the queue flushed). Prints the
/// medians per request and the median over rounds of each round's overhead figures: sampled
/// overhead over `OtelAxumLayer`'s, what an unsampled request adds to bare axum (the same
/// request, with or without a `traceparent`), and what propagation alone adds.
async fn server(rounds: usize) {
    use benches::server_bench::{
        ratio0_layer, router, run, served, PropagateLayer, UNSAMPLED_PARENT as TP,
    };

    let base = router();
    let variants: Vec<(&str, axum::Router, Option<&str>)> = vec![
        ("bare", base.clone(), None),
        ("bare-tp", base.clone(), Some(TP)),
        (
            "sampled",
            base.clone()
                .layer(tower_trace::TraceLayer::new().axum_body()),
            None,
        ),
        (
            "flag00",
            base.clone()
                .layer(tower_trace::TraceLayer::new().axum_body()),
            Some(TP),
        ),
        (
            "ratio0",
            base.clone().layer(ratio0_layer().axum_body()),
            None,
        ),
        (
            "otel-axum",
            base.clone()
                .layer(axum_tracing_opentelemetry::middleware::OtelInResponseLayer)
                .layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default()),
            None,
        ),
        // a layer that does nothing: what `Router::layer` costs any layer
        (
            "pass-through layer",
            base.clone().layer(tower::util::MapRequestLayer::new(
                |r: axum::extract::Request| r,
            )),
            None,
        ),
        // the caller's context made current and nothing else: an excluded route of this layer,
        // and the least a hand-written layer can do (extract, `with_context`)
        (
            "excluded route",
            base.clone().layer(
                tower_trace::TraceLayer::new()
                    .exclude("/users/{id}")
                    .axum_body(),
            ),
            Some(TP),
        ),
        (
            "propagate only",
            base.clone().layer(PropagateLayer),
            Some(TP),
        ),
        // the default body mode (`ResponseBody`, for any `http` service), which the router boxes
        (
            "sampled, wrapped body",
            base.clone().layer(tower_trace::TraceLayer::new()),
            None,
        ),
        (
            "flag00, wrapped body",
            base.clone().layer(tower_trace::TraceLayer::new()),
            Some(TP),
        ),
    ];
    let variants: Vec<_> = variants
        .into_iter()
        .map(|(n, r, tp)| (n, served(r), tp))
        .collect();
    // a request here takes 1-5 us: blocks ten times longer than the round trips' keep each
    // round's figures steady
    const SERVER_BLOCK: usize = 10 * BLOCK;
    async fn block(app: &axum::Router, tp: Option<&str>) -> f64 {
        // the spans of the block before are exported first (untimed): the export thread's work
        // and the memory it frees then belong to the variant that made them
        let _ = benches::install().provider.force_flush();
        let t = Instant::now();
        for _ in 0..SERVER_BLOCK {
            run(app, tp).await;
        }
        t.elapsed().as_secs_f64() * 1e6 / SERVER_BLOCK as f64
    }
    for _ in 0..3 {
        for (_, app, tp) in &variants {
            block(app, *tp).await;
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    let (mut share, mut flag00, mut ratio0, mut layer, mut excluded, mut propagate) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let (mut share_wrapped, mut flag00_wrapped) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let mut t = vec![0.0; variants.len()];
        // the order turns every round, so no variant always follows the same one
        for k in 0..variants.len() {
            let i = (k + round) % variants.len();
            let (_, app, tp) = &variants[i];
            t[i] = block(app, *tp).await;
        }
        share.push((t[2] - t[0]) / (t[5] - t[0]));
        flag00.push(t[3] - t[1]);
        ratio0.push(t[4] - t[0]);
        layer.push(t[6] - t[0]);
        excluded.push(t[7] - t[1]);
        propagate.push(t[8] - t[1]);
        share_wrapped.push((t[9] - t[0]) / (t[5] - t[0]));
        flag00_wrapped.push(t[10] - t[1]);
        for (i, v) in t.into_iter().enumerate() {
            times[i].push(v);
        }
    }
    for (i, (name, _, _)) in variants.iter().enumerate() {
        println!("server {name}: {:.3} us", median(&mut times[i]));
    }
    // (each sorts its rounds in place: `share`'s first and last are its min and max below)
    let share_ci = benches::median_interval(&mut share);
    let flag00_ci = benches::median_interval(&mut flag00);
    let ratio0_ci = benches::median_interval(&mut ratio0);
    println!(
        "server: sampled overhead / OtelAxumLayer overhead {:.3} (median of rounds; min {:.3}, max {:.3}; \
         95 % CI {:.3} to {:.3}); not sampled over bare: flag 00 {:+.3} us (95 % CI {:+.3} to {:+.3}), \
         traceidratio 0 {:+.3} us (95 % CI {:+.3} to {:+.3}) (a pass-through layer: {:+.3} us); \
         {rounds} rounds of {SERVER_BLOCK}",
        median(&mut share),
        share[0],
        share[share.len() - 1],
        share_ci.0,
        share_ci.1,
        median(&mut flag00),
        flag00_ci.0,
        flag00_ci.1,
        median(&mut ratio0),
        ratio0_ci.0,
        ratio0_ci.1,
        median(&mut layer),
    );
    println!(
        "server: the caller's context made current, no span (over bare with the same traceparent): \
         an excluded route {:+.3} us, a minimal propagating layer {:+.3} us",
        median(&mut excluded),
        median(&mut propagate),
    );
    println!(
        "server: the default body mode (ResponseBody, boxed by the router): sampled overhead / \
         OtelAxumLayer overhead {:.3}, not sampled (flag 00) {:+.3} us",
        median(&mut share_wrapped),
        median(&mut flag00_wrapped),
    );
}
