//! The pipeline's settings, read from the standard `OTEL_*` variables.
//!
//! An empty variable counts as unset. A value that cannot be used produces a warning naming the
//! variable and the value, and the default of the specification is used instead.

use std::time::Duration;

/// Where finished spans go (`OTEL_TRACES_EXPORTER`: `otlp`, `console`, `none`).
///
/// ```
/// use trace_init::{Exporter, Settings};
/// let env = |name: &str| (name == "OTEL_TRACES_EXPORTER").then(|| "console".to_string());
/// assert_eq!(Settings::from_lookup(env).0.exporter, Exporter::Console);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exporter {
    /// OTLP to a collector.
    Otlp,
    /// An indented waterfall per trace on standard output.
    Console,
    /// Nowhere (spans are still made and propagated).
    None,
}

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf`).
///
/// ```
/// use trace_init::{Protocol, Settings};
/// let env = |name: &str| match name {
///     "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_string()),
///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318".to_string()),
///     _ => None,
/// };
/// let (settings, _) = Settings::from_lookup(env);
/// assert_eq!(settings.protocol, Protocol::HttpProtobuf);
/// assert_eq!(settings.endpoint, "http://collector:4318/v1/traces");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over gRPC (default port 4317).
    Grpc,
    /// OTLP protobuf over HTTP (default port 4318, path `/v1/traces`).
    HttpProtobuf,
}

/// The sampler (`OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`).
///
/// ```
/// use trace_init::{Sampler, Settings};
/// let env = |name: &str| match name {
///     "OTEL_TRACES_SAMPLER" => Some("parentbased_traceidratio".to_string()),
///     "OTEL_TRACES_SAMPLER_ARG" => Some("0.1".to_string()),
///     _ => None,
/// };
/// assert_eq!(Settings::from_lookup(env).0.sampler, Sampler::ParentBasedTraceIdRatio(0.1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio`.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default).
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`.
    ParentBasedTraceIdRatio(f64),
}

/// A context propagator (`OTEL_PROPAGATORS`).
///
/// ```
/// use trace_init::{Propagator, Settings};
/// let env = |name: &str| (name == "OTEL_PROPAGATORS").then(|| "b3multi,tracecontext".to_string());
/// assert_eq!(
///     Settings::from_lookup(env).0.propagators,
///     [Propagator::B3Multi, Propagator::TraceContext]
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// Zipkin B3, single header.
    B3,
    /// Zipkin B3, multiple headers.
    B3Multi,
    /// Jaeger `uber-trace-id`.
    Jaeger,
}

/// How log lines are written (`LOG_FORMAT`: `human`, `json`).
///
/// ```
/// use trace_init::{LogFormat, Settings};
/// let env = |name: &str| (name == "LOG_FORMAT").then(|| "json".to_string());
/// assert_eq!(Settings::from_lookup(env).0.log_format, LogFormat::Json);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Human,
    /// One JSON object per line.
    Json,
}

/// Batch span processor settings (`OTEL_BSP_*`).
///
/// ```
/// use std::time::Duration;
/// use trace_init::settings::BatchSettings;
/// let env = |name: &str| (name == "OTEL_BSP_SCHEDULE_DELAY").then(|| "1000".to_string());
/// let (settings, _) = trace_init::Settings::from_lookup(env);
/// assert_eq!(
///     settings.batch,
///     BatchSettings { schedule_delay: Duration::from_secs(1), ..BatchSettings::default() }
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// `OTEL_BSP_SCHEDULE_DELAY` (default 5000 ms).
    pub schedule_delay: Duration,
    /// `OTEL_BSP_EXPORT_TIMEOUT` (default 30000 ms).
    pub export_timeout: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (default 2048).
    pub max_queue_size: usize,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (default 512, at most the queue size).
    pub max_export_batch_size: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        Self {
            schedule_delay: Duration::from_millis(5000),
            export_timeout: Duration::from_millis(30000),
            max_queue_size: 2048,
            max_export_batch_size: 512,
        }
    }
}

/// Span limits (`OTEL_SPAN_*_COUNT_LIMIT`, `OTEL_*ATTRIBUTE_VALUE_LENGTH_LIMIT`).
///
/// ```
/// let env = |name: &str| {
///     (name == "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT").then(|| "256".to_string())
/// };
/// let (settings, _) = trace_init::Settings::from_lookup(env);
/// assert_eq!(settings.limits.attribute_value_length, Some(256));
/// assert_eq!(settings.limits.attribute_count, 128);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Attributes per span (default 128).
    pub attribute_count: u32,
    /// Events per span (default 128).
    pub event_count: u32,
    /// Links per span (default 128).
    pub link_count: u32,
    /// Longest attribute value copied from a request, in bytes.
    pub attribute_value_length: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            attribute_count: 128,
            event_count: 128,
            link_count: 128,
            attribute_value_length: None,
        }
    }
}

/// Everything the pipeline is built from.
///
/// An invalid value is reported and replaced by the specification's default:
///
/// ```
/// use trace_init::{Sampler, Settings};
/// let env = |name: &str| (name == "OTEL_TRACES_SAMPLER").then(|| "sometimes".to_string());
/// let (settings, warnings) = Settings::from_lookup(env);
/// assert_eq!(settings.sampler, Sampler::ParentBasedAlwaysOn);
/// assert!(warnings[0].contains("OTEL_TRACES_SAMPLER") && warnings[0].contains("sometimes"));
/// // settings made in code: `trace_init::Builder::from_settings(settings)`
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `OTEL_SDK_DISABLED=true`: no spans are exported (logs still work).
    pub disabled: bool,
    /// `service.name`.
    pub service_name: Option<String>,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `deployment.environment.name`.
    pub environment: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES`, decoded.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_EXPORTER`.
    pub exporter: Exporter,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (or `_TRACES_PROTOCOL`).
    pub protocol: Protocol,
    /// The resolved trace endpoint (`/v1/traces` appended for HTTP when taken from the generic variable).
    pub endpoint: String,
    /// `OTEL_EXPORTER_OTLP_HEADERS` (or `_TRACES_HEADERS`), decoded.
    pub headers: Vec<(String, String)>,
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (or `_TRACES_TIMEOUT`).
    pub timeout: Duration,
    /// `OTEL_EXPORTER_OTLP_COMPRESSION=gzip`.
    pub gzip: bool,
    /// `OTEL_TRACES_SAMPLER` / `_ARG`.
    pub sampler: Sampler,
    /// `OTEL_PROPAGATORS`.
    pub propagators: Vec<Propagator>,
    /// `OTEL_BSP_*`.
    pub batch: BatchSettings,
    /// Span limits.
    pub limits: Limits,
    /// `RUST_LOG` directives.
    pub log_filter: String,
    /// `LOG_FORMAT` (`human` or `json`).
    pub log_format: LogFormat,
    /// How long dropping the guard may take to flush (default 5 s).
    pub shutdown_timeout: Duration,
}

/// The log directives used when `RUST_LOG` is unset.
///
/// ```
/// let (settings, _) = trace_init::Settings::from_lookup(|_| None);
/// assert_eq!(settings.log_filter, trace_init::settings::DEFAULT_LOG_FILTER);
/// ```
pub const DEFAULT_LOG_FILTER: &str = "info";

impl Settings {
    /// Reads the settings from the process environment; returns them with the warnings.
    ///
    /// ```
    /// let (settings, warnings) = trace_init::Settings::from_env();
    /// ```
    pub fn from_env() -> (Self, Vec<String>) {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup` (the process environment, or a map in tests).
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let env = HashMap::from([("OTEL_SERVICE_NAME", "orders"), ("OTEL_SDK_DISABLED", "true")]);
    /// let (settings, warnings) = trace_init::Settings::from_lookup(|k| env.get(k).map(|v| v.to_string()));
    /// assert_eq!(settings.service_name.as_deref(), Some("orders"));
    /// assert!(settings.disabled && warnings.is_empty());
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> (Self, Vec<String>) {
        let mut r = Reader {
            lookup: &lookup,
            warnings: Vec::new(),
        };
        let disabled = match r.get("OTEL_SDK_DISABLED") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                r.warn("OTEL_SDK_DISABLED", &v, "false");
                false
            }
        };
        let resource_attributes = r.pairs("OTEL_RESOURCE_ATTRIBUTES");
        let service_name = r.get("OTEL_SERVICE_NAME");
        let traces_endpoint = r.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        let generic_endpoint = r.get("OTEL_EXPORTER_OTLP_ENDPOINT");
        let exporter = match r.get("OTEL_TRACES_EXPORTER") {
            // No exporter named: OTLP when a collector is configured, else the console (local work).
            None if traces_endpoint.is_some() || generic_endpoint.is_some() => Exporter::Otlp,
            None => Exporter::Console,
            Some(v) => match v.split(',').next().unwrap_or("").trim() {
                "otlp" => Exporter::Otlp,
                "console" => Exporter::Console,
                "none" => Exporter::None,
                _ => {
                    r.warn("OTEL_TRACES_EXPORTER", &v, "otlp");
                    Exporter::Otlp
                }
            },
        };
        let protocol_var = if r.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
        } else {
            "OTEL_EXPORTER_OTLP_PROTOCOL"
        };
        let protocol = match r.get(protocol_var).as_deref() {
            None => Protocol::HttpProtobuf,
            Some("grpc") => Protocol::Grpc,
            Some("http/protobuf") => Protocol::HttpProtobuf,
            Some(v) => {
                r.warn(protocol_var, v, "http/protobuf");
                Protocol::HttpProtobuf
            }
        };
        let default_endpoint = match protocol {
            Protocol::Grpc => "http://localhost:4317",
            Protocol::HttpProtobuf => "http://localhost:4318/v1/traces",
        };
        let endpoint = match (traces_endpoint, generic_endpoint) {
            (Some(e), _) => r.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", e, default_endpoint),
            (None, Some(e)) => {
                let base = r.url("OTEL_EXPORTER_OTLP_ENDPOINT", e, default_endpoint);
                if protocol == Protocol::HttpProtobuf && base != default_endpoint {
                    format!("{}/v1/traces", base.trim_end_matches('/'))
                } else {
                    base
                }
            }
            (None, None) => default_endpoint.to_owned(),
        };
        let headers = if r.get("OTEL_EXPORTER_OTLP_TRACES_HEADERS").is_some() {
            r.pairs("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        } else {
            r.pairs("OTEL_EXPORTER_OTLP_HEADERS")
        };
        let timeout_var = if r.get("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
        } else {
            "OTEL_EXPORTER_OTLP_TIMEOUT"
        };
        let timeout = Duration::from_millis(r.number(timeout_var, 10_000));
        let compression_var = if r.get("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION").is_some() {
            "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
        } else {
            "OTEL_EXPORTER_OTLP_COMPRESSION"
        };
        let gzip = match r.get(compression_var).as_deref() {
            None | Some("none") => false,
            Some("gzip") => true,
            Some(v) => {
                r.warn(compression_var, v, "none");
                false
            }
        };
        let sampler = r.sampler();
        let propagators = r.propagators();
        let mut batch = BatchSettings {
            schedule_delay: Duration::from_millis(r.number("OTEL_BSP_SCHEDULE_DELAY", 5000)),
            export_timeout: Duration::from_millis(r.number("OTEL_BSP_EXPORT_TIMEOUT", 30_000)),
            max_queue_size: r.positive("OTEL_BSP_MAX_QUEUE_SIZE", 2048) as usize,
            max_export_batch_size: r.positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512) as usize,
        };
        if batch.max_export_batch_size > batch.max_queue_size {
            batch.max_export_batch_size = batch.max_queue_size;
        }
        let value_len = match r.get("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") {
            Some(_) => Some(r.positive("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", u64::MAX)),
            None => r
                .get("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
                .map(|_| r.positive("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", u64::MAX)),
        }
        .filter(|v| *v != u64::MAX)
        .map(|v| v as usize);
        let limits = Limits {
            attribute_count: r.positive("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 128) as u32,
            event_count: r.positive("OTEL_SPAN_EVENT_COUNT_LIMIT", 128) as u32,
            link_count: r.positive("OTEL_SPAN_LINK_COUNT_LIMIT", 128) as u32,
            attribute_value_length: value_len,
        };
        let log_filter = r
            .get("RUST_LOG")
            .unwrap_or_else(|| DEFAULT_LOG_FILTER.to_owned());
        let log_format = match r.get("LOG_FORMAT").as_deref() {
            None | Some("human") | Some("text") => LogFormat::Human,
            Some("json") => LogFormat::Json,
            Some(v) => {
                r.warn("LOG_FORMAT", v, "human");
                LogFormat::Human
            }
        };
        let settings = Settings {
            disabled,
            service_name,
            service_version: None,
            environment: None,
            resource_attributes,
            exporter,
            protocol,
            endpoint,
            headers,
            timeout,
            gzip,
            sampler,
            propagators,
            batch,
            limits,
            log_filter,
            log_format,
            shutdown_timeout: Duration::from_secs(5),
        };
        (settings, r.warnings)
    }
}

struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
}

impl Reader<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn warn(&mut self, name: &str, value: &str, default: &str) {
        self.warnings.push(format!(
            "{name}={value:?} is not a valid value; using the default ({default})"
        ));
    }

    fn number(&mut self, name: &str, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(v) => match v.parse::<u64>() {
                Ok(n) => n,
                Err(_) => {
                    self.warn(name, &v, &default.to_string());
                    default
                }
            },
        }
    }

    fn positive(&mut self, name: &str, default: u64) -> u64 {
        match self.get(name) {
            None => default,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => {
                    let d = if default == u64::MAX {
                        "no limit".to_owned()
                    } else {
                        default.to_string()
                    };
                    self.warn(name, &v, &d);
                    default
                }
            },
        }
    }

    fn url(&mut self, name: &str, value: String, default: &str) -> String {
        if (value.starts_with("http://") || value.starts_with("https://"))
            && value.len() > "https://".len()
            && !value.contains(char::is_whitespace)
        {
            value
        } else {
            self.warn(name, &value, default);
            default.to_owned()
        }
    }

    fn pairs(&mut self, name: &str) -> Vec<(String, String)> {
        let Some(v) = self.get(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.split_once('=') {
                Some((k, val)) if !k.trim().is_empty() => {
                    let decode = |s: &str| {
                        percent_encoding::percent_decode_str(s.trim())
                            .decode_utf8_lossy()
                            .into_owned()
                    };
                    out.push((decode(k), decode(val)));
                }
                _ => self.warnings.push(format!(
                    "{name}: the entry {item:?} is not key=value; it is ignored"
                )),
            }
        }
        out
    }

    fn ratio_arg(&mut self) -> f64 {
        match self.get("OTEL_TRACES_SAMPLER_ARG") {
            None => 1.0,
            Some(v) => match v.parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    self.warn("OTEL_TRACES_SAMPLER_ARG", &v, "1.0");
                    1.0
                }
            },
        }
    }

    fn sampler(&mut self) -> Sampler {
        match self.get("OTEL_TRACES_SAMPLER").as_deref() {
            None | Some("parentbased_always_on") => Sampler::ParentBasedAlwaysOn,
            Some("always_on") => Sampler::AlwaysOn,
            Some("always_off") => Sampler::AlwaysOff,
            Some("parentbased_always_off") => Sampler::ParentBasedAlwaysOff,
            Some("traceidratio") => Sampler::TraceIdRatio(self.ratio_arg()),
            Some("parentbased_traceidratio") => Sampler::ParentBasedTraceIdRatio(self.ratio_arg()),
            Some(v) => {
                let v = v.to_owned();
                self.warn("OTEL_TRACES_SAMPLER", &v, "parentbased_always_on");
                Sampler::ParentBasedAlwaysOn
            }
        }
    }

    fn propagators(&mut self) -> Vec<Propagator> {
        let Some(v) = self.get("OTEL_PROPAGATORS") else {
            return vec![Propagator::TraceContext, Propagator::Baggage];
        };
        let mut out = Vec::new();
        for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let p = match name {
                "tracecontext" => Propagator::TraceContext,
                "baggage" => Propagator::Baggage,
                "b3" => Propagator::B3,
                "b3multi" => Propagator::B3Multi,
                "jaeger" => Propagator::Jaeger,
                "none" => return Vec::new(),
                other => {
                    self.warnings.push(format!(
                        "OTEL_PROPAGATORS: {other:?} is not a supported propagator; it is ignored"
                    ));
                    continue;
                }
            };
            if !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> (Settings, Vec<String>) {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|n| map.get(n).cloned())
    }

    #[test]
    fn defaults() {
        let (s, w) = read(&[]);
        assert!(w.is_empty());
        assert!(!s.disabled);
        assert_eq!(s.exporter, Exporter::Console);
        assert_eq!(s.protocol, Protocol::HttpProtobuf);
        assert_eq!(s.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.sampler, Sampler::ParentBasedAlwaysOn);
        assert_eq!(
            s.propagators,
            vec![Propagator::TraceContext, Propagator::Baggage]
        );
        assert_eq!(s.batch, BatchSettings::default());
        assert_eq!(s.limits, Limits::default());
        assert_eq!(s.log_format, LogFormat::Human);
    }

    #[test]
    fn endpoints_per_protocol() {
        let (s, _) = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
        assert_eq!(s.exporter, Exporter::Otlp);
        assert_eq!(s.endpoint, "http://collector:4318/v1/traces");
        let (s, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]);
        assert_eq!(
            (s.protocol, s.endpoint.as_str()),
            (Protocol::Grpc, "http://collector:4317")
        );
        let (s, _) = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:9999/custom"),
        ]);
        assert_eq!(s.endpoint, "http://b:9999/custom");
    }

    #[test]
    fn every_variable_is_read() {
        let (s, w) = read(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_SERVICE_NAME", "checkout"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment.name=prod,team=pay%20ments",
            ),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D,x=y"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_PROPAGATORS", "tracecontext,b3multi,jaeger"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "64"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "16"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "8"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "256"),
            ("RUST_LOG", "debug"),
            ("LOG_FORMAT", "json"),
        ]);
        assert!(w.is_empty(), "{w:?}");
        assert!(s.disabled);
        assert_eq!(s.service_name.as_deref(), Some("checkout"));
        assert_eq!(
            s.resource_attributes[1],
            ("team".into(), "pay ments".into())
        );
        assert_eq!(s.exporter, Exporter::None);
        assert_eq!(s.headers[0], ("api-key".into(), "abc=".into()));
        assert_eq!(s.timeout, Duration::from_millis(2500));
        assert!(s.gzip);
        assert_eq!(s.sampler, Sampler::ParentBasedTraceIdRatio(0.25));
        assert_eq!(
            s.propagators,
            vec![
                Propagator::TraceContext,
                Propagator::B3Multi,
                Propagator::Jaeger
            ]
        );
        assert_eq!(s.batch.schedule_delay, Duration::from_millis(100));
        assert_eq!(s.batch.export_timeout, Duration::from_millis(1000));
        assert_eq!(s.batch.max_queue_size, 100);
        assert_eq!(
            s.batch.max_export_batch_size, 100,
            "capped at the queue size"
        );
        assert_eq!(
            s.limits,
            Limits {
                attribute_count: 64,
                event_count: 16,
                link_count: 8,
                attribute_value_length: Some(256)
            }
        );
        assert_eq!(s.log_filter, "debug");
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn invalid_values_warn_with_name_and_value_then_default() {
        let (s, w) = read(&[
            ("OTEL_SDK_DISABLED", "yes"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "-1"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"),
            ("OTEL_PROPAGATORS", "tracecontext,xray"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
        ]);
        assert!(!s.disabled);
        assert_eq!(s.exporter, Exporter::Otlp);
        assert_eq!(s.protocol, Protocol::HttpProtobuf);
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.sampler, Sampler::ParentBasedAlwaysOn);
        assert_eq!(s.batch.max_queue_size, 2048);
        assert_eq!(s.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(s.propagators, vec![Propagator::TraceContext]);
        let all = w.join("\n");
        for needle in [
            "OTEL_SDK_DISABLED=\"yes\"",
            "OTEL_TRACES_EXPORTER=\"zipkin\"",
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"carrier-pigeon\"",
            "OTEL_EXPORTER_OTLP_TIMEOUT=\"soon\"",
            "OTEL_TRACES_SAMPLER=\"sometimes\"",
            "OTEL_BSP_MAX_QUEUE_SIZE=\"-1\"",
            "OTEL_EXPORTER_OTLP_ENDPOINT=\"not a url\"",
            "xray",
            "novalue",
        ] {
            assert!(all.contains(needle), "no warning for {needle} in:\n{all}");
        }
        let (s, w) = read(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
        ]);
        assert_eq!(s.sampler, Sampler::TraceIdRatio(1.0));
        assert!(w[0].contains("OTEL_TRACES_SAMPLER_ARG=\"2\""));
        let (s, _) = read(&[("OTEL_PROPAGATORS", "none")]);
        assert!(s.propagators.is_empty());
    }
}
