//! Span timestamps: wall-clock time from the CPU's time-stamp counter, anchored to the system
//! clock.
//!
//! Every span reads the time twice (start and end). `SystemTime::now` costs about 30 ns here even
//! through the vDSO (and it reads a kernel page other cores write, so a thread that slept finds it
//! cold); the time-stamp counter costs about 9 ns. As the Java SDK's anchored clock does, [`now`]
//! reads the wall clock once per thread per [`ANCHOR_LIFE`] and adds the counter's progress since
//! then (through [`quanta`], which checks that the counter is invariant and falls back to the
//! monotonic clock where it is not). Times stay within microseconds of the system clock: the
//! counter's calibration is good to a few parts per million, and the anchor is renewed often.
//!
//! Until the counter is calibrated ([`calibrate`], about a millisecond of measuring, done on the
//! span queue's export thread), [`now`] is `SystemTime::now`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//!
//! let t = trace_core::clock::now();
//! let system = SystemTime::now();
//! let apart = system.duration_since(t).unwrap_or_else(|e| e.duration());
//! assert!(apart < Duration::from_millis(50));
//! ```

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The calibrated counter clock, once [`calibrate`] has run.
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// How long one reading of the system clock anchors a thread's times.
///
/// ```
/// assert_eq!(trace_core::clock::ANCHOR_LIFE, std::time::Duration::from_millis(100));
/// ```
pub const ANCHOR_LIFE: Duration = Duration::from_millis(100);

thread_local! {
    /// This thread's anchor: a counter reading (0: none yet) and the system time read with it.
    static ANCHOR: Cell<(u64, SystemTime)> = const { Cell::new((0, SystemTime::UNIX_EPOCH)) };
}

/// Calibrates the counter against the monotonic clock (once per process; later calls return at
/// once). Spans read `SystemTime::now` until it has run; the span queue's export thread runs it
/// when it starts.
///
/// ```
/// trace_core::clock::calibrate();
/// assert!(trace_core::clock::is_calibrated());
/// ```
pub fn calibrate() {
    CLOCK.get_or_init(quanta::Clock::new);
}

/// Whether [`now`] reads the counter (after [`calibrate`]).
///
/// ```
/// let counter = trace_core::clock::is_calibrated();
/// # let _ = counter;
/// ```
pub fn is_calibrated() -> bool {
    CLOCK.get().is_some()
}

/// The current time, for span timestamps.
///
/// ```
/// let start = trace_core::clock::now();
/// let took = trace_core::clock::now().duration_since(start).unwrap_or_default();
/// assert!(took < std::time::Duration::from_secs(1));
/// ```
#[inline]
pub fn now() -> SystemTime {
    match CLOCK.get() {
        Some(clock) => anchored(clock),
        None => SystemTime::now(),
    }
}

fn anchored(clock: &quanta::Clock) -> SystemTime {
    let raw = clock.raw();
    ANCHOR.with(|anchor| {
        let (at, wall) = anchor.get();
        // (a counter behind the anchor: the thread moved to a core whose counter lags a little)
        if at != 0 && raw >= at {
            let since = clock.delta(at, raw);
            if since < ANCHOR_LIFE {
                return wall + since;
            }
        }
        let wall = SystemTime::now();
        anchor.set((raw, wall));
        wall
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apart(a: SystemTime, b: SystemTime) -> Duration {
        a.duration_since(b).unwrap_or_else(|e| e.duration())
    }

    #[test]
    fn counter_times_follow_the_system_clock_across_anchors() {
        calibrate();
        assert!(is_calibrated());
        let mut previous = now();
        let start = std::time::Instant::now();
        // past several anchor lives, with sleeps (the counter runs on) and busy stretches
        while start.elapsed() < ANCHOR_LIFE * 4 {
            let before = SystemTime::now();
            let t = now();
            let after = SystemTime::now();
            // within the system clock's own reading window, give or take the calibration's
            // error over one anchor life (parts per million of 100 ms) and scheduling
            assert!(
                apart(t, before) < Duration::from_millis(2) || (t >= before && t <= after),
                "{t:?} against {before:?}..{after:?}"
            );
            // never more than a hair before an earlier reading on this thread
            assert!(
                t >= previous || apart(previous, t) < Duration::from_micros(100),
                "went back from {previous:?} to {t:?}"
            );
            previous = t;
            std::thread::sleep(Duration::from_millis(7));
        }
    }

    #[test]
    fn a_measured_interval_is_the_interval() {
        calibrate();
        let a = now();
        std::thread::sleep(Duration::from_millis(30));
        let b = now();
        let took = b.duration_since(a).expect("forward");
        assert!(
            took >= Duration::from_millis(29) && took < Duration::from_millis(500),
            "{took:?}"
        );
    }
}
