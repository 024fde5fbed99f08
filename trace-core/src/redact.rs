//! Redaction: URLs (credentials and sensitive query values) and header capture by allow-list.
//!
//! Defaults follow the OpenTelemetry HTTP conventions: credentials in a URL become
//! `REDACTED:REDACTED@`, and the values (not the keys) of `AWSAccessKeyId`, `Signature`, `sig`,
//! `X-Goog-Signature`, `X-Amz-Signature`, `X-Amz-Credential` and `X-Amz-Security-Token` become
//! `REDACTED`. Header capture records only allow-listed headers, and the values of `authorization`,
//! `proxy-authorization`, `cookie` and `set-cookie` are always replaced by `REDACTED`.

use std::borrow::Cow;
use std::sync::Arc;

use http::HeaderMap;
use opentelemetry::{Key, KeyValue, StringValue};

use crate::attributes::str_array;
use crate::limits::truncate;

/// The replacement text for a redacted value.
///
/// ```
/// use trace_core::redact::{UrlRedaction, REDACTED};
/// let query = UrlRedaction::default().redact_query("Signature=abc");
/// assert_eq!(query, format!("Signature={REDACTED}"));
/// ```
pub const REDACTED: &str = "REDACTED";

/// The query parameters whose values are redacted by default (case-sensitive names): the
/// OpenTelemetry list of signed-URL parameters.
///
/// ```
/// use trace_core::redact::{UrlRedaction, DEFAULT_SENSITIVE_QUERY_PARAMS};
/// let redaction = UrlRedaction::default();
/// let default: Vec<&str> = redaction.params().collect();
/// assert_eq!(default, DEFAULT_SENSITIVE_QUERY_PARAMS);
/// ```
pub const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// Headers whose values are never recorded, whatever the allow-list says.
///
/// ```
/// use trace_core::redact::{HeaderCapture, ALWAYS_REDACTED_HEADERS};
/// let mut headers = http::HeaderMap::new();
/// for name in ALWAYS_REDACTED_HEADERS {
///     headers.insert(*name, "secret".parse().unwrap());
/// }
/// let captured = HeaderCapture::request(ALWAYS_REDACTED_HEADERS.iter()).capture(&headers);
/// assert_eq!(captured.len(), 4);
/// assert!(captured.iter().all(|kv| !kv.value.as_str().contains("secret")));
/// ```
pub const ALWAYS_REDACTED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// How URLs and query strings are redacted before they reach a span.
///
/// ```
/// use trace_core::redact::UrlRedaction;
/// let r = UrlRedaction::default();
/// assert_eq!(
///     r.redact_url("https://user:pw@host/p?sig=abc&x=1"),
///     "https://REDACTED:REDACTED@host/p?sig=REDACTED&x=1"
/// );
/// let r = UrlRedaction::default().with_extra_params(["token"]);
/// assert_eq!(r.redact_query("token=t0p&a=b"), "token=REDACTED&a=b");
/// ```
#[derive(Debug, Clone)]
pub struct UrlRedaction {
    params: Arc<[Box<str>]>,
    /// Bit `n` is set when a parameter name is `n` bytes long (63: 63 or more): most query keys
    /// are told apart by their length alone.
    lengths: u64,
}

fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

impl Default for UrlRedaction {
    fn default() -> Self {
        Self::with_params(DEFAULT_SENSITIVE_QUERY_PARAMS.iter().copied())
    }
}

impl UrlRedaction {
    /// Replaces the list of sensitive query parameter names (case-sensitive).
    ///
    /// ```
    /// use trace_core::redact::UrlRedaction;
    /// // only these (the OpenTelemetry list is replaced)
    /// let r = UrlRedaction::with_params(["session"]);
    /// assert_eq!(r.redact_query("session=s&sig=x"), "session=REDACTED&sig=x");
    /// ```
    pub fn with_params<I, S>(params: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let params: Arc<[Box<str>]> = params.into_iter().map(|s| Box::from(s.as_ref())).collect();
        let lengths = params.iter().fold(0, |m, p| m | length_bit(p.len()));
        Self { params, lengths }
    }

    /// Adds names to the current list of sensitive query parameters.
    ///
    /// ```
    /// use trace_core::redact::UrlRedaction;
    /// let r = UrlRedaction::default().with_extra_params(["api_key"]);
    /// assert_eq!(r.redact_query("api_key=k&sig=x"), "api_key=REDACTED&sig=REDACTED");
    /// ```
    pub fn with_extra_params<I, S>(self, extra: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let params = self
            .params
            .iter()
            .map(|p| p.to_string())
            .chain(extra.into_iter().map(|s| s.as_ref().to_owned()));
        Self::with_params(params)
    }

    /// The sensitive parameter names in force.
    ///
    /// ```
    /// let r = trace_core::redact::UrlRedaction::with_params(["a", "b"]);
    /// assert_eq!(r.params().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| &**p)
    }

    fn is_sensitive(&self, raw_key: &str) -> bool {
        let plain = !raw_key.bytes().any(|b| matches!(b, b'%' | b'+' | b'?'));
        if plain && self.lengths & length_bit(raw_key.len()) == 0 {
            return false;
        }
        // `a?sig=x`: a stray `?` inside the query does not hide the parameter after it
        let raw_key = raw_key.rsplit('?').next().unwrap_or(raw_key);
        if self.params.iter().any(|p| **p == *raw_key) {
            return true;
        }
        if raw_key.contains('%') || raw_key.contains('+') {
            let decoded = percent_encoding::percent_decode_str(raw_key).decode_utf8_lossy();
            return self.params.iter().any(|p| **p == *decoded);
        }
        false
    }

    /// Redacts the values of sensitive parameters in a query string (without the leading `?`).
    ///
    /// ```
    /// let r = trace_core::redact::UrlRedaction::default();
    /// assert_eq!(r.redact_query("page=2&X-Amz-Signature=abc"), "page=2&X-Amz-Signature=REDACTED");
    /// ```
    pub fn redact_query<'a>(&self, query: &'a str) -> Cow<'a, str> {
        // a predicate, not the char: a query is short, and the char searcher's memchr set-up
        // costs more than it saves here
        #[allow(clippy::manual_pattern_char_comparison)]
        let needs = query.split(|c| c == '&').any(|pair| {
            let eq = pair.bytes().position(|b| b == b'=');
            eq.is_some_and(|eq| self.is_sensitive(&pair[..eq]))
        });
        if !needs {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len());
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, _)) if self.is_sensitive(k) => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(REDACTED);
                }
                _ => out.push_str(pair),
            }
        }
        Cow::Owned(out)
    }

    /// Redacts a full URL: credentials become `REDACTED:REDACTED@`, sensitive query values
    /// `REDACTED`. Text that is not a URL is handled the same way as far as it can be parsed.
    ///
    /// ```
    /// let r = trace_core::redact::UrlRedaction::default();
    /// assert_eq!(r.redact_url("https://bucket.s3.amazonaws.com/k?X-Amz-Credential=c"), "https://bucket.s3.amazonaws.com/k?X-Amz-Credential=REDACTED");
    /// ```
    pub fn redact_url<'a>(&self, url: &'a str) -> Cow<'a, str> {
        // Most URLs carry neither credentials nor a query: one scan says so.
        if memchr::memchr2(b'@', b'?', url.as_bytes()).is_none() {
            return Cow::Borrowed(url);
        }
        let (before_query, query, fragment) = split_url(url);
        let authority_start = scheme_end(before_query).map_or(0, |i| i + 3);
        let rest = &before_query[authority_start..];
        let authority_end = find_byte(rest, b'/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        // the authority is short: a plain loop beats the SIMD search's setup
        let userinfo_end = authority.as_bytes().iter().rposition(|&b| b == b'@');
        let redacted_query = query.map(|q| self.redact_query(q));
        let query_changed = matches!(redacted_query, Some(Cow::Owned(_)));
        if userinfo_end.is_none() && !query_changed {
            return Cow::Borrowed(url);
        }
        let mut out = String::with_capacity(url.len() + 16);
        out.push_str(&before_query[..authority_start]);
        match userinfo_end {
            Some(at) => {
                out.push_str("REDACTED:REDACTED@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
        out.push_str(&rest[authority_end..]);
        if let Some(q) = redacted_query {
            out.push('?');
            out.push_str(&q);
        }
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        Cow::Owned(out)
    }
}

/// Where the first `://` starts. A scan for `:` and a look at the next two bytes: the separator
/// comes within the first few bytes of a URL, so this beats building a substring searcher.
fn scheme_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b':', &b[from..]) {
        let at = from + i;
        if b.get(at + 1..at + 3) == Some(b"//") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The first `b` in `s` (memchr: cheaper than the `str` pattern machinery). `b` is ASCII, so the
/// index is a character boundary.
fn find_byte(s: &str, b: u8) -> Option<usize> {
    memchr::memchr(b, s.as_bytes())
}

fn split_url(url: &str) -> (&str, Option<&str>, Option<&str>) {
    // one pass for the first `?` or `#`: a `?` after the `#` belongs to the fragment
    match memchr::memchr2(b'?', b'#', url.as_bytes()) {
        None => (url, None, None),
        Some(i) if url.as_bytes()[i] == b'#' => (&url[..i], None, Some(&url[i + 1..])),
        Some(i) => {
            let rest = &url[i + 1..];
            match find_byte(rest, b'#') {
                Some(j) => (&url[..i], Some(&rest[..j]), Some(&rest[j + 1..])),
                None => (&url[..i], Some(rest), None),
            }
        }
    }
}

/// Which request or response headers are recorded as `http.{request,response}.header.<name>`.
///
/// Names are matched case-insensitively; values that are not valid UTF-8 are skipped; sensitive
/// headers are recorded as `REDACTED`.
///
/// ```
/// use trace_core::redact::HeaderCapture;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", "r-1".parse().unwrap());
/// headers.insert("authorization", "Bearer secret".parse().unwrap());
/// let capture = HeaderCapture::request(["X-Request-Id", "Authorization"]);
/// let kvs = capture.capture(&headers);
/// assert_eq!(kvs.len(), 2);
/// assert!(!format!("{kvs:?}").contains("secret"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct HeaderCapture {
    entries: Arc<[CapturedHeader]>,
}

#[derive(Debug)]
struct CapturedHeader {
    name: http::HeaderName,
    key: Key,
    redacted: bool,
}

impl HeaderCapture {
    /// Captures the named request headers as `http.request.header.<name>`.
    ///
    /// ```
    /// let capture = trace_core::redact::HeaderCapture::request(["x-request-id"]);
    /// assert!(!capture.is_empty());
    /// ```
    pub fn request<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new("http.request.header.", names, &[])
    }

    /// Captures the named response headers as `http.response.header.<name>`.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("content-type", "application/json".parse().unwrap());
    /// let kvs = trace_core::redact::HeaderCapture::response(["content-type"]).capture(&headers);
    /// assert_eq!(kvs[0].key.as_str(), "http.response.header.content-type");
    /// ```
    pub fn response<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new("http.response.header.", names, &[])
    }

    /// Captures `names` under `prefix`, redacting the always-sensitive headers and `also_redact`.
    /// Names that are not valid header names are ignored.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-api-key", "k-123".parse().unwrap());
    /// // a capture of your own, with one more header always redacted
    /// let capture = trace_core::redact::HeaderCapture::new("http.request.header.", ["x-api-key"], &["x-api-key"]);
    /// assert!(!format!("{:?}", capture.capture(&headers)).contains("k-123"));
    /// ```
    pub fn new<I, S>(prefix: &str, names: I, also_redact: &[&str]) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut entries: Vec<CapturedHeader> = Vec::new();
        for n in names {
            let lower = n.as_ref().trim().to_ascii_lowercase();
            let Ok(name) = http::HeaderName::from_bytes(lower.as_bytes()) else {
                continue;
            };
            if entries.iter().any(|e| e.name == name) {
                continue;
            }
            let redacted = ALWAYS_REDACTED_HEADERS.contains(&lower.as_str())
                || also_redact.iter().any(|r| r.eq_ignore_ascii_case(&lower));
            let key = Key::from(Arc::<str>::from(format!("{prefix}{lower}")));
            entries.push(CapturedHeader {
                name,
                key,
                redacted,
            });
        }
        Self {
            entries: entries.into(),
        }
    }

    /// True when nothing is captured.
    ///
    /// ```
    /// assert!(trace_core::redact::HeaderCapture::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The attributes for the allow-listed headers present in `headers`.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.append("accept", "text/html".parse().unwrap());
    /// headers.append("accept", "application/json".parse().unwrap());
    /// let kvs = trace_core::redact::HeaderCapture::request(["accept"]).capture(&headers);
    /// assert_eq!(kvs.len(), 1); // one attribute, both values in its array
    /// ```
    pub fn capture(&self, headers: &HeaderMap) -> Vec<KeyValue> {
        let mut out = Vec::new();
        self.capture_into(headers, &mut out);
        out
    }

    /// Appends the attributes for the allow-listed headers present in `headers` to `out`.
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// let mut attrs = Vec::new();
    /// trace_core::redact::HeaderCapture::request(["x-request-id"]).capture_into(&headers, &mut attrs);
    /// assert!(attrs.is_empty()); // absent headers are not recorded
    /// ```
    pub fn capture_into(&self, headers: &HeaderMap, out: &mut Vec<KeyValue>) {
        for e in self.entries.iter() {
            let mut values: Vec<StringValue> = Vec::new();
            for v in headers.get_all(&e.name) {
                if e.redacted {
                    values.push(StringValue::from(REDACTED));
                } else if let Ok(s) = v.to_str() {
                    values.push(StringValue::from(truncate(s).into_owned()));
                }
            }
            if !values.is_empty() {
                out.push(str_array(e.key.clone(), values));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_redacted_keys_kept() {
        let r = UrlRedaction::default();
        assert_eq!(
            r.redact_query("X-Amz-Signature=abc&X-Amz-Credential=k%2Fd&page=2"),
            "X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&page=2"
        );
        assert!(matches!(r.redact_query("a=1&b=2"), Cow::Borrowed(_)));
        // case-sensitive, as the convention says
        assert_eq!(r.redact_query("SIG=1"), "SIG=1");
        // percent-encoded key still matches
        assert_eq!(r.redact_query("si%67=zzz"), "si%67=REDACTED");
        // key without value is left alone, empty pairs survive
        assert_eq!(r.redact_query("sig&&x=1"), "sig&&x=1");
        // a stray '?' does not hide a sensitive parameter
        assert_eq!(r.redact_query("a?sig=zzz"), "a?sig=REDACTED");
    }

    #[test]
    fn url_credentials_and_params() {
        let r = UrlRedaction::default();
        assert_eq!(
            r.redact_url("https://u:p@example.com:8443/a/b?Signature=s3cr3t&q=1#frag"),
            "https://REDACTED:REDACTED@example.com:8443/a/b?Signature=REDACTED&q=1#frag"
        );
        assert_eq!(
            r.redact_url("http://only-user@h/"),
            "http://REDACTED:REDACTED@h/"
        );
        assert!(matches!(r.redact_url("http://h/p?x=1"), Cow::Borrowed(_)));
        // '@' in the path is not userinfo
        assert_eq!(r.redact_url("http://h/a@b"), "http://h/a@b");
    }

    #[test]
    fn scheme_separator_is_the_first_colon_slash_slash() {
        for s in [
            "http://h/p",
            "a:b://c@d/",
            "x:/y://z",
            "::://",
            ":/",
            "x:",
            "",
            "no-scheme/a@b",
            "h:p:q://r",
            "é:://x",
        ] {
            assert_eq!(scheme_end(s), s.find("://"), "{s:?}");
        }
        let r = UrlRedaction::default();
        assert_eq!(r.redact_url("a:b://u:p@h/"), "a:b://REDACTED:REDACTED@h/");
        assert_eq!(r.redact_url("u:p@h/x"), "REDACTED:REDACTED@h/x");
    }

    #[test]
    fn header_capture_redacts_and_skips_non_utf8() {
        let mut h = HeaderMap::new();
        h.append("cookie", "session=abc".parse().unwrap());
        h.append("x-tenant", "t1".parse().unwrap());
        h.append("x-tenant", "t2".parse().unwrap());
        h.append(
            "x-bin",
            http::HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap(),
        );
        let c = HeaderCapture::request(["Cookie", "x-tenant", "x-bin", "not a header"]);
        let kvs = c.capture(&h);
        assert_eq!(kvs.len(), 2);
        assert_eq!(kvs[0].key.as_str(), "http.request.header.cookie");
        assert_eq!(kvs[0].value.as_str(), "[\"REDACTED\"]");
        assert_eq!(kvs[1].key.as_str(), "http.request.header.x-tenant");
        assert_eq!(kvs[1].value.as_str(), "[\"t1\",\"t2\"]");
    }
}
