//! The adapters' own span: one allocation (a second once it has events or links), no lock, moved
//! into the [`SpanQueue`] when it ends.
//!
//! A [`RecordingSpan`] is what [`Tracer::start`](crate::tracer::Tracer::start) opens for a sampled
//! span when a [`SpanQueue`] is registered. It holds what the SDK's span holds (name, kind, times,
//! attributes, events, links, status) and implements the OpenTelemetry `Span` trait, so it sits in
//! a `Context` like any span: children take it as parent, log events and errors land on it. What
//! the SDK does on the caller's thread when a span ends (building `SpanData`, applying the
//! instrumentation scope, moving the data through its channel) happens here on the export thread.
//! Attribute, event and link counts are bounded by the queue's span limits as they are added.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use opentelemetry::trace::{Event, Link, SpanContext, SpanId, SpanKind, Status};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::export::{Finished, SpanQueue};

/// The instrumentation scope of a component, made once and kept for the process.
pub(crate) fn scope_of(component: &'static str) -> &'static InstrumentationScope {
    static SCOPES: Mutex<Option<HashMap<&'static str, &'static InstrumentationScope>>> =
        Mutex::new(None);
    let mut map = SCOPES.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .entry(component)
        .or_insert_with(|| {
            Box::leak(Box::new(
                InstrumentationScope::builder(component)
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            ))
        })
}

/// Attribute vectors coming back from the export thread for the next spans, in bundles.
///
/// A span's attribute vector is filled on the request thread and read on the export thread.
/// Freed there, its memory would never return to the request thread's allocator cache, and every
/// span would take the allocator's slow path (several hundred instructions) for a new one. The
/// export thread sends it back as it is, values and all: the next span's thread drops them (the
/// per-span copies of the request's text go back to that thread's allocator cache, and the shared
/// interned values' reference counts are written by the threads that also took them), and the
/// export thread writes nothing into the vector.
///
/// The vectors travel in bundles of [`BUNDLE`]: the thread that releases spans (the export
/// thread, or an exporter's sending thread) fills one, a request thread takes a whole one and
/// hands out its vectors from a thread-local stack. So the queue's shared
/// head and tail are written once per bundle on each side rather than once per span, and a
/// bundle's vectors (and the values they still hold) stay with one thread.
static ATTRIBUTE_VECS: std::sync::LazyLock<VecPool> = std::sync::LazyLock::new(|| VecPool::new(64));

/// Vectors per bundle.
const BUNDLE: usize = 16;

/// Full bundles on their way to request threads, and emptied ones on their way back.
struct VecPool {
    full: crossbeam_queue::ArrayQueue<Vec<Vec<KeyValue>>>,
    empty: crossbeam_queue::ArrayQueue<Vec<Vec<KeyValue>>>,
}

impl VecPool {
    fn new(bundles: usize) -> Self {
        Self {
            full: crossbeam_queue::ArrayQueue::new(bundles),
            empty: crossbeam_queue::ArrayQueue::new(bundles),
        }
    }

    /// A vector from the thread's bundle `taking`, which is replaced by a full one when empty.
    fn take(&self, taking: &mut Vec<Vec<KeyValue>>) -> Option<Vec<KeyValue>> {
        if taking.is_empty() {
            let bundle = self.full.pop()?;
            let emptied = std::mem::replace(taking, bundle);
            if emptied.capacity() > 0 {
                let _ = self.empty.push(emptied);
            }
        }
        taking.pop()
    }

    /// Puts a released vector into the thread's bundle `filling`, passed on when full.
    fn give(&self, filling: &mut Vec<Vec<KeyValue>>, v: Vec<KeyValue>) {
        if filling.capacity() == 0 {
            *filling = self
                .empty
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(BUNDLE));
        }
        filling.push(v);
        if filling.len() >= BUNDLE {
            // (into a full pool: the bundle is freed here)
            let _ = self.full.push(std::mem::take(filling));
        }
    }
}

thread_local! {
    /// The bundle this thread hands out vectors from.
    static TAKING: std::cell::RefCell<Vec<Vec<KeyValue>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    /// The bundle this thread fills with the vectors of the spans it has released.
    static FILLING: std::cell::RefCell<Vec<Vec<KeyValue>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An empty attribute vector for a new span: a recycled one when there is one.
pub(crate) fn attribute_vec(capacity: usize) -> Vec<KeyValue> {
    let recycled =
        TAKING.try_with(|taking| ATTRIBUTE_VECS.take(&mut *taking.try_borrow_mut().ok()?));
    match recycled {
        Ok(Some(mut v)) => {
            // the values of the span it last held are dropped here, on a request thread
            v.clear();
            v
        }
        _ => Vec::with_capacity(capacity),
    }
}

fn recycle(v: Vec<KeyValue>) {
    // keep ordinary sizes only
    if !(8..=64).contains(&v.capacity()) {
        return;
    }
    let _ = FILLING.try_with(|filling| {
        if let Ok(mut filling) = filling.try_borrow_mut() {
            ATTRIBUTE_VECS.give(&mut filling, v);
        }
    });
}

/// A finished or open span's data: what every span has, inline; events and links, which most
/// spans have none of, behind one pointer (every span is written once into its thread's stage and
/// read once on the export thread, so its size is what both threads move).
pub(crate) struct Recorded {
    parent_span_id: SpanId,
    parent_is_remote: bool,
    kind: SpanKind,
    dropped_attributes: u32,
    name: Cow<'static, str>,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<KeyValue>,
    status: Status,
    extras: Option<Box<Extras>>,
    scope: &'static InstrumentationScope,
    span_context: SpanContext,
}

/// A span's events and links, with the counts of those the limits dropped.
#[derive(Default)]
struct Extras {
    events: Vec<Event>,
    dropped_events: u32,
    links: Vec<Link>,
    dropped_links: u32,
}

impl Recorded {
    fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("name", &self.name)
            .field("span_context", &self.span_context)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl crate::export::SpanView for Recorded {
    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }
    fn parent_span_id(&self) -> SpanId {
        self.parent_span_id
    }
    fn parent_is_remote(&self) -> bool {
        self.parent_is_remote
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &SpanKind {
        &self.kind
    }
    fn start_time(&self) -> SystemTime {
        self.start
    }
    fn end_time(&self) -> SystemTime {
        self.end
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.dropped_attributes
    }
    fn events(&self) -> &[Event] {
        self.extras.as_ref().map_or(&[], |x| &x.events)
    }
    fn dropped_events_count(&self) -> u32 {
        self.extras.as_ref().map_or(0, |x| x.dropped_events)
    }
    fn links(&self) -> &[Link] {
        self.extras.as_ref().map_or(&[], |x| &x.links)
    }
    fn dropped_links_count(&self) -> u32 {
        self.extras.as_ref().map_or(0, |x| x.dropped_links)
    }
    fn status(&self) -> &Status {
        &self.status
    }
    fn instrumentation_scope(&self) -> &InstrumentationScope {
        self.scope
    }
}

impl Recorded {
    /// Frees the span, its attribute vector emptied into the pool for the next spans (on the
    /// export thread, after a [`FinishedExporter`](crate::export::FinishedExporter) read it).
    pub(crate) fn release(mut self) {
        recycle(std::mem::take(&mut self.attributes));
    }

    /// The SDK's form of the span, for the exporter (on the export thread).
    pub(crate) fn into_span_data(mut self) -> SpanData {
        let mut attributes = Vec::with_capacity(self.attributes.len());
        attributes.append(&mut self.attributes);
        recycle(std::mem::replace(&mut self.attributes, attributes));
        let x = self.extras.map(|x| *x).unwrap_or_default();
        let mut events = SpanEvents::default();
        events.events = x.events;
        events.dropped_count = x.dropped_events;
        let mut links = SpanLinks::default();
        links.links = x.links;
        links.dropped_count = x.dropped_links;
        SpanData {
            span_context: self.span_context,
            parent_span_id: self.parent_span_id,
            parent_span_is_remote: self.parent_is_remote,
            span_kind: self.kind,
            name: self.name,
            start_time: self.start,
            end_time: self.end,
            attributes: self.attributes,
            dropped_attributes_count: self.dropped_attributes,
            events,
            links,
            status: self.status,
            instrumentation_scope: self.scope.clone(),
        }
    }
}

/// What a span starts with.
pub(crate) struct Start {
    pub(crate) span_context: SpanContext,
    pub(crate) parent: Option<(SpanId, bool)>,
    pub(crate) kind: SpanKind,
    pub(crate) name: Cow<'static, str>,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) links: Vec<Link>,
    pub(crate) scope: &'static InstrumentationScope,
}

/// A sampled span of the adapters. See the module documentation.
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind};
/// use trace_core::tracer::{SpanHandle, Tracer};
///
/// trace_core::testing::install(); // registers a span queue: spans are recorded as this type
/// let handle = Tracer::new("doc").start(
///     SpanKind::Client,
///     &opentelemetry::Context::new(),
///     Vec::new(),
///     || ("PING".into(), Vec::new()),
///     |_| {},
/// );
/// let SpanHandle::Recording(mut span) = handle else { panic!("not recorded") };
/// span.add_event("sent", Vec::new());
/// span.end(); // moves into the queue by value: no lock, no copy into the SDK's span
/// ```
#[derive(Debug)]
pub struct RecordingSpan {
    span_context: SpanContext,
    data: Option<Box<Recorded>>,
    queue: &'static SpanQueue,
}

fn bound<T>(items: &mut Vec<T>, limit: u32) -> u32 {
    let limit = limit as usize;
    if items.len() > limit {
        let dropped = items.len() - limit;
        items.truncate(limit);
        dropped as u32
    } else {
        0
    }
}

impl RecordingSpan {
    pub(crate) fn start(s: Start, queue: &'static SpanQueue) -> Self {
        let limits = queue.limits();
        let mut attributes = s.attributes;
        let dropped_attributes = bound(&mut attributes, limits.max_attributes_per_span);
        let mut links = s.links;
        let dropped_links = bound(&mut links, limits.max_links_per_span);
        for l in &mut links {
            l.dropped_attributes_count += bound(&mut l.attributes, limits.max_attributes_per_link);
        }
        let (parent_span_id, parent_is_remote) = s.parent.unwrap_or((SpanId::INVALID, false));
        let extras = (!links.is_empty() || dropped_links > 0).then(|| {
            Box::new(Extras {
                links,
                dropped_links,
                ..Extras::default()
            })
        });
        let start = crate::clock::now();
        Self {
            span_context: s.span_context.clone(),
            data: Some(Box::new(Recorded {
                parent_span_id,
                parent_is_remote,
                kind: s.kind,
                dropped_attributes,
                name: s.name,
                start,
                end: start,
                attributes,
                status: Status::Unset,
                extras,
                scope: s.scope,
                span_context: s.span_context,
            })),
            queue,
        }
    }
}

impl opentelemetry::trace::Span for RecordingSpan {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        let limits = self.queue.limits();
        if let Some(d) = &mut self.data {
            let x = d.extras();
            if x.events.len() < limits.max_events_per_span as usize {
                let dropped = bound(&mut attributes, limits.max_attributes_per_event);
                x.events
                    .push(Event::new(name, timestamp, attributes, dropped));
            } else {
                x.dropped_events += 1;
            }
        }
    }

    fn add_event<T>(&mut self, name: T, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        self.add_event_with_timestamp(name, crate::clock::now(), attributes);
    }

    fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        let limit = self.queue.limits().max_attributes_per_span as usize;
        if let Some(d) = &mut self.data {
            if d.attributes.len() < limit {
                d.attributes.push(attribute);
            } else {
                d.dropped_attributes += 1;
            }
        }
    }

    fn set_status(&mut self, status: Status) {
        if let Some(d) = &mut self.data {
            // Ok > Error > Unset, as in the SDK
            if status > d.status {
                d.status = status;
            }
        }
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        if let Some(d) = &mut self.data {
            d.name = new_name.into();
        }
    }

    fn add_link(&mut self, span_context: SpanContext, mut attributes: Vec<KeyValue>) {
        let limits = self.queue.limits();
        if let Some(d) = &mut self.data {
            let x = d.extras();
            if x.links.len() < limits.max_links_per_span as usize {
                let dropped = bound(&mut attributes, limits.max_attributes_per_link);
                x.links.push(Link::new(span_context, attributes, dropped));
            } else {
                x.dropped_links += 1;
            }
        }
    }

    fn end(&mut self) {
        self.end_with_timestamp(crate::clock::now());
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        if let Some(mut d) = self.data.take() {
            // (the start came from this process's anchored clock, the end maybe from another
            // thread's anchor or the caller: never before the start)
            d.end = timestamp.max(d.start);
            self.queue.push_with(move || Finished::Recorded(*d));
        }
    }
}

impl Drop for RecordingSpan {
    fn drop(&mut self) {
        if let Some(mut d) = self.data.take() {
            d.end = crate::clock::now().max(d.start);
            self.queue.push_with(move || Finished::Recorded(*d));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::SpanView;
    use opentelemetry::trace::{TraceFlags, TraceId, TraceState};
    use std::time::Duration;

    #[test]
    fn recycled_vectors_come_out_empty() {
        use crate::attributes::{HTTP_REQUEST_METHOD, SERVER_PORT, URL_PATH};
        let mut v = Vec::with_capacity(16);
        v.push(HTTP_REQUEST_METHOD.kv("GET"));
        v.push(URL_PATH.kv(String::from("/users/42")));
        v.push(SERVER_PORT.kv(8080));
        recycle(v);
        // whatever the pool hands out (this vector or another test's) is empty
        for _ in 0..4 {
            assert!(attribute_vec(16).is_empty());
        }
    }

    #[test]
    fn vectors_travel_in_bundles_and_come_back_emptied() {
        use crate::attributes::URL_PATH;
        let pool = VecPool::new(2);
        let (mut filling, mut taking) = (Vec::new(), Vec::new());
        let released = |i: usize| {
            let mut v = Vec::with_capacity(8 + i);
            v.push(URL_PATH.kv(format!("/span/{i}")));
            v
        };
        // nothing passed on until a bundle is full
        for i in 0..BUNDLE - 1 {
            pool.give(&mut filling, released(i));
        }
        assert!(pool.take(&mut taking).is_none());
        pool.give(&mut filling, released(BUNDLE - 1));
        assert!(
            filling.is_empty() && filling.capacity() == 0,
            "the full bundle went whole"
        );
        // the taker gets the bundle's vectors, values still in them (dropped by `attribute_vec`)
        let capacities: Vec<usize> = (0..BUNDLE)
            .map(|_| {
                let v = pool.take(&mut taking).expect("a vector of the bundle");
                assert_eq!(v.len(), 1);
                v.capacity()
            })
            .collect();
        let mut sorted = capacities.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (8..8 + BUNDLE).collect::<Vec<_>>());
        assert!(pool.take(&mut taking).is_none(), "one bundle, taken whole");
        // a second bundle: the emptied one goes back to the filler and is filled again
        for i in 0..BUNDLE {
            pool.give(&mut filling, released(i));
        }
        assert!(pool.take(&mut taking).is_some());
        assert_eq!(
            pool.empty.len(),
            1,
            "the emptied bundle waits for the filler"
        );
        pool.give(&mut filling, released(0));
        assert_eq!(pool.empty.len(), 0);
        assert!(filling.capacity() >= BUNDLE);
        // a full pool frees what does not fit instead of blocking
        for i in 0..3 * BUNDLE {
            pool.give(&mut filling, released(i));
        }
        assert_eq!(pool.full.len(), 2);
    }

    /// A span with something in every field.
    fn recorded() -> Recorded {
        let cx = |t: u128, s: u64| {
            SpanContext::new(
                TraceId::from(t),
                SpanId::from(s),
                TraceFlags::SAMPLED,
                true,
                TraceState::from_key_value([("k", "v")]).unwrap(),
            )
        };
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        Recorded {
            parent_span_id: SpanId::from(7),
            parent_is_remote: true,
            kind: SpanKind::Client,
            name: Cow::Borrowed("GET /users/{id}"),
            start,
            end: start + Duration::from_millis(3),
            attributes: vec![KeyValue::new("a", 1), KeyValue::new("b", "two")],
            dropped_attributes: 2,
            extras: Some(Box::new(Extras {
                events: vec![Event::new("e", start, vec![KeyValue::new("x", true)], 1)],
                dropped_events: 3,
                links: vec![Link::new(cx(9, 10), vec![KeyValue::new("l", 1.5)], 4)],
                dropped_links: 5,
            })),
            status: Status::error("boom"),
            scope: scope_of("recording-test"),
            span_context: cx(1, 2),
        }
    }

    fn same(a: &dyn SpanView, b: &dyn SpanView) {
        assert_eq!(a.span_context(), b.span_context());
        assert_eq!(a.parent_span_id(), b.parent_span_id());
        assert_eq!(a.parent_is_remote(), b.parent_is_remote());
        assert_eq!(a.name(), b.name());
        assert_eq!(a.kind(), b.kind());
        assert_eq!(a.start_time(), b.start_time());
        assert_eq!(a.end_time(), b.end_time());
        assert_eq!(a.attributes(), b.attributes());
        assert_eq!(a.dropped_attributes_count(), b.dropped_attributes_count());
        assert_eq!(a.events(), b.events());
        assert_eq!(a.dropped_events_count(), b.dropped_events_count());
        assert_eq!(a.links(), b.links());
        assert_eq!(a.dropped_links_count(), b.dropped_links_count());
        assert_eq!(a.status(), b.status());
        assert_eq!(a.instrumentation_scope(), b.instrumentation_scope());
    }

    #[test]
    fn a_queued_span_is_no_larger_than_the_adapters_record() {
        // every staged and queued span takes the size of the enum: the SDK's larger `SpanData`
        // is boxed so that it does not set it, and events and links are out of line
        assert!(std::mem::size_of::<crate::export::Finished>() <= std::mem::size_of::<Recorded>());
        assert!(std::mem::size_of::<Recorded>() < std::mem::size_of::<SpanData>());
    }

    #[test]
    fn a_recorded_span_reads_the_same_as_its_span_data() {
        // what an exporter reads without the conversion equals what it reads after it
        same(&recorded(), &recorded().into_span_data());
        // and the view does read the fields (not defaults)
        let r = recorded();
        assert_eq!(r.name(), "GET /users/{id}");
        assert_eq!(r.dropped_links_count(), 5);
        assert_eq!(r.attributes().len(), 2);
    }
}
