//! What a database client span costs when several threads make spans for one pool at once,
//! with the pool's `server.address` and `db.namespace` held as an `Arc`-shared string (every span
//! clones and drops them: one reference count written by every thread) or interned (a `'static`
//! string copied). Two threads make sampled `db::start_with` spans (no round trip, nothing else)
//! into the benchmark pipeline (`benches::install`, spans discarded on the export thread); the
//! two kinds alternate for `rounds` rounds and the figure is the median per kind. With `sql` as
//! the first argument each span is described by `sql::analyze` (each thread's statement cache)
//! with the interned target, as sqlx-trace does: what the statement's shared values cost.
//!
//! `cargo run --release -p benches --example shared_target -- [sql] [rounds] [spans per thread]`

use std::sync::{Arc, Barrier};
use std::time::Instant;

use benches::median;
use opentelemetry::trace::Span as _;
use opentelemetry::StringValue;
use trace_core::db::{self, DbOperation, DbTarget};
use trace_core::tracer::Tracer;

const THREADS: usize = 2;

fn target(shared: bool) -> DbTarget {
    let value = |s: &str| {
        if shared {
            StringValue::from(Arc::<str>::from(s))
        } else {
            trace_core::intern::target_value(s)
        }
    };
    DbTarget {
        system: "postgresql",
        namespace: Some(value("orders")),
        server_address: Some(value("db.internal")),
        server_port: Some(5432),
    }
}

const STATEMENT: &str = "SELECT id, name FROM users WHERE id = $1";

/// Nanoseconds per span, averaged over the threads, for `spans` spans on each.
fn run(target: &DbTarget, spans: usize, sql: bool) -> f64 {
    let tracer = Tracer::new("shared-target");
    let barrier = Barrier::new(THREADS);
    let total: f64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (tracer, barrier) = (&tracer, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..spans {
                        let mut span = db::start_with(
                            tracer,
                            target,
                            None,
                            &opentelemetry::Context::new(),
                            || {
                                if sql {
                                    trace_core::sql::analyze(
                                        STATEMENT,
                                        trace_core::sql::Dialect::Postgres,
                                        trace_core::sql::QueryText::Sanitized,
                                        2048,
                                        "postgresql",
                                    )
                                    .operation()
                                } else {
                                    DbOperation {
                                        name: "SELECT users".into(),
                                        operation: Some("SELECT".into()),
                                        ..Default::default()
                                    }
                                }
                            },
                        );
                        span.end();
                    }
                    start.elapsed().as_nanos() as f64 / spans as f64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total / THREADS as f64
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let sql = args.next_if(|a| a == "sql").is_some();
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let spans: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    benches::install();
    let (shared, interned) = (target(true), target(false));
    if sql {
        let mut v: Vec<f64> = (0..rounds).map(|_| run(&interned, spans, true)).collect();
        println!(
            "{THREADS} threads, {rounds} rounds of {spans} spans each, described by \
             sql::analyze: {:.1} ns per span",
            median(&mut v)
        );
        return;
    }
    run(&interned, spans, false); // warm-up
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(run(&shared, spans, false));
        b.push(run(&interned, spans, false));
    }
    let (a, b) = (median(&mut a), median(&mut b));
    println!(
        "{THREADS} threads, {rounds} rounds of {spans} spans each: Arc-shared target values \
         {a:.1} ns per span, interned {b:.1} ns per span ({:+.1} ns)",
        b - a
    );
}
