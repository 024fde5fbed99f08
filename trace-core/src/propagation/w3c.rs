//! W3C Trace Context (`traceparent` / `tracestate`), parsed without allocating.
//!
//! Stricter than the SDK's propagator where the specification is: ids of exactly 32 and 16
//! lower-case hex digits, not all zero; version `ff` rejected; version `00` exactly 55 characters;
//! a higher version at least 55 characters with `-` after the flags when longer. Only the sampled
//! flag is kept. A `tracestate` that does not parse is dropped (the parent is kept), at most 32
//! members are kept. An empty `tracestate` is not written.

use std::sync::OnceLock;

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::Context;

/// The W3C Trace Context propagator (`traceparent`, `tracestate`), strict about both headers.
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
/// use trace_core::propagation::{HeaderExtractor, W3CTraceContext};
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// headers.insert("tracestate", "congo=t61rcWkgMzE,bad key=1".parse().unwrap());
/// let cx = W3CTraceContext::new().extract(&HeaderExtractor::new(&headers));
/// let span = cx.span();
/// assert!(span.span_context().is_valid());
/// assert_eq!(span.span_context().trace_state().header(), ""); // the invalid list is dropped
/// ```
#[derive(Debug, Clone, Default)]
pub struct W3CTraceContext;

impl W3CTraceContext {
    /// A new propagator.
    ///
    /// ```
    /// opentelemetry::global::set_text_map_propagator(trace_core::propagation::W3CTraceContext::new());
    /// ```
    pub fn new() -> Self {
        Self
    }
}

const INVALID: u8 = 0xff;

/// Lower-case hex digit values; everything else is invalid (upper case is not allowed).
static HEX_VALUE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Decodes lower-case hex into `out` (half as long); false on any other character.
#[inline]
fn decode_hex(s: &[u8], out: &mut [u8]) -> bool {
    let mut bad = 0u8;
    for (i, o) in out.iter_mut().enumerate() {
        let hi = HEX_VALUE[s[2 * i] as usize];
        let lo = HEX_VALUE[s[2 * i + 1] as usize];
        bad |= (hi | lo) & 0xf0;
        *o = (hi << 4) | (lo & 0x0f);
    }
    bad == 0
}

/// Decodes eight lower-case hex digits at once (the value they spell); `None` on any other
/// character. The same rule as [`decode_hex`], a word at a time: the ids are 48 of the 55
/// characters of every `traceparent`.
#[inline(always)]
fn hex8(chars: [u8; 8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x = u64::from_le_bytes(chars);
    if x & HIGH != 0 {
        return None;
    }
    // per byte (all below 0x80 now): high bit set where the byte is >= k; no borrow crosses bytes
    let at_least = |k: u64| ((x | HIGH) - k * ONES) & HIGH;
    let digit = at_least(0x30) & !at_least(0x3a);
    let letter = at_least(0x61) & !at_least(0x67);
    if digit | letter != HIGH {
        return None;
    }
    // each byte's value: its low nibble, plus 9 for a letter
    let nibbles = (x & (0x0f * ONES)) + (letter >> 7) * 9;
    // pair the nibbles (first character high), then gather the four bytes
    let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
    let quads = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
    let bytes = (quads | (quads >> 16)) as u32;
    Some(bytes.swap_bytes())
}

/// The eight characters of `head` from `at` (a constant offset below 48: one load).
#[inline(always)]
fn word(head: &[u8; 55], at: usize) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(&head[at..at + 8]);
    w
}

/// Parses a `traceparent` value into its trace id, parent id and flags.
///
/// ```
/// use trace_core::propagation::parse_traceparent;
/// let (trace_id, span_id, flags) = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(span_id.to_string(), "00f067aa0ba902b7");
/// assert!(flags.is_sampled());
/// // upper case, an all-zero id, version ff: invalid
/// assert!(parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").is_none());
/// assert!(parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// assert!(parse_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_none());
/// ```
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    parse_traceparent_bytes(value.as_bytes())
}

/// [`parse_traceparent`] over bytes. A value it accepts is ASCII up to its 55th character
/// after the optional whitespace (what follows, in a later version, is not checked).
pub(super) fn parse_traceparent_bytes(value: &[u8]) -> Option<(TraceId, SpanId, TraceFlags)> {
    let mut v = value;
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let mut version = [0u8; 1];
    let mut flags = [0u8; 1];
    if !(decode_hex(&v[0..2], &mut version) && decode_hex(&v[53..55], &mut flags)) {
        return None;
    }
    let head: &[u8; 55] = v[..55].try_into().ok()?;
    let trace = (u128::from(hex8(word(head, 3))?) << 96)
        | (u128::from(hex8(word(head, 11))?) << 64)
        | (u128::from(hex8(word(head, 19))?) << 32)
        | u128::from(hex8(word(head, 27))?);
    let span = (u64::from(hex8(word(head, 36))?) << 32) | u64::from(hex8(word(head, 44))?);
    if version[0] == 0xff || (version[0] == 0 && v.len() != 55) || (v.len() > 55 && v[55] != b'-') {
        return None;
    }
    if trace == 0 || span == 0 {
        return None;
    }
    Some((
        TraceId::from_bytes(trace.to_be_bytes()),
        SpanId::from_bytes(span.to_be_bytes()),
        TraceFlags::new(flags[0]) & TraceFlags::SAMPLED,
    ))
}

fn key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'*' | b'/')
}

fn valid_key(k: &str) -> bool {
    let b = k.as_bytes();
    match k.split_once('@') {
        None => {
            !b.is_empty()
                && b.len() <= 256
                && b[0].is_ascii_lowercase()
                && b.iter().all(|c| key_char(*c))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|c| key_char(*c))
                && !s.is_empty()
                && s.len() <= 14
                && s[0].is_ascii_lowercase()
                && s.iter().all(|c| key_char(*c))
        }
    }
}

fn valid_value(v: &str) -> bool {
    let b = v.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[b.len() - 1] != b' '
        && b.iter()
            .all(|c| matches!(c, 0x20..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e))
}

/// Parses a `tracestate` value strictly (W3C grammar): any invalid member, a duplicated key, or
/// more than 32 members makes the whole value invalid (`None`), so it is not propagated.
/// Empty members are skipped.
///
/// ```
/// use trace_core::propagation::parse_tracestate;
/// let ts = parse_tracestate("rojo=00f067aa0ba902b7, ,congo=t61rcWkgMzE").unwrap();
/// assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
/// assert!(parse_tracestate("rojo=1,rojo=2").is_none()); // a duplicated key
/// assert!(parse_tracestate("UPPER=1").is_none()); // keys are lower case
/// ```
pub fn parse_tracestate(value: &str) -> Option<TraceState> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for member in value.split(',') {
        let m = member.trim_matches(|c| c == ' ' || c == '\t');
        if m.is_empty() {
            continue;
        }
        let (k, v) = m.split_once('=')?;
        if !valid_key(k) || !valid_value(v) || pairs.iter().any(|(pk, _)| *pk == k) {
            return None;
        }
        pairs.push((k, v));
        if pairs.len() > 32 {
            return None;
        }
    }
    TraceState::from_key_value(pairs).ok()
}

/// Writes a `traceparent` value.
///
/// ```
/// use opentelemetry::trace::{SpanContext, TraceFlags, TraceState};
/// let sc = SpanContext::new(1_u128.into(), 2_u64.into(), TraceFlags::default(), false, TraceState::default());
/// assert_eq!(
///     trace_core::propagation::format_traceparent(&sc),
///     "00-00000000000000000000000000000001-0000000000000002-00"
/// );
/// ```
pub fn format_traceparent(sc: &SpanContext) -> String {
    // hex digits and dashes: always UTF-8 (checked, not assumed)
    String::from_utf8(traceparent_bytes(sc).to_vec()).unwrap_or_default()
}

/// [`format_traceparent`]'s text as bytes, on the stack.
pub(super) fn traceparent_bytes(sc: &SpanContext) -> [u8; 55] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    crate::intern::hex_into(&sc.trace_id().to_bytes(), &mut out[3..35]);
    crate::intern::hex_into(&sc.span_id().to_bytes(), &mut out[36..52]);
    if sc.is_sampled() {
        out[54] = b'1';
    }
    out
}

/// Writes `sc` as `traceparent` (and `tracestate` when it has entries); nothing for an invalid
/// span context.
pub(super) fn inject_span_context(sc: &SpanContext, injector: &mut dyn Injector) {
    if sc.is_valid() {
        injector.set("traceparent", format_traceparent(sc));
        let ts = sc.trace_state().header();
        if !ts.is_empty() {
            injector.set("tracestate", ts);
        }
    }
}

impl TextMapPropagator for W3CTraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject_span_context(cx.span().span_context(), injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let parent = extractor.get("traceparent").and_then(parse_traceparent);
        extract_values(cx, parent, || extractor.get("tracestate"))
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

/// This propagator's fields. The list lives once for the whole process, so a propagator
/// handing out these very strings is known to be this one (see `propagation::fast_kind`).
pub(super) fn fields() -> &'static [String] {
    static FIELDS: OnceLock<Vec<String>> = OnceLock::new();
    FIELDS.get_or_init(|| vec!["traceparent".into(), "tracestate".into()])
}

/// `cx` with the remote parent that `traceparent` names (and its `tracestate`, read only when
/// the parent is valid), or `cx` itself when there is none: the rule of
/// [`W3CTraceContext`]'s extraction, wherever the values come from.
pub(super) fn extract_values<'a>(
    cx: &Context,
    traceparent: Option<(TraceId, SpanId, TraceFlags)>,
    tracestate: impl FnOnce() -> Option<&'a str>,
) -> Context {
    let Some((trace_id, span_id, flags)) = traceparent else {
        return cx.clone();
    };
    let state = tracestate().and_then(parse_tracestate).unwrap_or_default();
    cx.with_remote_span_context(SpanContext::new(trace_id, span_id, flags, true, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn by_table(chars: [u8; 8]) -> Option<u32> {
        let mut out = [0u8; 4];
        decode_hex(&chars, &mut out).then(|| u32::from_be_bytes(out))
    }

    #[test]
    fn word_decoding_agrees_with_the_table_for_every_byte_in_every_place() {
        for base in [*b"00000000", *b"9af01b2e", *b"ffffffff", *b"a0a0a0a0"] {
            assert!(hex8(base).is_some());
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut chars = base;
                    chars[at] = b;
                    assert_eq!(hex8(chars), by_table(chars), "{chars:?}");
                }
            }
        }
        // every pair of neighbouring bytes (carries and borrows between lanes)
        for at in 0..7 {
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    let mut chars = *b"5c5c5c5c";
                    chars[at] = a;
                    chars[at + 1] = b;
                    assert_eq!(hex8(chars), by_table(chars), "{chars:?}");
                }
            }
        }
        assert_eq!(hex8(*b"deadbeef"), Some(0xdead_beef));
        assert_eq!(hex8(*b"0123abcd"), Some(0x0123_abcd));
        assert_eq!(hex8(*b"0123ABCD"), None, "upper case is not allowed");
    }

    #[test]
    fn valid_values() {
        let (t, s, f) = parse_traceparent(OK).unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        assert!(f.is_sampled());
        // unknown flags dropped, future version with extra fields accepted
        let (_, _, f) =
            parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what")
                .unwrap();
        assert_eq!(f, TraceFlags::SAMPLED);
        assert!(parse_traceparent(&format!(" {OK}\t")).is_some());
    }

    #[test]
    fn invalid_values() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tracestate_is_validated_strictly() {
        let ok = parse_tracestate("vendor=ok, t@sys=v-1 ,,other=a b").unwrap();
        assert_eq!(ok.header(), "vendor=ok,t@sys=v-1,other=a b");
        for bad in [
            "bad===,,,=x",
            "UPPER=1",
            "k=v,k=w",
            "k=",
            "=v",
            "k=v,",
            "k=a,b",
            "k=v\u{7f}",
        ] {
            let r = parse_tracestate(bad);
            if bad == "k=v," {
                assert!(r.is_some(), "{bad:?}: a trailing empty member is allowed");
            } else {
                assert!(r.is_none(), "{bad:?} accepted");
            }
        }
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(parse_tracestate(&many[..32].join(",")).is_some());
        assert!(parse_tracestate(&many.join(",")).is_none());
    }

    #[test]
    fn round_trip_with_tracestate() {
        use std::collections::HashMap;
        let p = W3CTraceContext::new();
        let mut m: HashMap<String, String> = HashMap::new();
        m.insert("traceparent".into(), OK.into());
        m.insert("tracestate".into(), "a=1,b=2".into());
        let cx = p.extract_with_context(&Context::new(), &m);
        let mut out: HashMap<String, String> = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert_eq!(out["traceparent"], OK);
        assert_eq!(out["tracestate"], "a=1,b=2");
        // a broken tracestate is dropped, the parent kept, nothing empty written
        m.insert("tracestate".into(), "not valid==".into());
        let cx = p.extract_with_context(&Context::new(), &m);
        assert!(cx.span().span_context().is_valid());
        let mut out: HashMap<String, String> = HashMap::new();
        p.inject_context(&cx, &mut out);
        assert!(!out.contains_key("tracestate"));
    }
}
