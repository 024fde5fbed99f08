//! The subscriber `init` installs: the log filter (`RUST_LOG`, else the default directives)
//! decides what reaches the log and the OpenTelemetry bridge alike, exporter internals never
//! become spans, and what the filter disables is skipped by its level before any filter is asked
//! (a disabled `trace!` in h2 or `debug!` of the application costs a level comparison, not a
//! filter evaluation per call). One test: the subscriber is the process's global one.

use std::sync::{Arc, Mutex};

use test_support::SharedBuf;
use tracing::level_filters::LevelFilter;
use tracing::Level;

#[test]
fn the_log_filter_applies_to_every_layer_and_sets_the_level_bound() {
    // the test's own directives, whatever the environment says (one test in this process)
    std::env::remove_var("RUST_LOG");
    let out = SharedBuf::default();
    let guard = trace_init::builder()
        .exporter(trace_init::Exporter::Console)
        .console_writer(Arc::new(Mutex::new(out.clone())))
        .default_log_filter("info,my_app=debug")
        .init()
        .unwrap();

    // the most verbose directive is the bound: nothing below it is even asked about
    assert_eq!(LevelFilter::current(), LevelFilter::DEBUG);
    assert!(tracing::enabled!(target: "my_app::db", Level::DEBUG));
    assert!(!tracing::enabled!(target: "other", Level::DEBUG));
    assert!(!tracing::enabled!(target: "h2::proto", Level::TRACE));

    // the bridge sees what the filter lets through, and no exporter internals
    tracing::info_span!("kept at info").in_scope(|| {});
    tracing::debug_span!(target: "my_app::db", "kept at debug for my_app").in_scope(|| {});
    tracing::debug_span!(target: "other", "dropped at debug").in_scope(|| {});
    tracing::info_span!(target: "h2::proto", "exporter internal").in_scope(|| {});
    drop(guard);
    let text = out.text();
    assert!(text.contains("kept at info"), "{text}");
    assert!(text.contains("kept at debug for my_app"), "{text}");
    assert!(!text.contains("dropped at debug"), "{text}");
    assert!(!text.contains("exporter internal"), "{text}");
}
