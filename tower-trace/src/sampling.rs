//! Per-route sampling on top of the SDK sampler.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

/// Whether a request under `parent` is kept at `ratio`: decided on the trace id (as the SDK's
/// `TraceIdRatioBased` does) when there is one, so every service keeps or drops a trace alike.
pub(crate) fn keep(parent: &Context, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio <= 0.0 {
        return false;
    }
    let sc = parent.span().span_context().clone();
    let trace_id = if sc.is_valid() {
        sc.trace_id()
    } else {
        RandomIdGenerator::default().new_trace_id()
    };
    let low = u64::from_be_bytes(trace_id.to_bytes()[8..16].try_into().unwrap_or([0; 8]));
    let bound = (ratio * (1u64 << 63) as f64) as u64;
    (low >> 1) < bound
}

/// A context for a request left out: the caller's trace id (or a new one) with the sampled flag
/// cleared, so nothing beneath is recorded and outgoing calls say "not sampled".
pub(crate) fn unsampled(parent: &Context) -> Context {
    let sc = parent.span().span_context().clone();
    let ids = RandomIdGenerator::default();
    let trace_id = if sc.is_valid() {
        sc.trace_id()
    } else {
        ids.new_trace_id()
    };
    let span_id: SpanId = ids.new_span_id();
    let new = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::default(),
        false,
        sc.trace_state().clone(),
    );
    parent.with_remote_span_context(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_bounds_and_roughly_the_ratio() {
        let cx = Context::new();
        assert!(keep(&cx, 1.0));
        assert!(!keep(&cx, 0.0));
        let kept = (0..10_000).filter(|_| keep(&cx, 0.1)).count();
        assert!((700..1300).contains(&kept), "kept {kept} of 10000 at 10%");
    }

    #[test]
    fn unsampled_keeps_the_trace_id() {
        let unsampled_root = unsampled(&Context::new());
        let sc = unsampled_root.span().span_context().clone();
        assert!(sc.is_valid());
        assert!(!sc.is_sampled());
    }
}
