//! A Redis Cluster of the test's own (three masters on free loopback ports, no persistence),
//! reached through redis-rs' async cluster connection wrapped in `TracedConnection`: commands
//! routed to different nodes, a pipeline on one hash slot, and a cross-slot error, read back as
//! exported spans.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opentelemetry::trace::{SpanKind, Status};
use redis::AsyncCommands;
use redis_trace::TracedConnection;
use test_support::traced;
use trace_core::testing::SpanDataExt;

struct Cluster {
    nodes: Vec<Child>,
    ports: Vec<u16>,
    dir: std::path::PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn start_cluster() -> Cluster {
    let dir = std::env::temp_dir().join(format!("trace-redis-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let nodes = ports
        .iter()
        .map(|p| {
            Command::new("redis-server")
                .args(["--port", &p.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{p}.conf")])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server")
        })
        .collect();
    let cluster = Cluster { nodes, ports, dir };
    for p in &cluster.ports {
        for _ in 0..100 {
            if cli(*p, &["ping"]).contains("PONG") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let addrs: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli --cluster create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for _ in 0..200 {
        if cluster
            .ports
            .iter()
            .all(|p| cli(*p, &["cluster", "info"]).contains("cluster_state:ok"))
        {
            return cluster;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the cluster did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_connections_are_traced() {
    // the pipeline first: adapters take their tracer from it when they are built
    trace_core::testing::install();
    let cluster = start_cluster().await;
    let urls: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}/"))
        .collect();
    let client = redis::cluster::ClusterClient::new(urls).unwrap();
    let con = client.get_async_connection().await.unwrap();
    // a cluster connection talks to many nodes: server.address is the entry point you name
    let seed = cluster.ports[0];
    let mut con = TracedConnection::new(con).with_server("127.0.0.1", seed);

    let trace = traced(5, || async {
        // keys in different slots, so on different nodes
        for k in ["alpha", "beta", "gamma"] {
            let _: () = con.set(k, "v").await.unwrap();
        }
        let v: Option<String> = con.get("beta").await.unwrap();
        assert_eq!(v.as_deref(), Some("v"));
        // one slot ({user:1}): a pipeline the cluster accepts
        let (a, b): (i64, i64) = redis::pipe()
            .incr("{user:1}:visits", 1)
            .incr("{user:1}:clicks", 2)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!((a, b), (1, 2));
        // keys in two slots in one command redis-rs cannot split: the cluster refuses, the caller
        // gets the error
        let err = redis::cmd("RENAME")
            .arg("alpha")
            .arg("beta")
            .query_async::<()>(&mut con)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("CROSSSLOT") || err.code() == Some("CROSSSLOT"),
            "{err:?}"
        );
    })
    .await;

    let sets: Vec<_> = trace.spans.iter().filter(|s| s.name == "SET").collect();
    assert_eq!(sets.len(), 3);
    for s in &sets {
        assert_eq!(s.span_kind, SpanKind::Client);
        s.assert_declared(&[]);
        assert_eq!(s.str_attr("db.system.name"), "redis");
        assert_eq!(s.int_attr("server.port"), i64::from(seed));
        assert!(s.str_attr("db.query.text").starts_with("SET "));
    }
    let get = trace.span("GET");
    assert_eq!(get.attr("db.redis.cache_hit"), Some(&true.into()));
    let pipe = trace.span("PIPELINE INCRBY");
    assert_eq!(pipe.int_attr("db.operation.batch.size"), 2);
    assert!(matches!(pipe.status, Status::Unset));
    let rename = trace.span("RENAME");
    assert!(matches!(rename.status, Status::Error { .. }), "{rename:?}");
    assert_eq!(rename.str_attr("error.type"), "CROSSSLOT");
    assert_eq!(rename.str_attr("db.response.status_code"), "CROSSSLOT");
    assert_eq!(rename.str_attr("db.query.text"), "RENAME alpha beta");
    drop(cluster);
}
