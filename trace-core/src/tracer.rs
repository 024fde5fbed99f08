//! The tracer the adapters open spans with, and the sampling decision taken before any attribute
//! is built.
//!
//! When the pipeline is registered here ([`register`], done by `trace-init` and by the test
//! pipeline), adapters use the SDK tracer directly (no boxing) and decide sampling up front for the
//! samplers whose decision is known from the parent and the trace id (always on/off, trace-id
//! ratio, parent-based over those). A request that will not be sampled then costs no span at all:
//! the adapter carries a non-recording context with the right trace id and flags, exactly what the
//! SDK would have produced. A sampled request gets every attribute in one vector, before the span
//! starts. For any other pipeline (a global provider set up elsewhere, a custom sampler), adapters
//! fall back to the global tracer and let the SDK decide.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use opentelemetry::global::{self, BoxedSpan, BoxedTracer};
use opentelemetry::trace::{
    Link, Span, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracer, SdkTracerProvider};

use crate::export::SpanQueue;
use crate::recording::{scope_of, RecordingSpan, Start};

/// A sampler whose decision can be computed from the parent and the trace id.
///
/// ```
/// use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
/// use trace_core::tracer::{KnownSampler, RootSampler};
///
/// let sampler = KnownSampler::ParentBased(RootSampler::TraceIdRatio(0.0));
/// let root = TraceId::from(42_u128);
/// assert!(!sampler.decide(None, root)); // roots at ratio 0: none
/// let caller = SpanContext::new(root, 7_u64.into(), TraceFlags::SAMPLED, true, TraceState::default());
/// assert!(sampler.decide(Some(&caller), root)); // the caller's "sampled" is followed
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KnownSampler {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample a ratio of trace ids (the SDK's `TraceIdRatioBased` rule).
    TraceIdRatio(f64),
    /// Follow the parent's sampled flag; decide roots with the inner sampler.
    ParentBased(RootSampler),
}

/// The root sampler of [`KnownSampler::ParentBased`].
///
/// ```
/// use trace_core::tracer::{KnownSampler, RootSampler};
/// // OTEL_TRACES_SAMPLER=parentbased_always_on, the default
/// let default = KnownSampler::ParentBased(RootSampler::AlwaysOn);
/// assert!(default.decide(None, opentelemetry::trace::TraceId::from(1_u128)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// Sample every root.
    AlwaysOn,
    /// Sample no root.
    AlwaysOff,
    /// Sample a ratio of roots.
    TraceIdRatio(f64),
}

impl KnownSampler {
    /// The SDK sampler with the same behaviour.
    ///
    /// ```
    /// use trace_core::tracer::KnownSampler;
    /// let sdk = KnownSampler::TraceIdRatio(0.5).to_sdk();
    /// assert!(matches!(sdk, opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(_)));
    /// ```
    pub fn to_sdk(self) -> opentelemetry_sdk::trace::Sampler {
        use opentelemetry_sdk::trace::Sampler as S;
        match self {
            Self::AlwaysOn => S::AlwaysOn,
            Self::AlwaysOff => S::AlwaysOff,
            Self::TraceIdRatio(r) => S::TraceIdRatioBased(r),
            Self::ParentBased(root) => S::ParentBased(Box::new(match root {
                RootSampler::AlwaysOn => S::AlwaysOn,
                RootSampler::AlwaysOff => S::AlwaysOff,
                RootSampler::TraceIdRatio(r) => S::TraceIdRatioBased(r),
            })),
        }
    }

    /// Whether a span with this parent and trace id is sampled.
    ///
    /// ```
    /// use trace_core::tracer::KnownSampler;
    /// assert!(!KnownSampler::AlwaysOff.decide(None, opentelemetry::trace::TraceId::from(9_u128)));
    /// ```
    pub fn decide(self, parent: Option<&SpanContext>, trace_id: TraceId) -> bool {
        match self {
            Self::AlwaysOn => true,
            Self::AlwaysOff => false,
            Self::TraceIdRatio(r) => ratio(r, trace_id),
            Self::ParentBased(root) => match parent {
                Some(p) => p.is_sampled(),
                None => match root {
                    RootSampler::AlwaysOn => true,
                    RootSampler::AlwaysOff => false,
                    RootSampler::TraceIdRatio(r) => ratio(r, trace_id),
                },
            },
        }
    }

    /// Whether the decision depends on the trace id when there is no parent.
    fn root_needs_trace_id(self) -> bool {
        matches!(
            self,
            Self::TraceIdRatio(_) | Self::ParentBased(RootSampler::TraceIdRatio(_))
        )
    }
}

/// The SDK's trace-id ratio rule: the same trace id gets the same decision in every service.
///
/// ```
/// use opentelemetry::trace::TraceId;
/// use trace_core::tracer::ratio;
/// assert!(ratio(1.0, TraceId::from(u128::MAX)));
/// assert!(!ratio(0.0, TraceId::from(1_u128)));
/// assert!(ratio(0.5, TraceId::from(1_u128))); // its low 64 bits are small
/// ```
pub fn ratio(prob: f64, trace_id: TraceId) -> bool {
    if prob >= 1.0 {
        return true;
    }
    let bound = (prob.max(0.0) * (1u64 << 63) as f64) as u64;
    let b = trace_id.to_bytes();
    let low = u64::from_be_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
    (low >> 1) < bound
}

thread_local! {
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// An id generator that hands the SDK the trace id an adapter already chose (so the SDK's own
/// sampling decision matches the one taken up front), and random ids otherwise. `trace-init`
/// installs it; install it in your own provider to get the same fast path.
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::tracer::{KnownSampler, PresetIdGenerator, RootSampler};
///
/// let sampler = KnownSampler::ParentBased(RootSampler::TraceIdRatio(0.1));
/// let provider = SdkTracerProvider::builder()
///     .with_sampler(sampler.to_sdk())
///     .with_id_generator(PresetIdGenerator::default())
///     .build();
/// trace_core::tracer::register(&provider, Some(sampler), true);
/// ```
#[derive(Debug, Default, Clone)]
pub struct PresetIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for PresetIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID
            .with(|c| c.take())
            .unwrap_or_else(|| self.random.new_trace_id())
    }
    fn new_span_id(&self) -> SpanId {
        self.random.new_span_id()
    }
}

#[derive(Debug, Clone)]
struct Registered {
    provider: SdkTracerProvider,
    sampler: Option<KnownSampler>,
    preset_ids: bool,
    queue: Option<SpanQueue>,
}

static REGISTERED: RwLock<Option<Registered>> = RwLock::new(None);
/// Set once a pipeline has been registered: tracers built before then look it up again.
static EVER_REGISTERED: AtomicBool = AtomicBool::new(false);

/// Registers the pipeline adapters built from now on use: its provider, its sampler when it is a
/// [`KnownSampler`], and whether it was built with [`PresetIdGenerator`]. Clears a queue
/// registered before; call [`register_queue`] after it when the provider exports through one.
/// `trace-init` does this; a service building its own provider calls it once.
///
/// ```
/// use opentelemetry::trace::Span as _;
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
/// // a sampler the SDK decides itself (`None`), ids from the SDK's generator (`false`)
/// trace_core::tracer::register(&provider, None, false);
/// let tracer = trace_core::tracer::Tracer::new("my-adapter");
/// let mut span = tracer.start(
///     opentelemetry::trace::SpanKind::Client,
///     &opentelemetry::Context::new(),
///     Vec::new(),
///     || ("lookup".into(), Vec::new()),
///     |_| {},
/// );
/// span.end();
/// assert_eq!(exporter.get_finished_spans().unwrap()[0].name, "lookup");
/// ```
pub fn register(provider: &SdkTracerProvider, sampler: Option<KnownSampler>, preset_ids: bool) {
    let mut r = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    *r = Some(Registered {
        provider: provider.clone(),
        sampler,
        preset_ids,
        queue: None,
    });
    EVER_REGISTERED.store(true, Ordering::Release);
}

/// Registers the [`SpanQueue`] the registered provider exports through (it must be one of the
/// provider's span processors). With a known sampler, adapters built from now on record sampled
/// spans as [`RecordingSpan`]s straight into the queue instead of through the SDK's span.
/// `trace-init` does this; a hand-built pipeline does it like this:
///
/// ```
/// use opentelemetry::trace::{SpanKind, Span as _};
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
/// use trace_core::export::{QueueConfig, SpanQueue};
/// use trace_core::tracer::{self, KnownSampler, RootSampler, SpanHandle, Tracer};
///
/// let sampler = KnownSampler::ParentBased(RootSampler::AlwaysOn);
/// let exporter = InMemorySpanExporter::default();
/// let queue = SpanQueue::new(exporter.clone(), QueueConfig::default());
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(queue.clone())
///     .with_sampler(sampler.to_sdk())
///     .build();
/// tracer::register(&provider, Some(sampler), false);
/// tracer::register_queue(&queue);
///
/// let mut span = Tracer::new("my-adapter").start(
///     SpanKind::Client,
///     &opentelemetry::Context::new(),
///     Vec::new(),
///     || ("GET".into(), Vec::new()),
///     |_| {},
/// );
/// assert!(matches!(span, SpanHandle::Recording(_)));
/// span.end();
/// provider.force_flush().unwrap();
/// assert_eq!(exporter.get_finished_spans().unwrap()[0].name, "GET");
/// ```
pub fn register_queue(queue: &SpanQueue) {
    let mut r = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = r.as_mut() {
        r.queue = Some(queue.clone());
    }
}

#[derive(Debug, Clone)]
enum Inner {
    Sdk(SdkTracer),
    Global(Arc<BoxedTracer>),
}

/// The tracer an adapter holds. See the module documentation.
///
/// It decides sampling before anything is built: the `head` closure (name and the attributes
/// a sampler may read) and the `more` closure (everything else) run only for a span that
/// records.
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt};
/// use opentelemetry::KeyValue;
/// use trace_core::tracer::Tracer;
///
/// let pipeline = trace_core::testing::install();
/// let tracer = Tracer::new("my-adapter");
/// let mut span = tracer.start(
///     SpanKind::Client,
///     &opentelemetry::Context::new(),
///     Vec::new(),
///     || ("GET".into(), vec![KeyValue::new("server.address", "cache")]),
///     |attrs| attrs.push(KeyValue::new("server.port", 11211_i64)),
/// );
/// let trace_id = span.span_context().trace_id();
/// span.end();
/// let trace = pipeline.wait_for_spans(trace_id, 1);
/// assert_eq!(trace.span("GET").attributes.len(), 2);
///
/// // under a caller that said "not sampled", nothing is built
/// let caller = trace_core::propagation::DefaultPropagator.extract_headers(&{
///     let mut h = http::HeaderMap::new();
///     h.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".parse().unwrap());
///     h
/// });
/// assert!(tracer.drops_under(&caller));
/// ```
#[derive(Debug, Clone)]
pub struct Tracer {
    inner: Inner,
    sampler: Option<KnownSampler>,
    preset_ids: bool,
    queue: Option<&'static SpanQueue>,
    scope: &'static InstrumentationScope,
    /// For a tracer built by [`Tracer::new`] before any pipeline was registered: the tracer of
    /// the pipeline registered later, looked up at its first span after the registration.
    late: Option<Arc<Late>>,
}

#[derive(Debug)]
struct Late {
    component: &'static str,
    resolved: OnceLock<Tracer>,
}

fn scope(component: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(component)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl Tracer {
    /// The tracer for `component`: from the registered pipeline, else from the global provider.
    /// A tracer built before the pipeline is registered (an adapter made before `trace_init::init`)
    /// switches to the pipeline at its first span after the registration.
    ///
    /// ```
    /// let tracer = trace_core::tracer::Tracer::new("my-adapter");
    /// ```
    pub fn new(component: &'static str) -> Self {
        let reg = REGISTERED.read().unwrap_or_else(|e| e.into_inner()).clone();
        match reg {
            Some(r) => Self {
                inner: Inner::Sdk(r.provider.tracer_with_scope(scope(component))),
                // own spans need the sampling decision taken here
                queue: r.sampler.and(r.queue.as_ref().map(SpanQueue::handle)),
                sampler: r.sampler,
                preset_ids: r.preset_ids,
                scope: scope_of(component),
                late: None,
            },
            None => Self {
                late: Some(Arc::new(Late {
                    component,
                    resolved: OnceLock::new(),
                })),
                ..Self::from_global(component)
            },
        }
    }

    /// The tracer to use now: this one, or the registered pipeline's when this one was built
    /// before the registration.
    fn current(&self) -> &Tracer {
        match &self.late {
            Some(late) if EVER_REGISTERED.load(Ordering::Acquire) => {
                late.resolved.get_or_init(|| Tracer::new(late.component))
            }
            _ => self,
        }
    }

    /// The global provider's tracer; the SDK decides sampling.
    ///
    /// ```
    /// let tracer = trace_core::tracer::Tracer::from_global("my-adapter");
    /// ```
    pub fn from_global(component: &'static str) -> Self {
        Self {
            inner: Inner::Global(Arc::new(global::tracer_with_scope(scope(component)))),
            sampler: None,
            preset_ids: false,
            queue: None,
            scope: scope_of(component),
            late: None,
        }
    }

    /// A tracer from `provider`, deciding sampling up front when `sampler` is given (it must be
    /// the provider's sampler).
    ///
    /// ```
    /// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    /// let tracer = trace_core::tracer::Tracer::from_provider("my-adapter", &provider, None);
    /// ```
    pub fn from_provider(
        component: &'static str,
        provider: &SdkTracerProvider,
        sampler: Option<KnownSampler>,
    ) -> Self {
        Self {
            inner: Inner::Sdk(provider.tracer_with_scope(scope(component))),
            sampler,
            preset_ids: false,
            queue: None,
            scope: scope_of(component),
            late: None,
        }
    }

    /// Records this tracer's sampled spans into `queue` (which must export for the provider the
    /// tracer came from) instead of through the SDK's span. Needs a known sampler.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    /// use trace_core::export::{QueueConfig, SpanQueue};
    /// use trace_core::tracer::{KnownSampler, RootSampler, Tracer};
    /// let queue = SpanQueue::new(InMemorySpanExporter::default(), QueueConfig::default());
    /// let provider = SdkTracerProvider::builder().with_span_processor(queue.clone()).build();
    /// let sampler = KnownSampler::ParentBased(RootSampler::AlwaysOn);
    /// let tracer = Tracer::from_provider("my-adapter", &provider, Some(sampler)).with_queue(&queue);
    /// ```
    pub fn with_queue(mut self, queue: &SpanQueue) -> Self {
        if self.sampler.is_some() {
            self.queue = Some(queue.handle());
        }
        self
    }

    /// True when a span under `parent` is known not to be sampled without looking at anything but
    /// the parent (a parent-based or always-off sampler with a valid parent). A server can then
    /// carry the caller's context as it is instead of opening a span.
    ///
    /// ```
    /// use trace_core::tracer::Tracer;
    /// trace_core::testing::install(); // parent-based, always on
    /// let tracer = Tracer::new("doc");
    /// assert!(!tracer.drops_under(&opentelemetry::Context::new())); // a root is sampled
    /// ```
    pub fn drops_under(&self, parent: &Context) -> bool {
        let this = self.current();
        if !std::ptr::eq(this, self) {
            return this.drops_under(parent);
        }
        let Some(sampler) = self.sampler else {
            return false;
        };
        let span = parent.span();
        let sc = span.span_context();
        if parent.is_telemetry_suppressed() {
            return true;
        }
        match sampler {
            KnownSampler::AlwaysOff => true,
            KnownSampler::TraceIdRatio(r) => r <= 0.0,
            KnownSampler::ParentBased(root) => {
                if sc.is_valid() {
                    !sc.is_sampled()
                } else {
                    matches!(root, RootSampler::AlwaysOff)
                        || matches!(root, RootSampler::TraceIdRatio(r) if r <= 0.0)
                }
            }
            KnownSampler::AlwaysOn => false,
        }
    }

    /// Opens a span under `parent`. `head` gives the name and the attributes a sampler may look
    /// at; `more` adds the rest. Neither runs when the span is known not to be sampled, and `more`
    /// runs only when it will record.
    ///
    /// ```
    /// use opentelemetry::trace::{Span as _, SpanKind};
    /// let tracer = trace_core::tracer::Tracer::new("doc");
    /// let mut span = tracer.start(SpanKind::Internal, &opentelemetry::Context::current(), Vec::new(), || ("work".into(), Vec::new()), |_| {});
    /// span.end();
    /// ```
    pub fn start(
        &self,
        kind: SpanKind,
        parent: &Context,
        links: Vec<Link>,
        head: impl FnOnce() -> (Cow<'static, str>, Vec<KeyValue>),
        more: impl FnOnce(&mut Vec<KeyValue>),
    ) -> SpanHandle {
        let this = self.current();
        if !std::ptr::eq(this, self) {
            return this.start(kind, parent, links, head, more);
        }
        if parent.is_telemetry_suppressed() {
            return SpanHandle::Dropped(SpanContext::empty_context());
        }
        let parent_span = parent.span();
        let psc = parent_span.span_context();
        let parent_sc = psc.is_valid().then_some(psc);
        if let Some(sampler) = self.sampler {
            let trace_id = parent_sc.map_or_else(
                || RandomIdGenerator::default().new_trace_id(),
                |p| p.trace_id(),
            );
            let root_tid = parent_sc.is_none().then_some(trace_id);
            if !sampler.decide(parent_sc, trace_id) {
                let sc = new_span_context(trace_id, TraceFlags::default(), parent_sc);
                return SpanHandle::Dropped(sc);
            }
            if root_tid.is_some()
                && sampler.root_needs_trace_id()
                && !self.preset_ids
                && self.queue.is_none()
            {
                // An SDK span whose provider picks its own trace id (and decides again on it):
                // let the SDK do both, so its sampler and the id agree.
                return self.start_sdk(kind, parent, links, head, more);
            }
            let (name, mut attrs) = head();
            more(&mut attrs);
            if let Some(queue) = &self.queue {
                let sc = new_span_context(trace_id, TraceFlags::SAMPLED, parent_sc);
                return SpanHandle::Recording(RecordingSpan::start(
                    Start {
                        span_context: sc,
                        parent: parent_sc.map(|p| (p.span_id(), p.is_remote())),
                        kind,
                        name,
                        attributes: attrs,
                        links,
                        scope: self.scope,
                    },
                    queue,
                ));
            }
            if let Some(tid) = root_tid {
                NEXT_TRACE_ID.with(|c| c.set(Some(tid)));
            }
            let span = self.build(name, kind, parent, links, attrs);
            NEXT_TRACE_ID.with(|c| c.set(None));
            return span;
        }
        self.start_sdk(kind, parent, links, head, more)
    }

    fn start_sdk(
        &self,
        kind: SpanKind,
        parent: &Context,
        links: Vec<Link>,
        head: impl FnOnce() -> (Cow<'static, str>, Vec<KeyValue>),
        more: impl FnOnce(&mut Vec<KeyValue>),
    ) -> SpanHandle {
        let (name, attrs) = head();
        let mut span = self.build(name, kind, parent, links, attrs);
        if span.is_recording() {
            let mut extra = Vec::with_capacity(16);
            more(&mut extra);
            span.set_attributes(extra);
        }
        span
    }

    fn build(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: &Context,
        links: Vec<Link>,
        attrs: Vec<KeyValue>,
    ) -> SpanHandle {
        let mut b = opentelemetry::trace::SpanBuilder::from_name(name)
            .with_kind(kind)
            .with_attributes(attrs);
        if !links.is_empty() {
            b = b.with_links(links);
        }
        match &self.inner {
            Inner::Sdk(t) => SpanHandle::Sdk(Box::new(t.build_with_context(b, parent))),
            Inner::Global(t) => SpanHandle::Boxed(t.build_with_context(b, parent)),
        }
    }
}

/// The context of a new span in `trace_id`: a fresh span id, the parent's trace state.
fn new_span_context(
    trace_id: TraceId,
    flags: TraceFlags,
    parent: Option<&SpanContext>,
) -> SpanContext {
    SpanContext::new(
        trace_id,
        RandomIdGenerator::default().new_span_id(),
        flags,
        false,
        parent.map(|p| p.trace_state().clone()).unwrap_or_default(),
    )
}

/// A span opened by a [`Tracer`]: the adapters' own span, an SDK span, a span of another
/// provider, or no span at all (not sampled; only its context is carried).
///
/// ```
/// use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt};
/// use trace_core::tracer::{SpanHandle, Tracer};
///
/// trace_core::testing::install();
/// let parent = opentelemetry::Context::new();
/// let span = Tracer::new("doc").start(SpanKind::Internal, &parent, Vec::new(), || ("work".into(), Vec::new()), |_| {});
/// assert!(matches!(span, SpanHandle::Recording(_)));
/// let cx = span.into_context(&parent); // parents whatever runs in `cx`
/// assert!(cx.span().is_recording());
/// trace_core::span::end(&cx.span());
/// ```
#[derive(Debug)]
pub enum SpanHandle {
    /// A span recorded straight into the registered [`SpanQueue`].
    Recording(RecordingSpan),
    /// A span of the registered SDK provider (no queue registered).
    Sdk(Box<opentelemetry_sdk::trace::Span>),
    /// A span of the global provider.
    Boxed(BoxedSpan),
    /// Not sampled: the context it would have had, nothing recorded.
    Dropped(SpanContext),
}

impl SpanHandle {
    /// A context like `parent` whose current span is this one.
    ///
    /// ```
    /// use opentelemetry::trace::SpanKind;
    /// let parent = opentelemetry::Context::current();
    /// let span = trace_core::tracer::Tracer::new("doc").start(SpanKind::Internal, &parent, Vec::new(), || ("work".into(), Vec::new()), |_| {});
    /// let cx = span.into_context(&parent);
    /// let _guard = cx.clone().attach(); // code here runs in the span
    /// ```
    pub fn into_context(self, parent: &Context) -> Context {
        match self {
            Self::Dropped(sc) => parent.with_remote_span_context(sc),
            s => parent.with_span(s),
        }
    }
}

impl Span for SpanHandle {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: std::time::SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        match self {
            Self::Recording(s) => s.add_event_with_timestamp(name, timestamp, attributes),
            Self::Sdk(s) => s.add_event_with_timestamp(name, timestamp, attributes),
            Self::Boxed(s) => s.add_event_with_timestamp(name, timestamp, attributes),
            Self::Dropped(_) => {}
        }
    }
    fn span_context(&self) -> &SpanContext {
        match self {
            Self::Recording(s) => s.span_context(),
            Self::Sdk(s) => s.span_context(),
            Self::Boxed(s) => s.span_context(),
            Self::Dropped(sc) => sc,
        }
    }
    fn is_recording(&self) -> bool {
        match self {
            Self::Recording(s) => s.is_recording(),
            Self::Sdk(s) => s.is_recording(),
            Self::Boxed(s) => s.is_recording(),
            Self::Dropped(_) => false,
        }
    }
    fn set_attribute(&mut self, attribute: KeyValue) {
        match self {
            Self::Recording(s) => s.set_attribute(attribute),
            Self::Sdk(s) => s.set_attribute(attribute),
            Self::Boxed(s) => s.set_attribute(attribute),
            Self::Dropped(_) => {}
        }
    }
    fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        match self {
            Self::Recording(s) => s.set_attributes(attributes),
            Self::Sdk(s) => s.set_attributes(attributes),
            Self::Boxed(s) => s.set_attributes(attributes),
            Self::Dropped(_) => {}
        }
    }
    fn set_status(&mut self, status: Status) {
        match self {
            Self::Recording(s) => s.set_status(status),
            Self::Sdk(s) => s.set_status(status),
            Self::Boxed(s) => s.set_status(status),
            Self::Dropped(_) => {}
        }
    }
    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        match self {
            Self::Recording(s) => s.update_name(new_name),
            Self::Sdk(s) => s.update_name(new_name),
            Self::Boxed(s) => s.update_name(new_name),
            Self::Dropped(_) => {}
        }
    }
    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        match self {
            Self::Recording(s) => s.add_link(span_context, attributes),
            Self::Sdk(s) => s.add_link(span_context, attributes),
            Self::Boxed(s) => s.add_link(span_context, attributes),
            Self::Dropped(_) => {}
        }
    }
    fn add_event<T>(&mut self, name: T, attributes: Vec<KeyValue>)
    where
        T: Into<Cow<'static, str>>,
    {
        // (no clock read for a span that records nothing)
        if !matches!(self, Self::Dropped(_)) {
            self.add_event_with_timestamp(name, crate::clock::now(), attributes);
        }
    }
    fn end(&mut self) {
        if !matches!(self, Self::Dropped(_)) {
            self.end_with_timestamp(crate::clock::now());
        }
    }
    fn end_with_timestamp(&mut self, timestamp: std::time::SystemTime) {
        match self {
            Self::Recording(s) => s.end_with_timestamp(timestamp),
            Self::Sdk(s) => s.end_with_timestamp(timestamp),
            Self::Boxed(s) => s.end_with_timestamp(timestamp),
            Self::Dropped(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(sampled: bool) -> SpanContext {
        SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(9u64),
            if sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            },
            true,
            Default::default(),
        )
    }

    #[test]
    fn drops_under_is_only_sure_when_the_trace_id_does_not_matter() {
        let t = |s| Tracer {
            inner: Inner::Global(Arc::new(global::tracer("t"))),
            sampler: Some(s),
            preset_ids: false,
            queue: None,
            scope: scope_of("t"),
            late: None,
        };
        let unsampled = Context::new().with_remote_span_context(sc(false));
        let sampled = Context::new().with_remote_span_context(sc(true));
        let pb = t(KnownSampler::ParentBased(RootSampler::AlwaysOn));
        assert!(pb.drops_under(&unsampled));
        assert!(!pb.drops_under(&sampled));
        assert!(!pb.drops_under(&Context::new()));
        assert!(t(KnownSampler::TraceIdRatio(0.0)).drops_under(&Context::new()));
        assert!(!t(KnownSampler::TraceIdRatio(0.5)).drops_under(&Context::new()));
        assert!(t(KnownSampler::ParentBased(RootSampler::TraceIdRatio(0.0)))
            .drops_under(&Context::new()));
        assert!(
            !Tracer::from_global("g").drops_under(&unsampled),
            "unknown samplers decide in the SDK"
        );
    }

    #[test]
    fn decisions_match_the_sdk_rules() {
        let pb = KnownSampler::ParentBased(RootSampler::AlwaysOn);
        assert!(pb.decide(Some(&sc(true)), TraceId::from(1u128)));
        assert!(!pb.decide(Some(&sc(false)), TraceId::from(1u128)));
        assert!(pb.decide(None, TraceId::from(1u128)));
        assert!(!KnownSampler::TraceIdRatio(0.0).decide(None, TraceId::from(u128::MAX)));
        assert!(KnownSampler::TraceIdRatio(1.0).decide(None, TraceId::from(u128::MAX)));
        // low half 0 → kept at any positive ratio; all ones → dropped below 1.0
        assert!(ratio(
            0.1,
            TraceId::from(0xffff_0000_0000_0000_0000_0000_0000_0000u128)
        ));
        assert!(!ratio(0.999, TraceId::from(u128::MAX)));
    }
}
