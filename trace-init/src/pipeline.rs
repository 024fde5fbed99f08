//! Building and installing the pipeline; the guard that shuts it down.

use std::time::Duration;

use crate::otlp::{OtlpConfig, OtlpExporter};
use opentelemetry::global;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanLimits};
use trace_core::export::{QueueConfig, QueueStats, SpanQueue};
use trace_core::propagation::{B3Encoding, B3Propagator, JaegerPropagator, W3CTraceContext};
use trace_core::tracer::{KnownSampler, PresetIdGenerator, RootSampler};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use crate::console::{ConsoleExporter, SharedWriter};
use crate::logs::CorrelatedFormat;
use crate::settings::{
    BatchSettings, Exporter, LogFormat, Propagator, Protocol, Sampler, Settings,
};

/// Why the pipeline could not be installed.
///
/// ```
/// // a second pipeline in one process: the global subscriber is already taken
/// let _first = trace_init::builder().exporter(trace_init::Exporter::None).init().unwrap();
/// let second = trace_init::builder().exporter(trace_init::Exporter::None).init();
/// assert!(matches!(second, Err(trace_init::InitError::SubscriberAlreadySet)));
/// ```
#[derive(Debug)]
pub enum InitError {
    /// A global `tracing` subscriber was already set.
    SubscriberAlreadySet,
    /// The exporter could not be built (the message says why).
    Exporter(String),
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SubscriberAlreadySet => f.write_str("a global tracing subscriber is already set"),
            Self::Exporter(m) => write!(f, "the span exporter could not be built: {m}"),
        }
    }
}

impl std::error::Error for InitError {}

/// Installs the pipeline configured by the `OTEL_*` variables. Same as `builder().init()`.
///
/// ```no_run
/// # fn main() -> Result<(), trace_init::InitError> {
/// // OTEL_SERVICE_NAME=orders OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4317 ./orders
/// let _guard = trace_init::init()?; // keep it until the end of main: dropping it flushes
/// tracing::info!("serving"); // carries trace_id and span_id inside a span
/// # Ok(())
/// # }
/// ```
pub fn init() -> Result<Guard, InitError> {
    builder().init()
}

/// A builder starting from the `OTEL_*` variables; settings made in code take precedence.
///
/// ```no_run
/// # fn main() -> Result<(), trace_init::InitError> {
/// let _guard = trace_init::builder()
///     .service_name("orders") // unless OTEL_SERVICE_NAME says otherwise
///     .service_version(env!("CARGO_PKG_VERSION"))
///     .environment("staging")
///     .json_logs(true)
///     .init()?;
/// # Ok(())
/// # }
/// ```
pub fn builder() -> Builder {
    let (settings, warnings) = Settings::from_env();
    Builder {
        settings,
        warnings,
        code_service_name: None,
        install_subscriber: true,
        console_writer: None,
    }
}

/// Settings in code on top of the environment. See [`builder`].
///
/// ```
/// use std::time::Duration;
/// use trace_init::{Exporter, Propagator, Sampler};
///
/// let builder = trace_init::builder()
///     .exporter(Exporter::None)
///     .sampler(Sampler::ParentBasedTraceIdRatio(0.25))
///     .propagators(vec![Propagator::TraceContext, Propagator::Baggage])
///     .shutdown_timeout(Duration::from_secs(2));
/// assert_eq!(builder.settings().sampler, Sampler::ParentBasedTraceIdRatio(0.25));
/// for warning in builder.warnings() {
///     eprintln!("{warning}"); // an invalid OTEL_* value, and the default used instead
/// }
/// let _guard = builder.init().unwrap();
/// ```
#[must_use]
pub struct Builder {
    settings: Settings,
    warnings: Vec<String>,
    code_service_name: Option<String>,
    install_subscriber: bool,
    console_writer: Option<SharedWriter>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Starts from explicit settings instead of the environment.
    ///
    /// ```
    /// let (mut settings, _warnings) = trace_init::Settings::from_lookup(|_| None); // ignore the environment
    /// settings.exporter = trace_init::Exporter::None;
    /// let _guard = trace_init::Builder::from_settings(settings).init().unwrap();
    /// ```
    pub fn from_settings(settings: Settings) -> Self {
        Self {
            settings,
            warnings: Vec::new(),
            code_service_name: None,
            install_subscriber: true,
            console_writer: None,
        }
    }

    /// The settings as they stand.
    ///
    /// ```
    /// let builder = trace_init::builder().service_version("1.4.2");
    /// assert_eq!(builder.settings().service_version.as_deref(), Some("1.4.2"));
    /// ```
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The warnings about invalid variables (also logged by [`init`](Self::init)).
    ///
    /// ```
    /// // with OTEL_BSP_MAX_QUEUE_SIZE=lots set, this names the variable and its value
    /// for warning in trace_init::builder().warnings() {
    ///     eprintln!("{warning}");
    /// }
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// `service.name`, used when `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` do not set one.
    ///
    /// ```
    /// let _guard = trace_init::builder()
    ///     .service_name("checkout") // OTEL_SERVICE_NAME, when set, wins
    ///     .exporter(trace_init::Exporter::None)
    ///     .init()
    ///     .unwrap();
    /// ```
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.code_service_name = Some(name.into());
        self
    }

    /// `service.version`.
    ///
    /// ```
    /// let builder = trace_init::builder().service_version(env!("CARGO_PKG_VERSION"));
    /// ```
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.settings.service_version = Some(version.into());
        self
    }

    /// `deployment.environment.name`.
    ///
    /// ```
    /// let builder = trace_init::builder().environment("production");
    /// assert_eq!(builder.settings().environment.as_deref(), Some("production"));
    /// ```
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.settings.environment = Some(env.into());
        self
    }

    /// The exporter.
    ///
    /// ```
    /// // the waterfall on standard output, for local work
    /// let builder = trace_init::builder().exporter(trace_init::Exporter::Console);
    /// ```
    pub fn exporter(mut self, exporter: Exporter) -> Self {
        self.settings.exporter = exporter;
        self
    }

    /// The OTLP endpoint (used as is) and protocol.
    ///
    /// ```
    /// use trace_init::Protocol;
    /// let builder = trace_init::builder().otlp(Protocol::HttpProtobuf, "http://collector:4318/v1/traces");
    /// assert_eq!(builder.settings().exporter, trace_init::Exporter::Otlp);
    /// ```
    pub fn otlp(mut self, protocol: Protocol, endpoint: impl Into<String>) -> Self {
        self.settings.exporter = Exporter::Otlp;
        self.settings.protocol = protocol;
        self.settings.endpoint = endpoint.into();
        self
    }

    /// The sampler.
    ///
    /// ```
    /// // keep a tenth of new traces; follow the caller's decision otherwise
    /// let builder = trace_init::builder().sampler(trace_init::Sampler::ParentBasedTraceIdRatio(0.1));
    /// ```
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.settings.sampler = sampler;
        self
    }

    /// The propagators.
    ///
    /// ```
    /// use trace_init::Propagator;
    /// // talk to services that still speak Zipkin's B3
    /// let builder = trace_init::builder().propagators(vec![Propagator::TraceContext, Propagator::B3Multi]);
    /// ```
    pub fn propagators(mut self, propagators: Vec<Propagator>) -> Self {
        self.settings.propagators = propagators;
        self
    }

    /// The batch processor settings.
    ///
    /// ```
    /// use trace_init::settings::BatchSettings;
    /// let builder = trace_init::builder().batch(BatchSettings { max_queue_size: 8192, ..Default::default() });
    /// ```
    pub fn batch(mut self, batch: BatchSettings) -> Self {
        self.settings.batch = batch;
        self
    }

    /// JSON log lines instead of human ones.
    ///
    /// ```
    /// use trace_init::LogFormat;
    /// let builder = trace_init::builder().json_logs(true);
    /// assert_eq!(builder.settings().log_format, LogFormat::Json);
    /// ```
    pub fn json_logs(mut self, json: bool) -> Self {
        self.settings.log_format = if json {
            LogFormat::Json
        } else {
            LogFormat::Human
        };
        self
    }

    /// The log filter directives, when `RUST_LOG` is not set.
    ///
    /// ```
    /// // RUST_LOG, when set, wins
    /// let builder = trace_init::builder().default_log_filter("info,sqlx=warn");
    /// ```
    pub fn default_log_filter(mut self, directives: &str) -> Self {
        if std::env::var("RUST_LOG")
            .map(|v| v.trim().is_empty())
            .unwrap_or(true)
        {
            self.settings.log_filter = directives.to_owned();
        }
        self
    }

    /// How long dropping the guard may wait for the last spans to be exported (default 5 s).
    ///
    /// ```
    /// let builder = trace_init::builder().shutdown_timeout(std::time::Duration::from_secs(1));
    /// assert_eq!(builder.settings().shutdown_timeout, std::time::Duration::from_secs(1));
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// Where the console exporter writes (default: standard output).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let builder = trace_init::builder()
    ///     .exporter(trace_init::Exporter::Console)
    ///     .console_writer(Arc::new(Mutex::new(std::io::stderr())));
    /// ```
    pub fn console_writer(mut self, writer: SharedWriter) -> Self {
        self.console_writer = Some(writer);
        self
    }

    /// Whether to install the global `tracing` subscriber (default true). Without it, only the
    /// tracer provider and propagator are installed; compose your own subscriber with
    /// [`Guard::otel_layer`].
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// let guard = trace_init::builder()
    ///     .exporter(trace_init::Exporter::None)
    ///     .install_subscriber(false)
    ///     .init()
    ///     .unwrap();
    /// let subscriber = tracing_subscriber::registry().with(guard.otel_layer());
    /// tracing::subscriber::set_global_default(subscriber).unwrap();
    /// ```
    pub fn install_subscriber(mut self, install: bool) -> Self {
        self.install_subscriber = install;
        self
    }

    /// Builds and installs the pipeline.
    ///
    /// ```
    /// let guard = trace_init::builder().exporter(trace_init::Exporter::None).init().unwrap();
    /// assert!(guard.provider().is_some());
    /// ```
    pub fn init(self) -> Result<Guard, InitError> {
        let Builder {
            settings,
            warnings,
            code_service_name,
            install_subscriber,
            console_writer,
        } = self;
        if let Some(n) = settings.limits.attribute_value_length {
            trace_core::limits::set_max_value_len(n);
        }
        let mut guard = Guard {
            provider: None,
            queue: None,
            runtime: None,
            stop_retries: None,
            timeout: settings.shutdown_timeout,
        };
        let provider = build_provider(
            &settings,
            code_service_name.as_deref(),
            console_writer,
            &mut guard,
        )?;
        global::set_tracer_provider(provider.clone());
        install_propagator(&settings.propagators);
        guard.provider = Some(provider);
        if install_subscriber {
            // The log filter on each layer rather than once for the subscriber: next to the
            // bridge's own filter (exporter internals), a global filter would leave every
            // callsite it disables to be asked again each time it is reached (a `trace!` in h2
            // 16 ns, a `debug!` of the application 50 ns); on each layer, the disabled ones are
            // skipped by their level or their cached interest.
            let filter = || {
                EnvFilter::try_new(&settings.log_filter)
                    .unwrap_or_else(|_| EnvFilter::new(crate::settings::DEFAULT_LOG_FILTER))
            };
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let fmt = tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .event_format(CorrelatedFormat::new(settings.log_format, ansi));
            let subscriber = tracing_subscriber::registry()
                .with(guard.otel_layer().with_filter(filter()))
                .with(trace_core::events::SpanEventsLayer::new().with_filter(filter()))
                .with(fmt.with_filter(filter()));
            tracing::subscriber::set_global_default(subscriber)
                .map_err(|_| InitError::SubscriberAlreadySet)?;
            if EnvFilter::try_new(&settings.log_filter).is_err() {
                tracing::warn!(
                    "RUST_LOG={:?} is not a valid filter; using the default ({})",
                    settings.log_filter,
                    crate::settings::DEFAULT_LOG_FILTER
                );
            }
        }
        for w in &warnings {
            tracing::warn!(target: "trace_init", "{w}");
            if !install_subscriber {
                eprintln!("trace-init: {w}");
            }
        }
        Ok(guard)
    }
}

fn is_exporter_internal(target: &str) -> bool {
    [
        "h2",
        "hyper",
        "hyper_util",
        "tonic",
        "tower",
        "reqwest",
        "opentelemetry",
        "opentelemetry_sdk",
        "opentelemetry_otlp",
        "trace_init::otlp",
    ]
    .iter()
    .any(|t| target == *t || (target.starts_with(t) && target[t.len()..].starts_with("::")))
}

fn known_sampler(s: Sampler) -> KnownSampler {
    match s {
        Sampler::AlwaysOn => KnownSampler::AlwaysOn,
        Sampler::AlwaysOff => KnownSampler::AlwaysOff,
        Sampler::TraceIdRatio(r) => KnownSampler::TraceIdRatio(r),
        Sampler::ParentBasedAlwaysOn => KnownSampler::ParentBased(RootSampler::AlwaysOn),
        Sampler::ParentBasedAlwaysOff => KnownSampler::ParentBased(RootSampler::AlwaysOff),
        Sampler::ParentBasedTraceIdRatio(r) => {
            KnownSampler::ParentBased(RootSampler::TraceIdRatio(r))
        }
    }
}

/// Installs the global propagator for a list of propagator names, as [`init`] does with
/// `OTEL_PROPAGATORS`. The usual lists (`tracecontext,baggage`, the default, and
/// `tracecontext`) install trace-core's own types, which read a request's headers in one pass;
/// any other list the composite of its propagators, in order; an empty list (`none`) one that
/// reads and writes nothing.
///
/// ```
/// use trace_init::Propagator;
/// trace_init::install_propagator(&[Propagator::TraceContext, Propagator::Baggage]);
/// ```
pub fn install_propagator(list: &[Propagator]) {
    match list {
        [Propagator::TraceContext, Propagator::Baggage] => {
            global::set_text_map_propagator(trace_core::propagation::default_propagator())
        }
        [Propagator::TraceContext] => global::set_text_map_propagator(W3CTraceContext::new()),
        other => global::set_text_map_propagator(propagator(other)),
    }
}

/// The composite propagator for a list of propagator names.
pub fn propagator(list: &[Propagator]) -> TextMapCompositePropagator {
    let parts: Vec<Box<dyn TextMapPropagator + Send + Sync>> = list
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(W3CTraceContext::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::B3 => Box::new(B3Propagator::new(B3Encoding::Single)),
                Propagator::B3Multi => Box::new(B3Propagator::new(B3Encoding::Multiple)),
                Propagator::Jaeger => Box::new(JaegerPropagator::new()),
            }
        })
        .collect();
    TextMapCompositePropagator::new(parts)
}

/// The span queue (trace-core's batch processor: the adapters' spans skip the SDK's span) for
/// `exporter` with the `OTEL_BSP_*` settings and the span limits. (The OTLP exporter reads the
/// queued spans as they are: `SpanQueue::with_finished_exporter`.)
fn batch_processor<E>(exporter: E, b: &BatchSettings, limits: SpanLimits) -> SpanQueue
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    SpanQueue::new(exporter, queue_config(b, limits))
}

fn queue_config(b: &BatchSettings, limits: SpanLimits) -> QueueConfig {
    QueueConfig {
        max_queue_size: b.max_queue_size,
        max_export_batch_size: b.max_export_batch_size,
        scheduled_delay: b.schedule_delay,
        limits,
        ..QueueConfig::default()
    }
}

/// One export may take at most the exporter timeout, and at most the batch export timeout
/// (the SDK's thread-based batch processor has no timeout of its own, so it is applied here).
fn export_timeout(s: &Settings) -> Duration {
    s.timeout.min(s.batch.export_timeout)
}

fn build_provider(
    s: &Settings,
    code_service_name: Option<&str>,
    console_writer: Option<SharedWriter>,
    guard: &mut Guard,
) -> Result<SdkTracerProvider, InitError> {
    let limits = SpanLimits {
        max_attributes_per_span: s.limits.attribute_count,
        max_events_per_span: s.limits.event_count,
        max_links_per_span: s.limits.link_count,
        ..SpanLimits::default()
    };
    let sampler = if s.disabled {
        KnownSampler::AlwaysOff
    } else {
        known_sampler(s.sampler)
    };
    let mut b = SdkTracerProvider::builder()
        .with_resource(crate::resource::build(s, code_service_name))
        .with_sampler(sampler.to_sdk())
        .with_id_generator(PresetIdGenerator::default())
        .with_span_limits(limits);
    if s.disabled {
        let provider = b.build();
        trace_core::tracer::register(&provider, Some(sampler), true);
        return Ok(provider);
    }
    let mut queue = None;
    match s.exporter {
        Exporter::None => {}
        Exporter::Console => {
            let exporter = match console_writer {
                Some(w) => ConsoleExporter::new(w),
                None => ConsoleExporter::default(),
            };
            let mut batch = s.batch;
            batch.schedule_delay = batch.schedule_delay.min(Duration::from_millis(200));
            queue = Some(batch_processor(exporter, &batch, limits));
        }
        Exporter::Otlp => {
            // The exporter sends on a small runtime of its own, so export never competes with
            // the application's runtime and still works while that one shuts down.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("otlp-export")
                .enable_all()
                .build()
                .map_err(|e| InitError::Exporter(e.to_string()))?;
            let (exporter, stop_retries) = OtlpExporter::new(
                &OtlpConfig {
                    protocol: s.protocol,
                    endpoint: s.endpoint.clone(),
                    headers: s.headers.clone(),
                    gzip: s.gzip,
                    timeout: export_timeout(s),
                },
                rt.handle(),
            )
            .map_err(|e| InitError::Exporter(e.0))?;
            guard.runtime = Some(rt);
            guard.stop_retries = Some(stop_retries);
            queue = Some(SpanQueue::with_finished_exporter(
                exporter,
                queue_config(&s.batch, limits),
            ));
        }
    }
    if let Some(q) = &queue {
        b = b.with_span_processor(q.clone());
    }
    let provider = b.build();
    trace_core::tracer::register(&provider, Some(sampler), true);
    if let Some(q) = &queue {
        trace_core::tracer::register_queue(q);
    }
    guard.queue = queue;
    Ok(provider)
}

/// Keeps the pipeline alive; flushes and shuts it down when dropped, waiting at most the shutdown
/// timeout (an unreachable collector cannot hold the exit longer).
///
/// ```
/// let guard = trace_init::builder()
///     .exporter(trace_init::Exporter::None)
///     .init()
///     .unwrap();
/// tracing::info_span!("work").in_scope(|| tracing::info!("done"));
/// guard.force_flush();
/// drop(guard); // the last spans exported, the pipeline shut down
/// ```
#[must_use = "dropping the guard shuts the pipeline down"]
pub struct Guard {
    provider: Option<SdkTracerProvider>,
    queue: Option<SpanQueue>,
    runtime: Option<tokio::runtime::Runtime>,
    stop_retries: Option<crate::otlp::StopRetries>,
    timeout: Duration,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// The installed tracer provider.
    ///
    /// ```
    /// use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    /// let guard = trace_init::builder().exporter(trace_init::Exporter::None).init().unwrap();
    /// // an OpenTelemetry tracer on the same pipeline, for code written against the API
    /// let tracer = guard.provider().unwrap().tracer("billing");
    /// tracer.in_span("invoice run", |_| {});
    /// ```
    pub fn provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// The `tracing` → OpenTelemetry bridge layer on this pipeline, with the lean settings (no
    /// thread, location, target or busy/idle attributes), for composing your own subscriber.
    /// Exporter internals (h2, hyper, tonic, reqwest, opentelemetry) are filtered out of it so
    /// exporting never makes spans of its own.
    ///
    /// Since this layer carries a filter of its own, give a log filter to each layer
    /// (`with_filter`) rather than to the whole subscriber: next to a per-layer filter, a global
    /// one leaves every callsite it disables to be evaluated again each time it is reached
    /// (about 16 ns for a `trace!` in h2, 50 ns for an application's `debug!`, measured), where
    /// per-layer filters let them be skipped by their level.
    ///
    /// ```
    /// use tracing_subscriber::{layer::SubscriberExt, EnvFilter, Layer as _};
    /// let guard = trace_init::builder()
    ///     .exporter(trace_init::Exporter::None)
    ///     .install_subscriber(false)
    ///     .init()
    ///     .unwrap();
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(guard.otel_layer().with_filter(EnvFilter::new("info")))
    ///     .with(tracing_subscriber::fmt::layer().with_filter(EnvFilter::new("info")));
    /// # drop(subscriber);
    /// ```
    pub fn otel_layer<S>(&self) -> impl Layer<S> + 'static
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let layer = match &self.provider {
            Some(p) => trace_core::events::bridge_layer(p),
            None => trace_core::events::bridge_layer(&SdkTracerProvider::builder().build()),
        };
        layer.with_filter(filter_fn(|meta| !is_exporter_internal(meta.target())))
    }

    /// What the export queue has queued, exported, dropped (queue full) and lost (failed
    /// exports) so far; `None` when nothing is exported. Losses are also logged, at most once a
    /// minute, as a warning with target `trace_core::export`.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), trace_init::InitError> {
    /// let guard = trace_init::builder().install_subscriber(false).init()?;
    /// // ... serve ...
    /// if let Some(s) = guard.stats() {
    ///     println!("{} spans exported, {} dropped, {} lost", s.exported, s.dropped, s.failed);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn stats(&self) -> Option<QueueStats> {
        self.queue.as_ref().map(SpanQueue::stats)
    }

    /// Exports every finished span now.
    ///
    /// ```
    /// let guard = trace_init::builder().exporter(trace_init::Exporter::None).init().unwrap();
    /// tracing::info_span!("batch job").in_scope(|| {});
    /// guard.force_flush(); // before a short-lived process forks or exits abruptly
    /// ```
    pub fn force_flush(&self) {
        if let Some(p) = &self.provider {
            let _ = p.force_flush();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // the last batches are tried once: a collector still down does not hold the exit
        if let Some(stop) = &self.stop_retries {
            stop.stop();
        }
        if let Some(p) = self.provider.take() {
            let _ = p.shutdown_with_timeout(self.timeout);
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exporter_internals_are_recognised() {
        assert!(is_exporter_internal("h2::codec"));
        assert!(is_exporter_internal("tonic"));
        assert!(!is_exporter_internal("tower_trace::service"));
        assert!(!is_exporter_internal("my_app"));
    }
}
