//! What the machine charges for the few operations a not-sampled request is made of, so figures
//! from different machines can be read side by side (an adapter's overhead moves with these far
//! more than with its own code).
//!
//! `cargo run --release -p benches --example machine_costs [iterations]`
//!
//! Prints nanoseconds per operation, each the best of three timed loops (after a warm-up): an
//! uncontended atomic read-modify-write, `RwLock::read` with its release (what the global
//! propagator's lock costs), a `Mutex` lock, an `Arc` clone and drop, a 32-byte allocation and its
//! free, a thread-local access, `Instant::now` and `SystemTime::now`. Single-threaded and
//! uncontended: the cheapest each can be on this machine. Then an `Arc` clone and drop while
//! another thread does the same to the same `Arc` (what a reference count shared by every worker
//! thread costs each span). Last, a wake-up: the median time a 1-byte Unix-socket write takes the
//! writer when the reader sleeps in `read` on the other CPU (the kernel wakes it; on a virtual
//! machine with an inter-processor interrupt the writer's vCPU pays for) against the same write
//! when the reader is not in the kernel. Under load every response that finds the load generator
//! asleep pays the difference (`scripts/load_threads.sh` counts them).

use std::cell::Cell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

thread_local! {
    static LOCAL: Cell<u64> = const { Cell::new(0) };
}

/// Nanoseconds per call of `f`: the best of three loops of `n` calls, minus an empty loop's.
fn per_call(n: u64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..3 {
        for _ in 0..n / 10 {
            f();
        }
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let empty = per_call(n, || {
        black_box(());
    });
    let atomic = AtomicU64::new(0);
    let lock = RwLock::new(1u64);
    let mutex = Mutex::new(1u64);
    let arc = Arc::new(1u64);
    let cases: Vec<(&str, f64)> = vec![
        (
            "atomic fetch_add",
            per_call(n, || {
                black_box(atomic.fetch_add(1, Ordering::AcqRel));
            }),
        ),
        (
            "RwLock read + release",
            per_call(n, || {
                black_box(*lock.read().unwrap_or_else(|e| e.into_inner()));
            }),
        ),
        (
            "Mutex lock + unlock",
            per_call(n, || {
                black_box(*mutex.lock().unwrap_or_else(|e| e.into_inner()));
            }),
        ),
        (
            "Arc clone + drop",
            per_call(n, || {
                black_box(arc.clone());
            }),
        ),
        (
            "32-byte alloc + free",
            per_call(n, || {
                black_box(Box::new(black_box([0u8; 32])));
            }),
        ),
        (
            "thread-local read + write",
            per_call(n, || {
                LOCAL.with(|c| c.set(black_box(c.get() + 1)));
            }),
        ),
        (
            "Instant::now",
            per_call(n / 10, || {
                black_box(Instant::now());
            }),
        ),
        (
            "SystemTime::now",
            per_call(n / 10, || {
                black_box(SystemTime::now());
            }),
        ),
    ];
    // the same Arc cloned and dropped on another thread meanwhile
    let stop = std::sync::atomic::AtomicBool::new(false);
    let contended = std::thread::scope(|scope| {
        let other = arc.clone();
        let stop = &stop;
        scope.spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                black_box(other.clone());
            }
        });
        let ns = per_call(n, || {
            black_box(arc.clone());
        });
        stop.store(true, Ordering::Relaxed);
        ns
    });
    println!("empty loop: {empty:.2} ns per iteration (subtracted below)");
    for (name, ns) in cases {
        println!("{name}: {:.1} ns", (ns - empty).max(0.0));
    }
    println!(
        "Arc clone + drop, another thread on the same Arc: {:.1} ns",
        (contended - empty).max(0.0)
    );
    match (wake_up(2_000, false), wake_up(2_000, true)) {
        (Some(asleep), Some(polling)) => println!(
            "wake-up: a 1-byte socket write {asleep:.0} ns with the reader asleep on the other CPU, \
             {polling:.0} ns with it polling ({:.0} ns for the wake-up)",
            asleep - polling
        ),
        _ => println!("wake-up: not measured (needs two CPUs this process may run on)"),
    }
}

/// Pins the calling thread to `cpu`; false where that is not allowed.
fn pin(cpu: usize) -> bool {
    // SAFETY: a zeroed `cpu_set_t` is a valid empty set; the calls only read and write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Nanoseconds a 1-byte write takes the writer (pinned to CPU 0) when the reader (pinned to CPU 1)
/// is asleep in `read` (`polling` false) or spinning in user space until the write is done and
/// only then reading it (`polling` true: no sleeper to wake, no reader in the socket's code
/// meanwhile); the median of `n` writes, each after the reader has taken the previous byte and a
/// pause long enough for a reader to fall asleep. `None` without two CPUs to pin to.
fn wake_up(n: usize, polling: bool) -> Option<f64> {
    let (mut writer, mut reader) = UnixStream::pair().ok()?;
    reader.set_nonblocking(polling).ok()?;
    let taken = AtomicU64::new(0);
    let written = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let pinned = AtomicBool::new(true);
    let mut times = std::thread::scope(|scope| {
        let (taken, written, stop, pinned) = (&taken, &written, &stop, &pinned);
        scope.spawn(move || {
            if !pin(1) {
                pinned.store(false, Ordering::Release);
            }
            let mut byte = [0u8; 1];
            while !stop.load(Ordering::Acquire) {
                if polling && written.load(Ordering::Acquire) == taken.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                    continue;
                }
                if let Ok(1) = reader.read(&mut byte) {
                    taken.fetch_add(1, Ordering::AcqRel);
                }
            }
        });
        let mut times = Vec::with_capacity(n);
        if pin(0) {
            for i in 0..n as u64 {
                std::thread::sleep(std::time::Duration::from_micros(50));
                let start = Instant::now();
                if writer.write_all(&[1]).is_err() {
                    break;
                }
                times.push(start.elapsed().as_nanos() as f64);
                written.fetch_add(1, Ordering::AcqRel);
                while taken.load(Ordering::Acquire) == i {
                    std::hint::spin_loop();
                }
            }
        } else {
            pinned.store(false, Ordering::Release);
        }
        stop.store(true, Ordering::Release);
        // the last byte wakes a sleeping reader to see `stop`
        let _ = writer.write_all(&[0]);
        times
    });
    if !pinned.load(Ordering::Acquire) || times.len() < n {
        return None;
    }
    times.sort_by(f64::total_cmp);
    Some(times[n / 2])
}
