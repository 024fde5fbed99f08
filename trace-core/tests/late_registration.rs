//! An adapter built before the pipeline is installed (a pool made before `trace_init::init`)
//! records into the pipeline once it is there. Its own process: nothing is registered at start.

use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt};
use opentelemetry::Context;
use trace_core::tracer::{SpanHandle, Tracer};

#[test]
fn a_tracer_built_before_the_pipeline_records_into_it() {
    let early = Tracer::new("early-adapter");
    let open = |t: &Tracer| {
        t.start(
            SpanKind::Client,
            &Context::new(),
            Vec::new(),
            || ("early op".into(), Vec::new()),
            |_| {},
        )
    };
    // nothing installed yet: the global provider (a no-op) has it
    let before = open(&early);
    assert!(!before.is_recording());

    let pipeline = trace_core::testing::install();
    let mut span = open(&early);
    assert!(
        matches!(span, SpanHandle::Recording(_)),
        "the early tracer now records into the registered pipeline"
    );
    let trace_id = span.span_context().trace_id();
    span.end();
    let trace = pipeline.wait_for_spans(trace_id, 1);
    assert_eq!(
        trace.span("early op").instrumentation_scope.name(),
        "early-adapter"
    );
    // and clones made before the switch follow too
    let clone = early.clone();
    let cx = Context::new().with_remote_span_context(trace.span("early op").span_context.clone());
    assert!(open(&clone).is_recording());
    assert!(!clone.drops_under(&cx));
}
