//! Shared set-up for the benchmarks: one batch pipeline that discards what it exports, installed
//! globally with the `tracing` bridge, so every variant pays the same export cost.

pub mod demo_shape;
pub mod http1;
pub mod server_bench;
pub mod sql_bench;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use trace_core::export::{FinishedExporter, FinishedSpan, QueueConfig, SpanQueue};
use trace_core::tracer::{KnownSampler, PresetIdGenerator, RootSampler};
use tracing_subscriber::layer::SubscriberExt;

/// An exporter that counts spans and drops them: as an SDK [`SpanExporter`] (it is given
/// `SpanData`) for the SDK's batch processor, and as a [`FinishedExporter`] (it is lent the spans
/// as they were recorded) for trace-core's span queue, as trace-init's OTLP exporter is.
#[derive(Debug, Clone, Default)]
pub struct Discard(pub Arc<AtomicU64>);

impl FinishedExporter for Discard {
    fn export(&mut self, batch: &[FinishedSpan]) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn shutdown_with_timeout(&self, _t: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The installed pipeline.
#[derive(Debug)]
pub struct Pipeline {
    /// The provider.
    pub provider: SdkTracerProvider,
    /// Spans exported (and discarded) so far.
    pub exported: Arc<AtomicU64>,
    /// The span queue, unless `BENCH_NO_EXPORT` or `BENCH_SDK_SPANS` is set.
    pub queue: Option<SpanQueue>,
}

/// Installs, once per process: a provider with the default sampler (parent-based always-on) and a
/// batch processor with default settings into [`Discard`]; the W3C propagators; and a global
/// subscriber with the `tracing-opentelemetry` bridge (lean settings) and trace-core's events layer.
pub fn install() -> &'static Pipeline {
    static P: OnceLock<Pipeline> = OnceLock::new();
    P.get_or_init(|| {
        let exported = Arc::new(AtomicU64::new(0));
        let sampler = KnownSampler::ParentBased(RootSampler::AlwaysOn);
        let mut builder = SdkTracerProvider::builder();
        // BENCH_NO_EXPORT=1: spans are made and ended but handed to no processor, to tell the
        // cost on the request path from the cost of the export thread. BENCH_SDK_SPANS=1: the
        // SDK's own batch processor and span, as before trace-core had its own.
        let sdk_spans = std::env::var_os("BENCH_SDK_SPANS").is_some();
        let mut queue = None;
        if std::env::var_os("BENCH_NO_EXPORT").is_none() {
            if sdk_spans {
                builder = builder.with_span_processor(
                    BatchSpanProcessor::builder(Discard(exported.clone())).build(),
                );
            } else {
                // BENCH_MAX_QUEUE: a larger queue, for runs under valgrind (which starves the
                // export thread, so the default queue overflows and drops)
                let max_queue_size = std::env::var("BENCH_MAX_QUEUE")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(2048);
                let config = QueueConfig {
                    max_queue_size,
                    ..QueueConfig::default()
                };
                // BENCH_SDK_EXPORT=1: the queue converts every span to `SpanData` for the
                // exporter, as it does for an SDK exporter (the OTLP exporter reads them as
                // they are, as `Discard` does by default)
                let q = if std::env::var_os("BENCH_SDK_EXPORT").is_some() {
                    SpanQueue::new(Discard(exported.clone()), config)
                } else {
                    SpanQueue::with_finished_exporter(Discard(exported.clone()), config)
                };
                builder = builder.with_span_processor(q.clone());
                queue = Some(q);
            }
        }
        let provider = builder
            .with_sampler(sampler.to_sdk())
            .with_id_generator(PresetIdGenerator::default())
            .build();
        // as trace-init does: adapters decide sampling up front and record into the queue
        trace_core::tracer::register(&provider, Some(sampler), true);
        if let Some(q) = &queue {
            trace_core::tracer::register_queue(q);
        }
        opentelemetry::global::set_tracer_provider(provider.clone());
        opentelemetry::global::set_text_map_propagator(
            trace_core::propagation::default_propagator(),
        );
        let otel = trace_core::events::bridge_layer(&provider);
        let subscriber = tracing_subscriber::registry()
            .with(otel)
            .with(trace_core::events::SpanEventsLayer::new());
        let _ = tracing::subscriber::set_global_default(subscriber);
        Pipeline {
            provider,
            exported,
            queue,
        }
    })
}

/// A reqwest-middleware middleware that only calls the next one: what running any middleware
/// costs a request (the stack cloned into the request builder, the boxed future), the baseline
/// any client middleware starts from.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopMiddleware;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for NoopMiddleware {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        next.run(req, extensions).await
    }
}

/// One loopback GET through `client`, its body read: with a `traceparent` header of the
/// caller's own when `traceparent` is given, and under [`unsampled_parent`] when `unsampled`
/// (the client benchmark runners' call, for `paired` and `adapter_profile`).
pub async fn client_get(
    client: &reqwest_middleware::ClientWithMiddleware,
    url: &str,
    traceparent: Option<&str>,
    unsampled: bool,
) -> bytes::Bytes {
    use opentelemetry::context::FutureExt;
    let mut r = client.get(url);
    if let Some(tp) = traceparent {
        r = r.header("traceparent", tp);
    }
    let call = async move { r.send().await.unwrap().bytes().await.unwrap() };
    if unsampled {
        call.with_context(unsampled_parent()).await
    } else {
        call.await
    }
}

/// A context whose parent says "not sampled" (`traceparent` flag `00`).
pub fn unsampled_parent() -> opentelemetry::Context {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128),
        SpanId::from(0x00f0_67aa_0ba9_02b7u64),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ))
}

/// A context carrying ten context attributes (`app.key0` .. `app.key9`).
pub fn ten_attributes() -> opentelemetry::Context {
    let attrs: Vec<opentelemetry::KeyValue> = (0..10)
        .map(|i| opentelemetry::KeyValue::new(format!("app.key{i}"), "value"))
        .collect();
    trace_core::context_attributes::merge(&opentelemetry::Context::new(), attrs)
}

/// Serves `GET /users/{id}` (a constant body) on a free loopback port from the current tokio
/// runtime and returns the URL of `/users/42`: the far end of the client benchmarks.
pub async fn users_server() -> String {
    let app = axum::Router::new().route("/users/{id}", axum::routing::get(|| async { "user" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}/users/42", l.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(l, app).await });
    url
}

/// [`users_server`] on a thread and runtime of its own, as another service on the same machine
/// would be: the client's thread then does only the client's work (on one thread, the server's
/// reading of the headers the client adds is charged to the client).
pub fn users_server_on_own_thread() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("users-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async move {
                tx.send(users_server().await).expect("the caller waits");
                std::future::pending::<()>().await;
            });
        })
        .expect("a thread");
    rx.recv().expect("the server's URL")
}

/// A context whose parent is a sampled caller (`traceparent` flag `01`).
pub fn sampled_parent() -> opentelemetry::Context {
    use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
    let unsampled = unsampled_parent();
    let span = unsampled.span();
    let sc = span.span_context();
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        TraceFlags::SAMPLED,
        true,
        Default::default(),
    ))
}

/// A tracer for `component` whose sampler keeps nothing (`traceidratio` 0), for the not-sampled
/// cases without a caller.
pub fn ratio0_tracer(component: &'static str) -> trace_core::tracer::Tracer {
    trace_core::tracer::Tracer::from_provider(
        component,
        &SdkTracerProvider::builder().build(),
        Some(KnownSampler::TraceIdRatio(0.0)),
    )
}

/// The median of `v` (sorted in place; the upper middle for an even count).
///
/// ```
/// assert_eq!(benches::median(&mut [3.0, 1.0, 2.0]), 2.0);
/// ```
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A confidence interval of at least 95 % for the median of the distribution `v` was drawn
/// from, whatever its shape (`v` sorted in place): the order statistics x(k) and x(n + 1 - k)
/// for the largest k with P(Binomial(n, 1/2) < k) <= 2.5 %. A verdict on a median figure is only
/// as good as this interval: where it straddles a target, the run cannot tell. Below six values
/// no such k exists and the interval is the whole range.
///
/// ```
/// // ten rounds: the 2nd and 9th of the sorted values (97.9 % coverage)
/// let mut v: Vec<f64> = (1..=10).map(f64::from).collect();
/// assert_eq!(benches::median_interval(&mut v), (2.0, 9.0));
/// // a hundred: the 40th and 61st, as the usual tables give
/// let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
/// assert_eq!(benches::median_interval(&mut v), (40.0, 61.0));
/// let mut few = [3.0, 1.0, 2.0];
/// assert_eq!(benches::median_interval(&mut few), (1.0, 3.0));
/// ```
pub fn median_interval(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    // P(X = j) in logarithms (0.5^n underflows for the round counts used here)
    let mut ln_pmf = -(n as f64) * std::f64::consts::LN_2;
    let (mut cdf, mut k) = (0.0, 0);
    for j in 0..n {
        cdf += ln_pmf.exp();
        if cdf > 0.025 {
            break;
        }
        k = j + 1;
        ln_pmf += ((n - j) as f64 / (j + 1) as f64).ln();
    }
    if k == 0 {
        (v[0], v[n - 1])
    } else {
        (v[k - 1], v[n - k])
    }
}
