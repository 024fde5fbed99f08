//! A load generator that never sleeps, for loopback load runs beside wrk.
//!
//! `spin_load <host:port> <path> <connections> <seconds>`: keeps one `GET <path>` in flight on each
//! of `<connections>` keep-alive HTTP/1.1 connections from one thread, as `wrk -t1 -c<connections>`
//! does, but polls its non-blocking sockets in a loop instead of sleeping in `epoll_wait`. wrk sleeps
//! whenever it has caught up with the server, and the server's next response must then wake it: on
//! a virtual machine the server's vCPU pays for that inter-processor interrupt (`machine_costs`
//! "wake-up"), and a slower server finds wrk asleep more often (docs/benchmark-sessions.md, session
//! 27). A load generator on another machine wakes nothing on the server's; this one, spinning on
//! the other vCPU, does not either, so a load round with it charges each server only its own work.
//! The price is a vCPU kept busy: the server's other threads (the span export) share it with the
//! spinning loop.
//!
//! Prints the lines of wrk's report that `scripts/load_paired.sh` reads (`<n> requests in`,
//! `Requests/sec:`, the 99th percentile latency) and exits with an error on any response that is
//! not a 200, a closed connection or a malformed response.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use benches::http1::response_len;

/// One connection with its request in flight.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    len: usize,
    sent: Instant,
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, path, conns, secs] = args.as_slice() else {
        return Err("usage: spin_load <host:port> <path> <connections> <seconds>".into());
    };
    let conns: usize = conns.parse().map_err(|e| format!("connections: {e}"))?;
    let secs: f64 = secs.parse().map_err(|e| format!("seconds: {e}"))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes();

    let start = Instant::now();
    let mut pool = Vec::with_capacity(conns);
    for _ in 0..conns {
        let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        stream.write_all(&request).map_err(|e| e.to_string())?;
        stream.set_nonblocking(true).map_err(|e| e.to_string())?;
        pool.push(Conn {
            stream,
            buf: vec![0; 16 * 1024],
            len: 0,
            sent: Instant::now(),
        });
    }
    let deadline = start + Duration::from_secs_f64(secs);
    let mut latencies_ns: Vec<u64> = Vec::with_capacity(1 << 20);
    let mut now = Instant::now();
    while now < deadline {
        for c in pool.iter_mut() {
            let n = match c.stream.read(&mut c.buf[c.len..]) {
                Ok(0) => return Err("the server closed a connection".into()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => return Err(format!("read: {e}")),
            };
            c.len += n;
            let Some(total) = response_len(&c.buf[..c.len])? else {
                if c.len == c.buf.len() {
                    return Err("response larger than the read buffer".into());
                }
                continue;
            };
            if total != c.len {
                return Err("more bytes than one response (nothing was pipelined)".into());
            }
            now = Instant::now();
            latencies_ns.push(now.duration_since(c.sent).as_nanos() as u64);
            c.len = 0;
            // ~60 bytes into an empty send buffer: a non-blocking write takes them at once
            match c.stream.write(&request) {
                Ok(k) if k == request.len() => {}
                Ok(_) => return Err("partial write of a request".into()),
                Err(e) => return Err(format!("write: {e}")),
            }
            c.sent = now;
        }
        now = Instant::now();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = latencies_ns.len();
    if n == 0 {
        return Err("no response within the run".into());
    }
    latencies_ns.sort_unstable();
    let pct = |p: f64| latencies_ns[((n as f64 * p) as usize).min(n - 1)] as f64 / 1000.0;
    println!("spin_load {conns} connections, {secs} s, http://{addr}{path}");
    println!("  Latency Distribution");
    println!("     50%  {:.2}us", pct(0.50));
    println!("     99%  {:.2}us", pct(0.99));
    println!("  {n} requests in {elapsed:.2}s");
    println!("Requests/sec: {:.2}", n as f64 / elapsed);
    Ok(())
}
