//! Pieces shared by the HTTP server and client span families: method normalisation, protocol
//! version, host parsing, span names.

use std::borrow::Cow;
use std::sync::OnceLock;

use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use opentelemetry::StringValue;

use crate::intern::route_name;

/// The methods recorded as themselves; anything else is `_OTHER` (RFC 9110 plus PATCH).
///
/// ```
/// assert!(trace_core::http_common::DEFAULT_KNOWN_METHODS.contains(&"PATCH"));
/// ```
pub const DEFAULT_KNOWN_METHODS: &[&str] = &[
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// The environment variable that replaces the list of known methods (comma-separated).
///
/// ```
/// // OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS=GET,POST,PURGE
/// assert_eq!(trace_core::http_common::KNOWN_METHODS_ENV, "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS");
/// ```
pub const KNOWN_METHODS_ENV: &str = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS";

fn custom_known_methods() -> Option<&'static [Box<str>]> {
    static CUSTOM: OnceLock<Option<Vec<Box<str>>>> = OnceLock::new();
    CUSTOM
        .get_or_init(|| {
            let v = std::env::var(KNOWN_METHODS_ENV).ok()?;
            let list: Vec<Box<str>> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Box::from)
                .collect();
            (!list.is_empty()).then_some(list)
        })
        .as_deref()
}

/// A request method as the conventions record it.
///
/// ```
/// use trace_core::http_common::normalize_method;
/// let m = normalize_method(&http::Method::from_bytes(b"PURGE").unwrap());
/// assert!(m.is_other());
/// assert_eq!(m.normalized.as_str(), "_OTHER");
/// assert_eq!(m.original.as_ref().map(|o| o.as_str()), Some("PURGE"));
/// assert_eq!(m.name_part(), "HTTP");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MethodInfo {
    /// `http.request.method`: the method, or `_OTHER`.
    pub normalized: StringValue,
    /// `http.request.method_original`, set when the method was not a known one.
    pub original: Option<StringValue>,
}

impl MethodInfo {
    /// True when the method is not a known one.
    ///
    /// ```
    /// assert!(!trace_core::http_common::normalize_method(&http::Method::PUT).is_other());
    /// ```
    pub fn is_other(&self) -> bool {
        self.original.is_some()
    }
    /// The method as the span name's first word (`HTTP` for an unknown method).
    ///
    /// ```
    /// assert_eq!(trace_core::http_common::normalize_method(&http::Method::PUT).name_part(), "PUT");
    /// ```
    pub fn name_part(&self) -> &str {
        if self.is_other() {
            "HTTP"
        } else {
            self.normalized.as_str()
        }
    }
}

/// Normalises a method: known methods as themselves, anything else as `_OTHER` with the original.
///
/// ```
/// use trace_core::http_common::normalize_method;
/// let get = normalize_method(&http::Method::GET);
/// assert_eq!((get.normalized.as_str(), get.original), ("GET", None));
/// ```
pub fn normalize_method(method: &Method) -> MethodInfo {
    let s = method.as_str();
    match custom_known_methods() {
        None => {
            let known = match *method {
                Method::GET => Some("GET"),
                Method::POST => Some("POST"),
                Method::PUT => Some("PUT"),
                Method::DELETE => Some("DELETE"),
                Method::HEAD => Some("HEAD"),
                Method::OPTIONS => Some("OPTIONS"),
                Method::PATCH => Some("PATCH"),
                Method::CONNECT => Some("CONNECT"),
                Method::TRACE => Some("TRACE"),
                _ => None,
            };
            match known {
                Some(k) => MethodInfo {
                    normalized: StringValue::from(k),
                    original: None,
                },
                None => other(s),
            }
        }
        Some(list) => {
            if list.iter().any(|m| **m == *s) {
                MethodInfo {
                    normalized: StringValue::from(s.to_owned()),
                    original: None,
                }
            } else {
                other(s)
            }
        }
    }
}

fn other(s: &str) -> MethodInfo {
    MethodInfo {
        normalized: StringValue::from("_OTHER"),
        original: Some(StringValue::from(
            crate::limits::truncate_to(s, 64).into_owned(),
        )),
    }
}

/// `network.protocol.version` for an HTTP version.
///
/// ```
/// use trace_core::http_common::protocol_version;
/// assert_eq!(protocol_version(http::Version::HTTP_11), Some("1.1"));
/// assert_eq!(protocol_version(http::Version::HTTP_2), Some("2"));
/// ```
pub fn protocol_version(v: Version) -> Option<&'static str> {
    Some(match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// Splits `host[:port]` (IPv6 in brackets) into host and port; surrounding ASCII white space is
/// ignored.
///
/// ```
/// use trace_core::http_common::split_host_port;
/// assert_eq!(split_host_port("example.com:8443"), ("example.com", Some(8443)));
/// assert_eq!(split_host_port("[2001:db8::1]:80"), ("2001:db8::1", Some(80)));
/// assert_eq!(split_host_port(" example.com "), ("example.com", None));
/// ```
pub fn split_host_port(s: &str) -> (&str, Option<u16>) {
    // header text is ASCII: no Unicode white space to look for
    let s = s.trim_ascii();
    if let Some(rest) = s.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let host = &rest[..end];
            let port = rest[end + 1..]
                .strip_prefix(':')
                .and_then(|p| p.parse().ok());
            return (host, port);
        }
        return (s, None);
    }
    let b = s.as_bytes();
    // the last colon, if it is the only one (else a bare IPv6 address); plain loops: a host is
    // short, and `contains` would call memchr
    #[allow(clippy::manual_contains)]
    match b.iter().rposition(|&c| c == b':') {
        Some(i) if !b[..i].iter().any(|&c| c == b':') => (&s[..i], parse_port(&s[i + 1..])),
        _ => (s, None),
    }
}

/// A port: one to five ASCII digits, at most 65535.
fn parse_port(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    u16::try_from(v).ok()
}

/// The default port of a URL scheme.
///
/// ```
/// use trace_core::http_common::default_port;
/// assert_eq!(default_port("https"), Some(443));
/// assert_eq!(default_port("http"), Some(80));
/// assert_eq!(default_port("gopher"), None);
/// ```
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// The span name `{method} {route}` (interned), `{method}` without a route, `HTTP …` for an
/// unknown method: static or interned for the usual cases, so naming a span allocates nothing.
///
/// ```
/// use http::Method;
/// use trace_core::http_common::{name_for, normalize_method};
/// assert_eq!(name_for(&normalize_method(&Method::GET), Some("/users/{id}")), "GET /users/{id}");
/// assert_eq!(name_for(&normalize_method(&Method::POST), None), "POST");
/// let purge = Method::from_bytes(b"PURGE").unwrap();
/// assert_eq!(name_for(&normalize_method(&purge), None), "HTTP");
/// ```
pub fn name_for(m: &MethodInfo, route: Option<&str>) -> Cow<'static, str> {
    match route {
        Some(r) => match route_name(m.name_part(), r) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("{} {}", m.name_part(), r)),
        },
        None if m.is_other() => Cow::Borrowed("HTTP"),
        None => match m.normalized.as_str() {
            "GET" => Cow::Borrowed("GET"),
            "POST" => Cow::Borrowed("POST"),
            "PUT" => Cow::Borrowed("PUT"),
            "DELETE" => Cow::Borrowed("DELETE"),
            "PATCH" => Cow::Borrowed("PATCH"),
            "HEAD" => Cow::Borrowed("HEAD"),
            "OPTIONS" => Cow::Borrowed("OPTIONS"),
            other => Cow::Owned(other.to_owned()),
        },
    }
}

/// `url.scheme` as a value (static for `http` and `https`).
///
/// ```
/// assert_eq!(trace_core::http_common::scheme_value("https").as_str(), "https");
/// ```
pub fn scheme_value(s: &str) -> StringValue {
    match s {
        "http" => StringValue::from("http"),
        "https" => StringValue::from("https"),
        other => StringValue::from(other.to_owned()),
    }
}

/// A header's first value and whether it came more than once.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen<'h> {
    pub(crate) first: Option<&'h HeaderValue>,
    pub(crate) repeated: bool,
}

/// Header maps up to this size are scanned once by [`scan_headers`]; larger ones are looked up
/// by name (a scan costs a few instructions per header, a look-up hashes the name).
pub(crate) const SCAN_LIMIT: usize = 12;

/// Finds `names` in one pass over `headers`: each one's first value and whether it came more than
/// once, in the order of `names`. `None` when the map holds more than [`SCAN_LIMIT`] values: look
/// those names up instead. Names compare as `HeaderName`s: a standard header against another is
/// one index comparison, with no text.
pub(crate) fn scan_headers<'h, const N: usize>(
    headers: &'h HeaderMap,
    names: [&HeaderName; N],
) -> Option<[Seen<'h>; N]> {
    if headers.len() > SCAN_LIMIT {
        return None;
    }
    let mut found = [Seen::default(); N];
    for (name, value) in headers {
        if let Some(i) = names.iter().position(|w| *w == name) {
            let seen = &mut found[i];
            if seen.first.is_some() {
                seen.repeated = true;
            } else {
                seen.first = Some(value);
            }
        }
    }
    Some(found)
}

/// `h` with enough other headers that [`scan_headers`] declines it (tests of both paths).
#[cfg(test)]
pub(crate) fn padded_headers(mut h: HeaderMap) -> HeaderMap {
    for i in 0..SCAN_LIMIT {
        h.insert(
            http::HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
            HeaderValue::from_static("1"),
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(normalize_method(&Method::GET).normalized.as_str(), "GET");
        let m = normalize_method(&Method::from_bytes(b"PURGE").unwrap());
        assert_eq!(m.normalized.as_str(), "_OTHER");
        assert_eq!(m.original.unwrap().as_str(), "PURGE");
        let lower = normalize_method(&Method::from_bytes(b"get").unwrap());
        assert!(lower.is_other());
    }

    #[test]
    fn host_port() {
        assert_eq!(
            split_host_port("example.com:8080"),
            ("example.com", Some(8080))
        );
        assert_eq!(split_host_port("example.com"), ("example.com", None));
        assert_eq!(split_host_port("[::1]:80"), ("::1", Some(80)));
        assert_eq!(split_host_port("[::1]"), ("::1", None));
        assert_eq!(split_host_port("h:notaport"), ("h", None));
        assert_eq!(split_host_port(" h:65535 "), ("h", Some(65535)));
        for bad in ["h:65536", "h:+80", "h:", "h:123456", "h:8 0"] {
            assert_eq!(split_host_port(bad), ("h", None), "{bad}");
        }
        assert_eq!(split_host_port("::1"), ("::1", None), "a bare IPv6 address");
    }
}
