//! Trace context in and out of HTTP headers and string maps, over the global propagator.
//!
//! The HTTP helpers guard the propagator against hostile input: a header value longer than
//! [`MAX_HEADER_LEN`] bytes is ignored, non-UTF-8 values are skipped, and a request carrying more
//! than one `traceparent` has none (W3C Trace Context: such a request starts a new trace).
//! `tracestate` and `baggage` sent as several header lines are combined with `,`.
//!
//! The propagators: [`DefaultPropagator`] (W3C Trace Context and Baggage, the default
//! `OTEL_PROPAGATORS`), [`W3CTraceContext`], [`B3Propagator`] and [`JaegerPropagator`]. With one of
//! the first two as the global propagator, [`extract_from_headers`] reads a request's headers in
//! one pass.

mod b3;
mod jaeger;
mod w3c;

pub use b3::{B3Encoding, B3Propagator};
pub use jaeger::JaegerPropagator;
pub use w3c::{format_traceparent, parse_traceparent, parse_tracestate, W3CTraceContext};

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::http_common::{scan_headers, Seen};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId};
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::BaggagePropagator;

/// Longest trace header value read, in bytes (the W3C baggage limit).
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use trace_core::propagation::{DefaultPropagator, MAX_HEADER_LEN};
///
/// let mut headers = http::HeaderMap::new();
/// let huge = format!("k={}", "v".repeat(MAX_HEADER_LEN));
/// headers.insert("baggage", huge.parse().unwrap());
/// let cx = DefaultPropagator.extract_headers(&headers);
/// assert_eq!(cx.baggage().len(), 0); // ignored, not cut
/// ```
pub const MAX_HEADER_LEN: usize = 8192;

/// Reads trace headers from an [`http::HeaderMap`] for any propagator.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use trace_core::propagation::{B3Encoding, B3Propagator, HeaderExtractor};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".parse().unwrap());
/// let cx = B3Propagator::new(B3Encoding::Single).extract(&HeaderExtractor::new(&headers));
/// assert_eq!(
///     cx.span().span_context().trace_id().to_string(),
///     "80f198ee56343ba864fe8b2a57d3eff7"
/// );
/// ```
#[derive(Debug)]
pub struct HeaderExtractor<'a> {
    headers: &'a HeaderMap,
    joined: std::cell::OnceCell<HashMap<&'static str, String>>,
    /// The W3C fields, found in one pass over a small map at the first look-up.
    w3c: std::cell::OnceCell<Option<W3cFields<'a>>>,
}

impl<'a> HeaderExtractor<'a> {
    /// Wraps a header map.
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// let extractor = trace_core::propagation::HeaderExtractor::new(&headers);
    /// ```
    pub fn new(headers: &'a HeaderMap) -> Self {
        Self {
            headers,
            joined: std::cell::OnceCell::new(),
            w3c: std::cell::OnceCell::new(),
        }
    }
}

/// `traceparent`, `tracestate` and `baggage` of a request, in that order.
const W3C_FIELDS: [&str; 3] = ["traceparent", "tracestate", "baggage"];

/// [`W3C_FIELDS`] as header names, for the scan.
fn w3c_names() -> [&'static HeaderName; 3] {
    [&TRACEPARENT, &TRACESTATE, &BAGGAGE]
}
type W3cFields<'a> = [Seen<'a>; 3];

/// The index of `key` in [`W3C_FIELDS`].
fn w3c_index(key: &str) -> Option<usize> {
    // by length first: one comparison per key
    match key.len() {
        11 if key == W3C_FIELDS[0] => Some(0),
        10 if key == W3C_FIELDS[1] => Some(1),
        7 if key == W3C_FIELDS[2] => Some(2),
        _ => None,
    }
}

const JOINED: [&str; 2] = ["tracestate", "baggage"];

/// The header names propagators ask for, pre-parsed (a lookup by `&str` parses the name each time).
fn known_name(key: &str) -> Option<&'static HeaderName> {
    static B3: HeaderName = HeaderName::from_static("b3");
    static UBER: HeaderName = HeaderName::from_static("uber-trace-id");
    Some(match key {
        "traceparent" => &TRACEPARENT,
        "tracestate" => &TRACESTATE,
        "baggage" => &BAGGAGE,
        "b3" => &B3,
        "uber-trace-id" => &UBER,
        _ => return None,
    })
}

/// A header value as text: `HeaderValue::to_str`'s rule (ASCII only; a header value holds no
/// control characters but tab), checked a word at a time instead of byte by byte.
fn header_text(v: &HeaderValue) -> Option<&str> {
    let b = v.as_bytes();
    if b.is_ascii() {
        std::str::from_utf8(b).ok()
    } else {
        None
    }
}

impl HeaderExtractor<'_> {
    /// True when the map is known to hold none of `fields`: every field is a W3C one (the
    /// default `tracecontext,baggage` propagators) and the one-pass scan found none of them.
    /// False whenever that is not known, so any other propagator reads the map as usual.
    fn carries_none_of(
        &self,
        mut fields: opentelemetry::propagation::text_map_propagator::FieldIter<'_>,
    ) -> bool {
        let Some(found) = self.scanned() else {
            return false;
        };
        fields.all(|f| w3c_index(f).is_some_and(|i| found[i].first.is_none()))
    }
}

impl<'a> HeaderExtractor<'a> {
    /// The W3C fields of the map, found in one pass at the first call (`None` for a map too
    /// large to scan).
    fn scanned(&self) -> Option<&W3cFields<'a>> {
        self.w3c
            .get_or_init(|| scan_headers(self.headers, w3c_names()))
            .as_ref()
    }

    /// The value of the W3C field `W3C_FIELDS[i]`, as [`Extractor::get`] gives it, without
    /// matching the name.
    fn field(&self, i: usize) -> Option<&str> {
        match self.scanned().map(|f| f[i]) {
            Some(seen) if !seen.repeated => {
                let s = header_text(seen.first?)?;
                (s.len() <= MAX_HEADER_LEN).then_some(s)
            }
            // several lines, or a map too large to scan: combined or refused by `get`
            _ => self.looked_up(W3C_FIELDS[i]),
        }
    }

    /// `field(0)` parsed as a `traceparent`, without making text of it first: the parser reads
    /// bytes and checks the 55 characters of a version-00 value itself; a longer value must
    /// still be ASCII throughout, as `field` requires.
    fn traceparent(&self) -> Option<(TraceId, SpanId, TraceFlags)> {
        match self.scanned().map(|f| f[0]) {
            Some(seen) if !seen.repeated => {
                let b = seen.first?.as_bytes();
                if b.len() > MAX_HEADER_LEN {
                    return None;
                }
                let parsed = w3c::parse_traceparent_bytes(b)?;
                (b.len() <= 55 || b.is_ascii()).then_some(parsed)
            }
            _ => self.field(0).and_then(parse_traceparent),
        }
    }
}

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match w3c_index(key) {
            Some(i) => self.field(i),
            None => self.looked_up(key),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(|k| k.as_str()).collect()
    }
}

impl HeaderExtractor<'_> {
    /// `key` looked up by name: one line as it is, several combined with `,` (list headers) or
    /// refused (`traceparent`).
    fn looked_up(&self, key: &str) -> Option<&str> {
        let mut all = match known_name(key) {
            Some(name) => self.headers.get_all(name).iter(),
            None => self.headers.get_all(key).iter(),
        };
        let first = all.next()?;
        let second = all.next();
        match second {
            None => {
                let s = header_text(first)?;
                (s.len() <= MAX_HEADER_LEN).then_some(s)
            }
            Some(_) => {
                // Several lines: traceparent is invalid; list headers are combined.
                let name = JOINED.iter().find(|n| key.eq_ignore_ascii_case(n))?;
                let map = self.joined.get_or_init(|| {
                    let mut m = HashMap::new();
                    for n in JOINED {
                        let parts: Vec<&str> = self
                            .headers
                            .get_all(n)
                            .iter()
                            .filter_map(|v| v.to_str().ok())
                            .collect();
                        let joined = parts.join(",");
                        if joined.len() <= MAX_HEADER_LEN {
                            m.insert(n, joined);
                        }
                    }
                    m
                });
                map.get(name).map(|s| s.as_str())
            }
        }
    }
}

/// Writes trace headers into an [`http::HeaderMap`], replacing earlier values of the same name.
///
/// ```
/// use opentelemetry::propagation::Injector;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "stale".parse().unwrap());
/// trace_core::propagation::HeaderInjector(&mut headers).set("traceparent", "fresh".into());
/// assert_eq!(headers.get_all("traceparent").iter().count(), 1);
/// assert_eq!(headers["traceparent"], "fresh");
/// ```
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
static BAGGAGE: HeaderName = HeaderName::from_static("baggage");

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // the W3C fields by their static names: no parsing of the name on every request
        let name = match key {
            "traceparent" => TRACEPARENT.clone(),
            "tracestate" => TRACESTATE.clone(),
            "baggage" => BAGGAGE.clone(),
            other => match HeaderName::from_bytes(other.as_bytes()) {
                Ok(n) => n,
                Err(_) => return,
            },
        };
        // takes the string's buffer as it is (no copy)
        if let Ok(value) = HeaderValue::try_from(value) {
            self.0.insert(name, value);
        }
    }
}

/// The default propagators (`OTEL_PROPAGATORS=tracecontext,baggage`): this crate's W3C Trace
/// Context propagator, then the SDK's baggage propagator, as one propagator.
///
/// It reads and writes what `TextMapCompositePropagator::new(vec![W3CTraceContext, BaggagePropagator])`
/// does; as the global propagator it also lets [`extract_from_headers`] read a request's headers
/// in one pass, with no dynamic dispatch per field ([`DefaultPropagator::extract_headers`]).
///
/// ```
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
/// ```
pub fn default_propagator() -> DefaultPropagator {
    DefaultPropagator
}

/// W3C Trace Context and W3C Baggage together. See [`default_propagator`].
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::trace::TraceContextExt;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// headers.insert("baggage", "tenant.id=acme".parse().unwrap());
/// let cx = trace_core::propagation::DefaultPropagator.extract_headers(&headers);
/// assert!(cx.span().span_context().is_remote());
/// assert_eq!(cx.baggage().get("tenant.id").unwrap().as_str(), "acme");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPropagator;

/// [`DefaultPropagator`]'s fields: once for the process (see [`fast_kind`]).
fn default_fields() -> &'static [String] {
    static FIELDS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FIELDS.get_or_init(|| W3C_FIELDS.iter().map(|f| f.to_string()).collect())
}

impl opentelemetry::propagation::TextMapPropagator for DefaultPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        W3CTraceContext.inject_context(cx, injector);
        BaggagePropagator::new().inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let cx = W3CTraceContext.extract_with_context(cx, extractor);
        BaggagePropagator::new().extract_with_context(&cx, extractor)
    }

    fn fields(&self) -> opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
        opentelemetry::propagation::text_map_propagator::FieldIter::new(default_fields())
    }
}

impl DefaultPropagator {
    /// The context `headers` carry, on an empty base: what `extract_with_context` over a
    /// [`HeaderExtractor`] gives, found in one pass over the map.
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(
    ///     "traceparent",
    ///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".parse().unwrap(),
    /// );
    /// let cx = trace_core::propagation::DefaultPropagator.extract_headers(&headers);
    /// assert!(cx.span().span_context().is_remote());
    /// ```
    pub fn extract_headers(&self, headers: &HeaderMap) -> Context {
        extract_w3c(headers, true)
    }
}

impl W3CTraceContext {
    /// The context `headers` carry, on an empty base: what `extract_with_context` over a
    /// [`HeaderExtractor`] gives, found in one pass over the map.
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    /// let cx = trace_core::propagation::W3CTraceContext::new().extract_headers(&headers);
    /// assert!(cx.span().span_context().is_sampled());
    /// ```
    pub fn extract_headers(&self, headers: &HeaderMap) -> Context {
        extract_w3c(headers, false)
    }
}

/// The W3C extraction from a header map, with or without baggage.
fn extract_w3c(headers: &HeaderMap, baggage: bool) -> Context {
    let ex = HeaderExtractor::new(headers);
    let (parent, with_baggage) = match ex.scanned() {
        Some([tp, _, bg]) => (tp.first.is_some(), baggage && bg.first.is_some()),
        // a map too large to scan: looked up by name
        None => (true, baggage),
    };
    let cx = if parent {
        w3c::extract_values(&Context::new(), ex.traceparent(), || ex.field(1))
    } else {
        Context::new()
    };
    if with_baggage {
        BaggagePropagator::new().extract_with_context(&cx, &ex)
    } else {
        cx
    }
}

/// This crate's W3C propagators, as [`fast_kind`] recognises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastKind {
    TraceContext,
    TraceContextBaggage,
}

/// Which of this crate's W3C propagators `p` is, when it is one: recognised by its fields,
/// which only these types hand out (one list each for the whole process). A propagator of
/// another type that hands out the very same list (one delegating `fields` to these types) is
/// read as they read.
fn fast_kind(p: &dyn opentelemetry::propagation::TextMapPropagator) -> Option<FastKind> {
    let first = p.fields().next()?.as_ptr();
    if first == default_fields()[0].as_ptr() {
        Some(FastKind::TraceContextBaggage)
    } else if first == w3c::fields()[0].as_ptr() {
        Some(FastKind::TraceContext)
    } else {
        None
    }
}

/// The context carried by `headers` (through the global propagator), on an empty base context.
///
/// Invalid or oversized headers yield an empty context (a new root trace). With this crate's
/// W3C propagators installed ([`default_propagator`], [`W3CTraceContext`]) the map is read in
/// one pass ([`DefaultPropagator::extract_headers`]); with any other propagator whose fields are
/// all W3C ones, a request carrying none of them runs no propagator: the context is empty.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::W3CTraceContext::new());
/// let mut headers = http::HeaderMap::new();
/// headers.insert(
///     "traceparent",
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap(),
/// );
/// let cx = trace_core::propagation::extract_from_headers(&headers);
/// assert_eq!(
///     cx.span().span_context().trace_id().to_string(),
///     "4bf92f3577b34da6a3ce929d0e0e4736"
/// );
/// ```
pub fn extract_from_headers(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|p| match fast_kind(p) {
        Some(FastKind::TraceContextBaggage) => extract_w3c(headers, true),
        Some(FastKind::TraceContext) => extract_w3c(headers, false),
        None => {
            let extractor = HeaderExtractor::new(headers);
            if extractor.carries_none_of(p.fields()) {
                // nothing to read (a request from outside the traced system): no propagator runs
                return Context::new();
            }
            p.extract_with_context(&Context::new(), &extractor)
        }
    })
}

/// Writes the context `cx` into `headers` through the global propagator.
///
/// ```
/// use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
///
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
/// let mut incoming = http::HeaderMap::new();
/// incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// let cx = trace_core::propagation::extract_from_headers(&incoming);
///
/// let mut outgoing = http::HeaderMap::new();
/// trace_core::propagation::inject_into_headers(&cx, &mut outgoing);
/// assert_eq!(outgoing["traceparent"], incoming["traceparent"]);
/// ```
pub fn inject_into_headers(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|p| p.inject_context(cx, &mut HeaderInjector(headers)))
}

/// Writes the context of a span opened under `parent` (its span context `sc`, `parent`'s
/// baggage) into `headers` through the global propagator: what
/// `inject_into_headers(&parent.with_remote_span_context(sc.clone()), headers)` writes, without
/// building that context when the global propagator is one of this crate's W3C types (an
/// outgoing request's span is held by its adapter, not by a context).
///
/// ```
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
/// let sc = SpanContext::new(
///     TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736u128),
///     SpanId::from(0x00f0_67aa_0ba9_02b7u64),
///     TraceFlags::SAMPLED,
///     false,
///     TraceState::NONE,
/// );
/// let mut headers = http::HeaderMap::new();
/// trace_core::propagation::inject_span_into_headers(&opentelemetry::Context::new(), &sc, &mut headers);
/// assert_eq!(
///     headers["traceparent"],
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
/// );
/// ```
pub fn inject_span_into_headers(parent: &Context, sc: &SpanContext, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|p| inject_span_with(p, parent, sc, headers))
}

fn inject_span_with(
    p: &dyn opentelemetry::propagation::TextMapPropagator,
    parent: &Context,
    sc: &SpanContext,
    headers: &mut HeaderMap,
) {
    match fast_kind(p) {
        Some(kind) => {
            // what `W3CTraceContext` writes, the `traceparent` value made straight from its bytes
            if sc.is_valid() {
                // Held by its own reference-counted allocation: a client that clones the
                // request's headers (reqwest does, for redirects and retries) shares it from the
                // first clone on, where a copied slice would allocate once more to be shared.
                let value = bytes::Bytes::from_owner(w3c::traceparent_bytes(sc));
                if let Ok(v) = HeaderValue::from_maybe_shared(value) {
                    headers.insert(TRACEPARENT.clone(), v);
                }
                let ts = sc.trace_state().header();
                if !ts.is_empty() {
                    HeaderInjector(headers).set("tracestate", ts);
                }
            }
            if kind == FastKind::TraceContextBaggage {
                // (the span's context carries its parent's baggage unchanged)
                BaggagePropagator::new().inject_context(parent, &mut HeaderInjector(headers));
            }
        }
        None => p.inject_context(
            &parent.with_remote_span_context(sc.clone()),
            &mut HeaderInjector(headers),
        ),
    }
}

/// Writes the current context into a string map (a queue message's headers, a JSON payload).
///
/// ```
/// let mut carrier = std::collections::HashMap::new();
/// trace_core::propagation::inject_into_map(&opentelemetry::Context::current(), &mut carrier);
/// let _cx = trace_core::propagation::extract_from_map(&carrier);
/// ```
pub fn inject_into_map(cx: &Context, map: &mut HashMap<String, String>) {
    global::get_text_map_propagator(|p| p.inject_context(cx, map))
}

/// Reads a context from a string map written by [`inject_into_map`] (or any propagator-formatted map).
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
///
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
/// let message_headers = std::collections::HashMap::from([(
///     "traceparent".to_string(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string(),
/// )]);
/// let cx = trace_core::propagation::extract_from_map(&message_headers);
/// assert_eq!(cx.span().span_context().span_id().to_string(), "00f067aa0ba902b7");
/// ```
pub fn extract_from_map(map: &HashMap<String, String>) -> Context {
    extract_from(&MapExtractor(map))
}

/// Reads a context through any [`Extractor`] (for message formats of your own), on an empty base.
///
/// ```
/// use opentelemetry::propagation::Extractor;
/// use opentelemetry::trace::TraceContextExt;
///
/// // a message format of your own: headers as a list of pairs
/// struct Pairs<'a>(&'a [(&'a str, &'a str)]);
/// impl Extractor for Pairs<'_> {
///     fn get(&self, key: &str) -> Option<&str> {
///         self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
///     }
///     fn keys(&self) -> Vec<&str> {
///         self.0.iter().map(|(k, _)| *k).collect()
///     }
/// }
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
/// let cx = trace_core::propagation::extract_from(&Pairs(&[("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")]));
/// assert!(cx.span().span_context().is_sampled());
/// ```
pub fn extract_from(extractor: &dyn Extractor) -> Context {
    let base = Context::new();
    global::get_text_map_propagator(|p| p.extract_with_context(&base, extractor))
}

/// Reads a context from a list of field/value pairs (for example a Redis Stream entry). Keys
/// are matched without regard to case; values longer than [`MAX_HEADER_LEN`] are ignored.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
///
/// opentelemetry::global::set_text_map_propagator(trace_core::propagation::default_propagator());
/// let entry = [("payload", "{}"), ("TraceParent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")];
/// let cx = trace_core::propagation::extract_from_pairs(entry);
/// assert!(cx.span().span_context().is_valid());
/// ```
pub fn extract_from_pairs<'a, I>(pairs: I) -> Context
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let map: HashMap<String, String> = pairs
        .into_iter()
        .filter(|(_, v)| v.len() <= MAX_HEADER_LEN)
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    extract_from_map(&map)
}

struct MapExtractor<'a>(&'a HashMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .or_else(|| {
                self.0
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .map(|s| s.as_str())
            .filter(|s| s.len() <= MAX_HEADER_LEN)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::W3CTraceContext as TraceContextPropagator;
    use super::*;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn extract(h: &HeaderMap) -> Context {
        TraceContextPropagator::new()
            .extract_with_context(&Context::new(), &HeaderExtractor::new(h))
    }

    #[test]
    fn propagators_are_skipped_only_when_the_map_surely_has_none_of_their_fields() {
        let default = default_propagator();
        let b3 = B3Propagator::new(B3Encoding::Multiple);
        let none = |h: &HeaderMap, p: &dyn TextMapPropagator| {
            HeaderExtractor::new(h).carries_none_of(p.fields())
        };
        let mut h = HeaderMap::new();
        h.insert("user-agent", "x".parse().unwrap());
        assert!(none(&h, &default));
        assert!(!none(&h, &b3), "fields outside the W3C set: not known");
        assert!(!none(
            &crate::http_common::padded_headers(h.clone()),
            &default
        ));
        for field in W3C_FIELDS {
            let mut with = h.clone();
            with.insert(field, "a=1".parse().unwrap());
            assert!(!none(&with, &default), "{field}");
        }
        let mut only_baggage = HeaderMap::new();
        only_baggage.insert("baggage", "user.id=7".parse().unwrap());
        assert!(none(&only_baggage, &TraceContextPropagator::new()));
    }

    use crate::testing::Carried;

    #[test]
    fn the_one_pass_extraction_reads_what_the_propagators_read() {
        let composite = opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(W3CTraceContext::new()),
            Box::new(BaggagePropagator::new()),
        ]);
        let unsampled = TP.replace("-01", "-00");
        let big_state = format!("a={}", "x".repeat(MAX_HEADER_LEN));
        let later_version = format!("cc{}-later", &TP[2..]);
        let later_non_ascii = [format!("cc{}-", &TP[2..]).as_bytes(), b"\xff"].concat();
        let padded_tp = format!(" {TP}\t");
        let cases: Vec<Vec<(&str, &[u8])>> = vec![
            vec![],
            vec![("user-agent", b"x")],
            vec![("traceparent", TP.as_bytes())],
            vec![("traceparent", unsampled.as_bytes())],
            vec![
                ("traceparent", TP.as_bytes()),
                ("traceparent", TP.as_bytes()),
            ],
            vec![("traceparent", b"00-\xff")],
            vec![("traceparent", b"not a traceparent")],
            vec![("traceparent", later_version.as_bytes())],
            vec![("traceparent", later_non_ascii.as_slice())],
            vec![("traceparent", padded_tp.as_bytes())],
            vec![("tracestate", b"a=1")],
            vec![("traceparent", TP.as_bytes()), ("tracestate", b"a=1,b=2")],
            vec![
                ("traceparent", TP.as_bytes()),
                ("tracestate", b"a=1"),
                ("tracestate", b"b=2"),
            ],
            vec![("traceparent", TP.as_bytes()), ("tracestate", b"bad==")],
            vec![
                ("traceparent", TP.as_bytes()),
                ("tracestate", big_state.as_bytes()),
            ],
            vec![("baggage", b"user.id=7,tenant.id=acme")],
            vec![("baggage", b"user.id=7"), ("baggage", b"tenant.id=acme")],
            vec![
                ("traceparent", unsampled.as_bytes()),
                ("tracestate", b"a=1"),
                ("baggage", b"user.id=7"),
            ],
            vec![("baggage", b"\xff=1")],
        ];
        for case in cases {
            let mut h = HeaderMap::new();
            for (name, value) in &case {
                h.append(*name, HeaderValue::from_bytes(value).unwrap());
            }
            for m in [h.clone(), crate::http_common::padded_headers(h)] {
                let by_composite =
                    composite.extract_with_context(&Context::new(), &HeaderExtractor::new(&m));
                assert_eq!(
                    Carried::of(&DefaultPropagator.extract_headers(&m)),
                    Carried::of(&by_composite),
                    "{case:?}"
                );
                assert_eq!(
                    Carried::of(
                        &DefaultPropagator
                            .extract_with_context(&Context::new(), &HeaderExtractor::new(&m))
                    ),
                    Carried::of(&by_composite),
                    "{case:?}"
                );
                let w3c = W3CTraceContext::new();
                assert_eq!(
                    Carried::of(&w3c.extract_headers(&m)),
                    Carried::of(
                        &w3c.extract_with_context(&Context::new(), &HeaderExtractor::new(&m))
                    ),
                    "{case:?}"
                );
            }
        }
        // the cases are not all alike: a parent, a tracestate and baggage each came through
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        h.insert("tracestate", "a=1".parse().unwrap());
        h.insert("baggage", "user.id=7".parse().unwrap());
        let c = Carried::of(&DefaultPropagator.extract_headers(&h));
        assert_eq!(
            (c.remote, c.trace_state.as_str(), c.baggage.len()),
            (true, "a=1", 1)
        );
    }

    #[test]
    fn a_span_is_injected_as_its_derived_context_would_be() {
        use opentelemetry::baggage::BaggageExt;
        use opentelemetry::trace::{SpanContext, TraceState};
        use opentelemetry::KeyValue;
        let propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = vec![
            Box::new(DefaultPropagator),
            Box::new(W3CTraceContext::new()),
            Box::new(opentelemetry::propagation::TextMapCompositePropagator::new(
                vec![
                    Box::new(W3CTraceContext::new()),
                    Box::new(BaggagePropagator::new()),
                ],
            )),
            Box::new(B3Propagator::new(B3Encoding::Multiple)),
            Box::new(JaegerPropagator::new()),
        ];
        let parents = [
            Context::new(),
            Context::new().with_baggage([KeyValue::new("user.id", "42")]),
        ];
        let state = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let spans = [
            SpanContext::new(
                TraceId::from(0x11u128),
                SpanId::from(0x22u64),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            ),
            SpanContext::new(
                TraceId::from(0x33u128),
                SpanId::from(0x44u64),
                TraceFlags::default(),
                false,
                state,
            ),
            SpanContext::empty_context(),
        ];
        for p in &propagators {
            for parent in &parents {
                for sc in &spans {
                    let mut direct = HeaderMap::new();
                    inject_span_with(p.as_ref(), parent, sc, &mut direct);
                    let mut derived = HeaderMap::new();
                    p.inject_context(
                        &parent.with_remote_span_context(sc.clone()),
                        &mut HeaderInjector(&mut derived),
                    );
                    assert_eq!(
                        direct,
                        derived,
                        "{:?} {sc:?}",
                        p.fields().collect::<Vec<_>>()
                    );
                }
            }
        }
        // and the two W3C forms do write something
        let mut h = HeaderMap::new();
        inject_span_with(&DefaultPropagator, &parents[1], &spans[1], &mut h);
        assert_eq!(
            (
                h.len(),
                h["tracestate"].to_str().unwrap(),
                h["baggage"].to_str().unwrap()
            ),
            (3, "vendor=x", "user.id=42")
        );
    }

    #[test]
    fn only_this_crates_w3c_propagators_take_the_one_pass_path() {
        assert_eq!(
            fast_kind(&DefaultPropagator),
            Some(FastKind::TraceContextBaggage)
        );
        assert_eq!(
            fast_kind(&W3CTraceContext::new()),
            Some(FastKind::TraceContext)
        );
        let same_fields = opentelemetry::propagation::TextMapCompositePropagator::new(vec![
            Box::new(W3CTraceContext::new()),
            Box::new(BaggagePropagator::new()),
        ]);
        assert_eq!(fast_kind(&same_fields), None, "equal names are not enough");
        assert_eq!(
            fast_kind(&opentelemetry_sdk::propagation::TraceContextPropagator::new()),
            None
        );
        assert_eq!(fast_kind(&B3Propagator::new(B3Encoding::Multiple)), None);
        assert_eq!(fast_kind(&BaggagePropagator::new()), None);
    }

    #[test]
    fn single_traceparent_is_read() {
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        assert!(extract(&h).span().span_context().is_valid());
    }

    #[test]
    fn duplicated_traceparent_is_ignored() {
        let mut h = HeaderMap::new();
        h.append("traceparent", TP.parse().unwrap());
        h.append("traceparent", TP.parse().unwrap());
        assert!(!extract(&h).span().span_context().is_valid());
    }

    #[test]
    fn oversized_and_non_utf8_values_are_ignored() {
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        let big = format!("a={}", "x".repeat(MAX_HEADER_LEN));
        h.insert("tracestate", big.parse().unwrap());
        let cx = extract(&h);
        assert!(cx.span().span_context().is_valid());
        assert_eq!(cx.span().span_context().trace_state().header(), "");
        let mut h = HeaderMap::new();
        h.insert("traceparent", HeaderValue::from_bytes(b"00-\xff").unwrap());
        assert!(!extract(&h).span().span_context().is_valid());
    }

    #[test]
    fn tracestate_lines_are_joined() {
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        h.append("tracestate", "a=1".parse().unwrap());
        h.append("tracestate", "b=2".parse().unwrap());
        let cx = extract(&h);
        assert_eq!(cx.span().span_context().trace_state().header(), "a=1,b=2");
    }

    #[test]
    fn scanned_and_looked_up_maps_read_the_same() {
        let single = {
            let mut h = HeaderMap::new();
            h.insert("traceparent", TP.parse().unwrap());
            h
        };
        let twice = {
            let mut h = HeaderMap::new();
            h.append("traceparent", TP.parse().unwrap());
            h.append("traceparent", TP.parse().unwrap());
            h
        };
        let joined = {
            let mut h = single.clone();
            h.append("tracestate", "a=1".parse().unwrap());
            h.append("tracestate", "b=2".parse().unwrap());
            h
        };
        let non_utf8 = {
            let mut h = HeaderMap::new();
            h.insert("traceparent", HeaderValue::from_bytes(b"00-\xff").unwrap());
            h
        };
        for (h, valid, state) in [
            (single, true, ""),
            (twice, false, ""),
            (joined, true, "a=1,b=2"),
            (non_utf8, false, ""),
        ] {
            let big = crate::http_common::padded_headers(h.clone());
            assert!(
                scan_headers(&h, w3c_names()).is_some()
                    && scan_headers(&big, w3c_names()).is_none()
            );
            for m in [&h, &big] {
                let cx = extract(m);
                assert_eq!(cx.span().span_context().is_valid(), valid, "{m:?}");
                assert_eq!(cx.span().span_context().trace_state().header(), state);
            }
        }
    }

    #[test]
    fn header_text_follows_to_str() {
        let values: Vec<HeaderValue> = vec![
            HeaderValue::from_static("00-abc\tdef"),
            HeaderValue::from_static(""),
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
            HeaderValue::from_bytes(b"\xff").unwrap(),
            HeaderValue::from_static("a=1, b=2 ~!"),
        ];
        for v in &values {
            assert_eq!(header_text(v), v.to_str().ok(), "{v:?}");
        }
    }

    #[test]
    fn map_round_trip() {
        let p = TraceContextPropagator::new();
        let mut h = HeaderMap::new();
        h.insert("traceparent", TP.parse().unwrap());
        let cx = extract(&h);
        let mut map = HashMap::new();
        p.inject_context(&cx, &mut map);
        let back = p.extract_with_context(&Context::new(), &MapExtractor(&map));
        assert_eq!(
            back.span().span_context().trace_id(),
            cx.span().span_context().trace_id()
        );
    }
}
