//! The layer's settings: what is traced, sampled, captured and returned.

use std::sync::Arc;

use http::HeaderName;
use trace_core::http_server::HttpServerSchema;
use trace_core::tracer::Tracer;

/// Decides per request whether the endpoint is public (its caller's trace context is not trusted).
/// See [`TraceLayer::public_endpoint_fn`](crate::TraceLayer::public_endpoint_fn).
///
/// ```
/// use std::sync::Arc;
/// let public: tower_trace::PublicEndpointFn = Arc::new(|parts| parts.uri.path().starts_with("/api/public/"));
/// let (parts, _) = http::Request::get("/api/public/status").body(()).unwrap().into_parts();
/// assert!(public(&parts));
/// ```
pub type PublicEndpointFn = Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>;

pub(crate) struct Config {
    pub(crate) tracer: Tracer,
    pub(crate) schema: HttpServerSchema,
    pub(crate) trace_id_header: Option<HeaderName>,
    pub(crate) excluded: Vec<Box<str>>,
    pub(crate) route_ratios: Vec<(Box<str>, f64)>,
    pub(crate) public: Public,
    pub(crate) baggage_keys: Vec<opentelemetry::Key>,
}

pub(crate) enum Public {
    No,
    Always,
    When(PublicEndpointFn),
}

impl Config {
    /// No setting reads the route or the caller's baggage: a request the tracer drops whatever it
    /// holds needs neither looked up.
    #[inline]
    pub(crate) fn route_blind(&self) -> bool {
        self.excluded.is_empty() && self.route_ratios.is_empty() && self.baggage_keys.is_empty()
    }

    pub(crate) fn is_excluded(&self, route_or_path: &str) -> bool {
        !self.excluded.is_empty() && self.excluded.iter().any(|e| **e == *route_or_path)
    }

    pub(crate) fn route_ratio(&self, route_or_path: &str) -> Option<f64> {
        if self.route_ratios.is_empty() {
            return None;
        }
        self.route_ratios
            .iter()
            .find(|(r, _)| **r == *route_or_path)
            .map(|(_, ratio)| *ratio)
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("schema", &self.schema)
            .field("trace_id_header", &self.trace_id_header)
            .field("excluded", &self.excluded)
            .field("route_ratios", &self.route_ratios)
            .finish_non_exhaustive()
    }
}
