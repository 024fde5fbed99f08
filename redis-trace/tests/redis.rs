//! The traced connection against a real Redis (127.0.0.1:6379, database 5, keys under a prefix
//! of this run), read back as exported spans.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::SpanData;
use redis::AsyncCommands;
use redis_trace::{queue, KeyMode, TracedConnection, TracedSyncConnection};
use test_support::traced;
use trace_core::manual::Operation;
use trace_core::testing::{install, SpanDataExt, Trace};

const URL: &str = "redis://127.0.0.1:6379/5";

fn prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "trace_test:{}:{}:",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

async fn connect() -> TracedConnection<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(URL).unwrap();
    TracedConnection::connect(&client)
        .await
        .expect("Redis on 127.0.0.1:6379")
}

fn named<'a>(t: &'a Trace, name: &str) -> Vec<&'a SpanData> {
    t.spans.iter().filter(|s| s.name == name).collect()
}

async fn cleanup(p: &str) {
    let client = redis::Client::open(URL).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<Vec<u8>> = con.keys(format!("{p}*")).await.unwrap();
    if !keys.is_empty() {
        let _: () = con.del(keys).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_hits_misses_errors_and_secrets() {
    install();
    let p = prefix();
    let mut con = connect().await;
    let (k, h, n) = (
        format!("{p}user"),
        format!("{p}hash"),
        format!("{p}counter"),
    );
    let trace = traced(9, || async {
        let miss: Option<String> = con.get(&k).await.unwrap();
        assert!(miss.is_none());
        let _: () = con.set(&k, "alice@example.com").await.unwrap();
        let hit: Option<String> = con.get(&k).await.unwrap();
        assert_eq!(hit.as_deref(), Some("alice@example.com"));
        let _: () = con.hset(&h, "email", "bob@example.com").await.unwrap();
        let all: std::collections::HashMap<String, String> = con.hgetall(&h).await.unwrap();
        assert_eq!(all.len(), 1);
        let v: i64 = con.incr(&n, 5).await.unwrap();
        assert_eq!(v, 5);
        // WRONGTYPE: the caller gets redis' own error
        let err = con.incr::<_, _, i64>(&h, 1).await.unwrap_err();
        assert_eq!(err.code(), Some("WRONGTYPE"));
        // AUTH with a password: refused by this server, never recorded
        let auth = redis::cmd("AUTH")
            .arg("someone")
            .arg("hunter2-password")
            .query_async::<()>(&mut con)
            .await;
        assert!(auth.is_err());
        let _: () = con.del(&[&k, &h, &n]).await.unwrap();
    })
    .await;
    let root = trace.span("test");
    let dump = format!(
        "{:?}",
        trace
            .spans
            .iter()
            .map(|s| (&s.attributes, &s.events))
            .collect::<Vec<_>>()
    );
    for secret in ["alice@example.com", "bob@example.com", "hunter2-password"] {
        assert!(!dump.contains(secret), "{secret} reached a span");
    }
    let gets = named(&trace, "GET");
    assert_eq!(gets.len(), 2);
    assert_eq!(
        gets[0].attr("db.redis.cache_hit"),
        Some(&Value::Bool(false))
    );
    assert_eq!(gets[0].status, Status::Unset, "a nil reply is not an error");
    assert_eq!(gets[1].attr("db.redis.cache_hit"), Some(&Value::Bool(true)));
    for s in trace.spans.iter().filter(|s| s.name != "test") {
        assert_eq!(s.span_kind, SpanKind::Client);
        assert_eq!(s.parent_span_id, root.span_context.span_id());
        assert_eq!(s.str_attr("db.system.name"), "redis");
        assert_eq!(s.str_attr("db.namespace"), "5");
        assert_eq!(s.str_attr("server.address"), "127.0.0.1");
        assert_eq!(s.int_attr("server.port"), 6379);
        assert_eq!(s.str_attr("db.operation.name"), s.name.as_ref());
        s.assert_declared(&[]);
    }
    let set = trace.span("SET");
    assert_eq!(set.str_attr("db.query.text"), format!("SET {p}user ?"));
    assert_eq!(
        trace.span("HSET").str_attr("db.query.text"),
        format!("HSET {p}hash ? ?")
    );
    assert_eq!(
        trace.span("HGETALL").attr("db.redis.cache_hit"),
        Some(&Value::Bool(true))
    );
    let incrs = named(&trace, "INCRBY");
    let wrong = incrs
        .iter()
        .find(|s| matches!(s.status, Status::Error { .. }))
        .expect("WRONGTYPE span");
    assert_eq!(wrong.str_attr("db.response.status_code"), "WRONGTYPE");
    assert_eq!(wrong.str_attr("error.type"), "WRONGTYPE");
    let auth = trace.span("AUTH");
    assert_eq!(auth.str_attr("db.query.text"), "AUTH");
    assert_eq!(
        trace.span("DEL").str_attr("db.query.text"),
        format!("DEL {p}user {p}hash {p}counter")
    );
    cleanup(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelines_transactions_and_binary_keys() {
    install();
    let p = prefix();
    let mut con = connect().await.with_key_mode(KeyMode::Keep);
    let bin_key: Vec<u8> = [p.as_bytes(), b"\xff\x00bin"].concat();
    let trace = traced(4, || async {
        let (a, b, c): (Option<String>, Option<String>, Option<String>) = redis::pipe()
            .get(format!("{p}a"))
            .get(format!("{p}b"))
            .get(format!("{p}c"))
            .query_async(&mut con)
            .await
            .unwrap();
        assert!(a.is_none() && b.is_none() && c.is_none());
        let (): () = redis::pipe()
            .atomic()
            .set(format!("{p}x"), "1")
            .ignore()
            .set(format!("{p}y"), "2")
            .ignore()
            .query_async(&mut con)
            .await
            .unwrap();
        let (_, _): (i64, Option<String>) = redis::pipe()
            .incr(format!("{p}n"), 1)
            .get(format!("{p}x"))
            .query_async(&mut con)
            .await
            .unwrap();
        let _: () = con.set(bin_key.as_slice(), "v").await.unwrap();
    })
    .await;
    let get3 = trace.span("PIPELINE GET");
    assert_eq!(get3.int_attr("db.operation.batch.size"), 3);
    assert_eq!(
        get3.str_attr("db.query.text"),
        format!("GET {p}a; GET {p}b; GET {p}c")
    );
    let multi = trace.span("MULTI SET");
    assert_eq!(multi.int_attr("db.operation.batch.size"), 2);
    let mixed = trace.span("PIPELINE");
    assert_eq!(mixed.int_attr("db.operation.batch.size"), 2);
    let set = trace.span("SET");
    assert_eq!(
        set.str_attr("db.query.text"),
        format!("SET {p}\\xff\\x00bin ?")
    );
    cleanup(&p).await;
    let mut raw = redis::Client::open(URL)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = raw.del(bin_key.as_slice()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_connection_is_traced_too() {
    install();
    let p = prefix();
    let pp = p.clone();
    let trace = traced(2, || async move {
        let cx = Context::current();
        tokio::task::spawn_blocking(move || {
            use redis::Commands;
            let client = redis::Client::open(URL).unwrap();
            let _g = cx.attach();
            let mut con = TracedSyncConnection::new(client.get_connection().unwrap())
                .with_server("127.0.0.1", 6379);
            let _: () = con.set(format!("{pp}s"), "secret-value").unwrap();
            let (_, _): (Option<String>, Option<String>) = redis::pipe()
                .get(format!("{pp}s"))
                .get(format!("{pp}t"))
                .query(&mut con)
                .unwrap();
        })
        .await
        .unwrap();
    })
    .await;
    assert_eq!(
        trace.span("SET").str_attr("db.query.text"),
        format!("SET {p}s ?")
    );
    assert_eq!(
        trace
            .span("PIPELINE GET")
            .int_attr("db.operation.batch.size"),
        2
    );
    cleanup(&p).await;
}

/// Bytes a caller packs by hand reach `ConnectionLike::req_packed_command` as they are: a
/// malformed command (here an argument length of `usize::MAX`) must give the caller Redis's own
/// answer, as the bare connection does, and an error span, never a panic in the adapter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_packed_malformed_commands_get_the_servers_error_unchanged() {
    install();
    let packed = format!("*1\r\n${}\r\nGET\r\n", usize::MAX).into_bytes();
    let bare = {
        let packed = packed.clone();
        tokio::task::spawn_blocking(move || {
            use redis::ConnectionLike;
            let mut con = redis::Client::open(URL).unwrap().get_connection().unwrap();
            format!("{:?}", con.req_packed_command(&packed))
        })
        .await
        .unwrap()
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = seen.clone();
    let trace = traced(1, || async move {
        let cx = Context::current();
        tokio::task::spawn_blocking(move || {
            use redis::ConnectionLike;
            let _g = cx.attach();
            let client = redis::Client::open(URL).unwrap();
            let mut con = TracedSyncConnection::new(client.get_connection().unwrap())
                .with_server("127.0.0.1", 6379);
            *out.lock().unwrap() = Some(format!("{:?}", con.req_packed_command(&packed)));
        })
        .await
        .unwrap();
    })
    .await;
    // (redis-rs hands the server's error back as a value here; a query turns it into `Err`)
    assert!(bare.contains("Protocol error"), "{bare}");
    assert_eq!(seen.lock().unwrap().take().unwrap(), bare);
    // not one command the adapter can read: the span has the generic name, and the error
    let span = trace.span("redis");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "{:?}",
        span.status
    );
}

fn spawn_redis(port: u16) -> std::process::Child {
    std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server")
}

/// A Redis of our own on a free port and a traced connection manager to it (short timeouts, so
/// an outage shows quickly), for the tests that stop the server.
async fn own_redis(
    config: redis::aio::ConnectionManagerConfig,
) -> (
    std::process::Child,
    u16,
    TracedConnection<redis::aio::ConnectionManager>,
) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let server = spawn_redis(port);
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
    let config = config
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_response_timeout(Some(Duration::from_millis(500)));
    let mut manager = None;
    for _ in 0..100 {
        if let Ok(m) =
            redis::aio::ConnectionManager::new_with_config(client.clone(), config.clone()).await
        {
            manager = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let con =
        TracedConnection::new(manager.expect("our redis-server came up")).with_address_of(&client);
    (server, port, con)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_under_load_gives_error_spans_and_the_adapter_recovers() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Instant;
    let pipeline = install();
    // A Redis of our own, stopped under the connections and started again.
    let (mut server, port, con) = own_redis(redis::aio::ConnectionManagerConfig::new()).await;
    let outcomes: Arc<std::sync::Mutex<test_support::Outcomes>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));

    // four concurrent SET/GET loops, all in one trace
    let load = {
        let (outcomes, stop) = (outcomes.clone(), stop.clone());
        Operation::new("load").run(async move {
            let worker = |n: u32| {
                let (mut con, outcomes, stop) = (con.clone(), outcomes.clone(), stop.clone());
                async move {
                    let key = format!("k{n}");
                    while !stop.load(Ordering::Relaxed) {
                        let r: redis::RedisResult<()> = con.set(&key, n).await;
                        let failed = r.is_err();
                        outcomes
                            .lock()
                            .unwrap()
                            .push((Instant::now(), r.map_err(|e| e.to_string())));
                        if failed {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            };
            futures_util::future::join_all((0..4).map(worker)).await;
            Context::current().span().span_context().trace_id()
        })
    };
    let load = tokio::spawn(load);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = Instant::now();
    server.kill().unwrap();
    server.wait().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut server = spawn_redis(port);
    let restarted_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let trace_id = load.await.unwrap();
    server.kill().unwrap();
    let _ = server.wait();

    let outcomes = outcomes.lock().unwrap().clone();
    let n = outcomes.len();
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(trace_id, n + 1))
        .await
        .unwrap();
    test_support::check_outage(&outcomes, stopped_at, restarted_at, &trace, "SET", port);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_and_consumer_through_a_stream_are_one_trace() {
    let pipeline = install();
    let p = prefix();
    let stream = format!("{p}jobs");
    let mut con = connect().await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("workers")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut con)
        .await
        .unwrap();
    // the worker: another task, its own connection
    let worker_stream = stream.clone();
    let worker = tokio::spawn(async move {
        let mut con = connect().await;
        loop {
            let reply: redis::streams::StreamReadReply = con
                .xread_options(
                    &[&worker_stream],
                    &[">"],
                    &redis::streams::StreamReadOptions::default()
                        .group("workers", "w1")
                        .count(1)
                        .block(2000),
                )
                .await
                .unwrap();
            if let Some(entry) = reply.keys.first().and_then(|k| k.ids.first()) {
                let fields: Vec<(String, String)> = entry
                    .map
                    .iter()
                    .filter_map(|(k, v)| {
                        redis::from_redis_value_ref::<String>(v)
                            .ok()
                            .map(|v| (k.clone(), v))
                    })
                    .collect();
                let id = entry.id.clone();
                let pairs = fields.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                queue::consumer(&worker_stream, Some(&id), pairs)
                    .run(async {
                        let _: i64 = con.xack(&worker_stream, "workers", &[&id]).await.unwrap();
                    })
                    .await;
                return;
            }
        }
    });
    let tid = Operation::new("request")
        .run(async {
            let send = queue::producer(&stream);
            let mut entry = vec![("payload".to_string(), "{\"job\":1}".to_string())];
            entry.extend(send.fields());
            let _: String = send.run(con.xadd(&stream, "*", &entry)).await.unwrap();
            Context::current().span().span_context().trace_id()
        })
        .await;
    worker.await.unwrap();
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(tid, 5))
        .await
        .unwrap();
    let send = trace.span(&format!("send {stream}"));
    assert_eq!(send.span_kind, SpanKind::Producer);
    let xadd = trace.span("XADD");
    assert_eq!(xadd.parent_span_id, send.span_context.span_id());
    let process = trace.span(&format!("process {stream}"));
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    assert_eq!(process.str_attr("messaging.system"), "redis");
    assert_eq!(process.str_attr("messaging.destination.name"), stream);
    assert_eq!(process.str_attr("messaging.operation.type"), "process");
    assert!(process.attr("messaging.message.id").is_some());
    let xack = trace.span("XACK");
    assert_eq!(xack.parent_span_id, process.span_context.span_id());
    cleanup(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_and_consumer_through_pubsub_are_one_trace() {
    let pipeline = install();
    let p = prefix();
    let channel = format!("{p}events");
    let client = redis::Client::open(URL).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    let ch = channel.clone();
    let subscriber = tokio::spawn(async move {
        let mut messages = pubsub.on_message();
        let msg = messages.next().await.unwrap();
        let payload: String = msg.get_payload().unwrap();
        let json: serde_json::Value = serde_json::from_str(&payload).unwrap();
        let fields: Vec<(String, String)> = json["trace"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        queue::consumer_linked(
            &ch,
            None,
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .end();
        queue::consumer(
            &ch,
            None,
            fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .run(async {})
        .await;
    });
    let mut con = connect().await;
    let tid = Operation::new("request")
        .run(async {
            let send = queue::producer(&channel);
            let trace: serde_json::Map<String, serde_json::Value> = send
                .fields()
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect();
            let payload = serde_json::json!({ "event": "created", "trace": trace }).to_string();
            let _: i64 = send.run(con.publish(&channel, payload)).await.unwrap();
            Context::current().span().span_context().trace_id()
        })
        .await;
    subscriber.await.unwrap();
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(tid, 4))
        .await
        .unwrap();
    let send = trace.span(&format!("send {channel}"));
    let process = trace.span(&format!("process {channel}"));
    assert_eq!(process.parent_span_id, send.span_context.span_id());
    // the linked consumer started its own trace, linking the producer
    let linked: Vec<SpanData> = pipeline
        .all_spans()
        .into_iter()
        .filter(|s| s.name == format!("process {channel}") && s.span_context.trace_id() != tid)
        .collect();
    assert_eq!(linked.len(), 1);
    assert_eq!(
        linked[0].links.links[0].span_context.span_id(),
        send.span_context.span_id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_nest_under_the_server_span() {
    use axum::routing::get;
    let pipeline = install();
    let p = prefix();
    let con = connect().await;
    let key = format!("{p}cache");
    let app = axum::Router::new()
        .route(
            "/cached",
            get(move || {
                let (mut con, key) = (con.clone(), key.clone());
                async move {
                    let v: Option<String> = con.get(&key).await.unwrap();
                    v.unwrap_or_else(|| "miss".into())
                }
            }),
        )
        .layer(tower_trace::TraceLayer::new());
    let (tid, body) = test_support::serve_and_get(app, "/cached").await;
    assert_eq!(body, "miss");
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(tid, 2))
        .await
        .unwrap();
    let server = trace.span("GET /cached");
    let get = trace.span("GET");
    assert_eq!(get.parent_span_id, server.span_context.span_id());
    assert_eq!(get.attr("db.redis.cache_hit"), Some(&Value::Bool(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_under_an_unsampled_parent_work_unchanged_and_record_nothing() {
    use opentelemetry::trace::{FutureExt as _, SpanContext, SpanId, TraceFlags, TraceId};
    let pipeline = install();
    let p = prefix();
    let mut con = connect().await;
    let k = format!("{p}quiet");
    // a caller that said "not sampled" (flag 00), with a trace id of this test's own
    let tid = TraceId::from(
        0x5eed_0000_0000_0000_0000_0000_0000_0042u128 ^ u128::from(std::process::id()),
    );
    let unsampled = Context::new().with_remote_span_context(SpanContext::new(
        tid,
        SpanId::from(7u64),
        TraceFlags::default(),
        true,
        Default::default(),
    ));
    async {
        let _: () = con.set(&k, "v").await.unwrap();
        let v: Option<String> = con.get(&k).await.unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        let err = con.hget::<_, _, String>(&k, "f").await.unwrap_err();
        assert_eq!(
            err.code(),
            Some("WRONGTYPE"),
            "the caller's error, unchanged"
        );
        let (a, b): (Option<String>, i64) = redis::pipe()
            .get(&k)
            .incr(format!("{p}n"), 2)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!((a.as_deref(), b), (Some("v"), 2));
    }
    .with_context(unsampled)
    .await;
    // a sampled command afterwards: once its span is exported, anything queued before it is too
    let trace = traced(1, || async {
        let _: Option<String> = con.get(&k).await.unwrap();
    })
    .await;
    assert_eq!(named(&trace, "GET").len(), 1);
    assert!(
        pipeline
            .all_spans()
            .iter()
            .all(|s| s.span_context.trace_id() != tid),
        "no span recorded under the unsampled parent"
    );
    cleanup(&p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_gives_connection_refused_spans_and_the_callers_error_unchanged() {
    let pipeline = install();
    // A Redis of our own, stopped for good under a connection manager: its reconnects find
    // nothing listening on the port.
    let (mut server, port, mut con) =
        own_redis(redis::aio::ConnectionManagerConfig::new().set_number_of_retries(1)).await;
    server.kill().unwrap();
    server.wait().unwrap();

    let (trace_id, errors) = Operation::new("refused")
        .run(async move {
            // the first command may see the old connection break; the reconnects that follow
            // are refused
            let mut errors = Vec::new();
            for _ in 0..40 {
                let r: redis::RedisResult<Option<String>> = con.get("k").await;
                let e = r.expect_err("nothing is listening");
                let refused = e.is_connection_refusal();
                errors.push((refused, e.to_string()));
                if refused {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (Context::current().span().span_context().trace_id(), errors)
        })
        .await;
    let (_, refusal) = errors
        .iter()
        .find(|(refused, _)| *refused)
        .unwrap_or_else(|| panic!("no connection refusal reached the caller: {errors:?}"));
    let n = errors.len();
    let trace = tokio::task::spawn_blocking(move || pipeline.wait_for_spans(trace_id, n + 1))
        .await
        .unwrap();
    let gets = named(&trace, "GET");
    assert_eq!(gets.len(), n, "one span per command");
    let span = gets
        .iter()
        .find(|s| s.str_attr("error.type") == "connection_refused")
        .expect("a span with error.type connection_refused");
    // the span says what the caller got, and the caller got redis' own error
    assert_eq!(
        span.status,
        Status::Error {
            description: refusal.clone().into()
        }
    );
    assert_eq!(span.span_kind, SpanKind::Client);
    assert_eq!(span.int_attr("server.port"), i64::from(port));
    assert_eq!(span.str_attr("db.system.name"), "redis");
}
