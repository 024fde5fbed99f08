//! The OTLP `ExportTraceServiceRequest`, written as protobuf straight from the queued spans (read
//! through [`SpanView`]: the adapters' records or the SDK's `SpanData`).
//!
//! The generic path (SDK span data → generated message structs → protobuf) allocates a string for
//! every attribute key and value and a vector for every list, then frees them all: several times
//! the cost of writing the bytes. Here the bytes are written in one pass into one buffer: small
//! messages (attributes, events, links) are measured just before they are written, and the
//! lengths of spans, scopes and the resource are kept a fixed number of bytes and filled in after
//! their bodies ([`put_nested`]), the body moved in the rare case the guess was wrong. The usual
//! attribute (a string or integer value, its whole message under 128 bytes) is written with
//! constant tags after one reservation ([`put_small_attribute`]). The field numbers and the rules for what is left
//! out (proto3 defaults) follow `opentelemetry/proto/trace/v1/trace.proto` and its imports; a test
//! decodes the result with the generated types and compares it with the generic conversion.

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::Resource;
use trace_core::export::SpanView;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// Bytes a varint takes: one per 7 bits, at least one (`(bits * 9 + 64) / 64` is that without a
/// division).
#[inline]
fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) / 64
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes a field's tag takes (the fields here are below 2048).
#[inline]
fn tag_len(field: u32) -> usize {
    if field < 16 {
        1
    } else {
        2
    }
}

#[inline]
fn put_tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, u64::from(field << 3 | u32::from(wire)));
}

/// A length-delimited field holding `len` bytes.
#[inline]
fn len_field(field: u32, len: usize) -> usize {
    tag_len(field) + varint_len(len as u64) + len
}

/// A string or bytes field, left out when empty (the proto3 default).
#[inline]
fn bytes_field(field: u32, b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        len_field(field, b.len())
    }
}

#[inline]
fn put_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    if !b.is_empty() {
        put_tag(out, field, LEN);
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

#[inline]
fn put_len(out: &mut Vec<u8>, field: u32, len: usize) {
    put_tag(out, field, LEN);
    put_varint(out, len as u64);
}

/// A length-delimited field whose body `body` writes: the length is not known before, so `guess`
/// bytes are kept for it and the body moved once if its length takes another number of bytes.
/// (One pass over the data instead of measuring everything first.)
#[inline]
fn put_nested(out: &mut Vec<u8>, field: u32, guess: usize, body: impl FnOnce(&mut Vec<u8>)) {
    put_tag(out, field, LEN);
    let at = out.len();
    out.resize(at + guess, 0);
    body(out);
    let end = out.len();
    let len = end - at - guess;
    let need = varint_len(len as u64);
    if need > guess {
        out.resize(end + need - guess, 0);
        out.copy_within(at + guess..end, at + need);
    } else if need < guess {
        out.copy_within(at + guess..end, at + need);
        out.truncate(end - (guess - need));
    }
    let mut v = len as u64;
    let mut i = at;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
}

/// An unsigned varint field, left out when zero.
#[inline]
fn uint_field(field: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        tag_len(field) + varint_len(v)
    }
}

#[inline]
fn put_uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        put_tag(out, field, VARINT);
        put_varint(out, v);
    }
}

/// A fixed-width field of `width` bytes (8: `fixed64`, 4: `fixed32`), left out when zero.
#[inline]
fn fixed_field(field: u32, v: u64, width: usize) -> usize {
    if v == 0 {
        0
    } else {
        tag_len(field) + width
    }
}

#[inline]
fn put_fixed(out: &mut Vec<u8>, field: u32, v: u64, width: usize) {
    if v != 0 {
        put_tag(out, field, if width == 8 { FIXED64 } else { FIXED32 });
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
}

#[inline]
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// ---- common.v1: AnyValue, ArrayValue, KeyValue, InstrumentationScope ----

/// `AnyValue` body. A oneof member is written even when it holds its default.
#[inline]
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::String(s) => len_field(1, s.as_str().len()),
        Value::Bool(_) => tag_len(2) + 1,
        Value::I64(i) => tag_len(3) + varint_len(*i as u64),
        Value::F64(_) => tag_len(4) + 8,
        Value::Array(a) => len_field(5, array_len(a)),
        _ => 0,
    }
}

fn put_any_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        // (a oneof member: written even when empty)
        Value::String(s) if s.as_str().len() < 128 => {
            let s = s.as_str();
            out.extend_from_slice(&[(1 << 3) | LEN, s.len() as u8]);
            out.extend_from_slice(s.as_bytes());
        }
        Value::String(s) => {
            let s = s.as_str();
            put_len(out, 1, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bool(b) => {
            put_tag(out, 2, VARINT);
            out.push(u8::from(*b));
        }
        Value::I64(i) => {
            put_tag(out, 3, VARINT);
            put_varint(out, *i as u64);
        }
        Value::F64(f) => {
            put_tag(out, 4, FIXED64);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Array(a) => {
            put_len(out, 5, array_len(a));
            put_array(out, a);
        }
        _ => {}
    }
}

/// Calls `f` with each element of a boolean or number array as a `Value` (string arrays are
/// written in place, without a `Value` per element).
fn each_element(a: &Array, mut f: impl FnMut(&Value)) {
    match a {
        Array::Bool(v) => v.iter().for_each(|x| f(&Value::Bool(*x))),
        Array::I64(v) => v.iter().for_each(|x| f(&Value::I64(*x))),
        Array::F64(v) => v.iter().for_each(|x| f(&Value::F64(*x))),
        _ => {}
    }
}

/// `ArrayValue` body: repeated `AnyValue values = 1`.
fn array_len(a: &Array) -> usize {
    let mut n = 0;
    match a {
        // strings are measured in place (no clone into a `Value`)
        Array::String(v) => {
            for s in v {
                n += len_field(1, len_field(1, s.as_str().len()));
            }
        }
        other => each_element(other, |x| n += len_field(1, any_value_len(x))),
    }
    n
}

fn put_array(out: &mut Vec<u8>, a: &Array) {
    match a {
        Array::String(v) => {
            for s in v {
                let s = s.as_str();
                put_len(out, 1, len_field(1, s.len()));
                put_len(out, 1, s.len());
                out.extend_from_slice(s.as_bytes());
            }
        }
        other => each_element(other, |x| {
            put_len(out, 1, any_value_len(x));
            put_any_value(out, x);
        }),
    }
}

/// `KeyValue` body: `key = 1`, `value = 2` (always present).
#[inline]
fn key_value_len(key: &str, value: &Value) -> usize {
    bytes_field(1, key.as_bytes()) + len_field(2, any_value_len(value))
}

fn put_key_value(out: &mut Vec<u8>, key: &str, value: &Value) {
    let value_len = any_value_len(value);
    put_key_value_sized(out, key, value, value_len);
}

/// A `KeyValue` body whose value's length is known.
#[inline]
fn put_key_value_sized(out: &mut Vec<u8>, key: &str, value: &Value, value_len: usize) {
    put_short_bytes(out, 1, key.as_bytes());
    put_len(out, 2, value_len);
    put_any_value(out, value);
}

/// [`put_bytes`] for a field below 16 holding less than 128 bytes (attribute keys, most values):
/// tag, length and bytes in two copies.
#[inline]
fn put_short_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    if b.len() < 128 && field < 16 {
        if !b.is_empty() {
            out.extend_from_slice(&[(field << 3) as u8 | LEN, b.len() as u8]);
            out.extend_from_slice(b);
        }
    } else {
        put_bytes(out, field, b);
    }
}

/// A repeated `KeyValue` field.
fn attributes_len(field: u32, kvs: &[KeyValue]) -> usize {
    kvs.iter()
        .map(|kv| len_field(field, key_value_len(kv.key.as_str(), &kv.value)))
        .sum()
}

fn put_attributes(out: &mut Vec<u8>, field: u32, kvs: &[KeyValue]) {
    for kv in kvs {
        let key = kv.key.as_str();
        if put_small_attribute(out, field, key.as_bytes(), &kv.value) {
            continue;
        }
        let value_len = any_value_len(&kv.value);
        let len = bytes_field(1, key.as_bytes()) + len_field(2, value_len);
        put_len(out, field, len);
        put_key_value_sized(out, key, &kv.value, value_len);
    }
}

/// The usual attribute, written in a few copies: a field below 16 holding a `KeyValue` with a
/// string or integer value whose whole message is shorter than 128 bytes, so that every length in
/// it takes one byte. Writes nothing and returns false for any other.
#[inline]
fn put_small_attribute(out: &mut Vec<u8>, field: u32, key: &[u8], value: &Value) -> bool {
    if field >= 16 {
        return false;
    }
    // `KeyValue`: key = 1 (left out when empty), value = 2 (an `AnyValue`, always written)
    let key_part = if key.is_empty() { 0 } else { 2 + key.len() };
    let head = |out: &mut Vec<u8>, body: usize, any: usize| {
        out.reserve(2 + body);
        out.extend_from_slice(&[(field << 3) as u8 | LEN, body as u8]);
        if !key.is_empty() {
            out.extend_from_slice(&[(1 << 3) | LEN, key.len() as u8]);
            out.extend_from_slice(key);
        }
        out.extend_from_slice(&[(2 << 3) | LEN, any as u8]);
    };
    match value {
        Value::String(s) => {
            // `AnyValue.string_value` = 1
            let v = s.as_str().as_bytes();
            let any = 2 + v.len();
            let body = key_part + 2 + any;
            if body >= 128 {
                return false;
            }
            head(out, body, any);
            out.extend_from_slice(&[(1 << 3) | LEN, v.len() as u8]);
            out.extend_from_slice(v);
            true
        }
        Value::I64(i) => {
            // `AnyValue.int_value` = 3
            let any = 1 + varint_len(*i as u64);
            let body = key_part + 2 + any;
            if body >= 128 {
                return false;
            }
            head(out, body, any);
            out.push(3 << 3 | VARINT);
            put_varint(out, *i as u64);
            true
        }
        _ => false,
    }
}

/// `InstrumentationScope` body: `name = 1`, `version = 2`, `attributes = 3`.
fn scope_len(s: &InstrumentationScope) -> usize {
    let mut n = bytes_field(1, s.name().as_bytes())
        + bytes_field(2, s.version().unwrap_or_default().as_bytes());
    for kv in s.attributes() {
        n += len_field(3, key_value_len(kv.key.as_str(), &kv.value));
    }
    n
}

fn put_scope(out: &mut Vec<u8>, s: &InstrumentationScope) {
    put_bytes(out, 1, s.name().as_bytes());
    put_bytes(out, 2, s.version().unwrap_or_default().as_bytes());
    for kv in s.attributes() {
        put_len(out, 3, key_value_len(kv.key.as_str(), &kv.value));
        put_key_value(out, kv.key.as_str(), &kv.value);
    }
}

// ---- resource.v1 ----

/// The `Resource` message body (`attributes = 1`), written once per resource.
pub(crate) fn resource(resource: &Resource) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in resource.iter() {
        put_len(&mut out, 1, key_value_len(k.as_str(), v));
        put_key_value(&mut out, k.as_str(), v);
    }
    out
}

// ---- trace.v1 ----

/// `flags`: the trace flags, and whether the parent (or linked) context is remote.
fn span_flags(remote: bool, trace_flags: u8) -> u64 {
    const HAS_IS_REMOTE: u64 = 0x100;
    const IS_REMOTE: u64 = 0x200;
    u64::from(trace_flags) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

fn kind(k: &SpanKind) -> u64 {
    match k {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// `Status` body: `message = 2`, `code = 3`.
fn status_len(s: &Status) -> usize {
    match s {
        Status::Unset => 0,
        Status::Ok => uint_field(3, 1),
        Status::Error { description } => bytes_field(2, description.as_bytes()) + uint_field(3, 2),
    }
}

fn put_status(out: &mut Vec<u8>, s: &Status) {
    match s {
        Status::Unset => {}
        Status::Ok => put_uint(out, 3, 1),
        Status::Error { description } => {
            put_bytes(out, 2, description.as_bytes());
            put_uint(out, 3, 2);
        }
    }
}

fn event_len(e: &opentelemetry::trace::Event) -> usize {
    fixed_field(1, nanos(e.timestamp), 8)
        + bytes_field(2, e.name.as_bytes())
        + attributes_len(3, &e.attributes)
        + uint_field(4, u64::from(e.dropped_attributes_count))
}

fn link_len(l: &opentelemetry::trace::Link, trace_state: &str) -> usize {
    let sc = &l.span_context;
    len_field(1, 16)
        + len_field(2, 8)
        + bytes_field(3, trace_state.as_bytes())
        + attributes_len(4, &l.attributes)
        + uint_field(5, u64::from(l.dropped_attributes_count))
        + fixed_field(6, span_flags(sc.is_remote(), sc.trace_flags().to_u8()), 4)
}

fn put_span<S: SpanView>(out: &mut Vec<u8>, s: &S) {
    let sc = s.span_context();
    put_bytes(out, 1, &sc.trace_id().to_bytes());
    put_bytes(out, 2, &sc.span_id().to_bytes());
    put_bytes(out, 3, sc.trace_state().header().as_bytes());
    if s.parent_span_id() != SpanId::INVALID {
        put_bytes(out, 4, &s.parent_span_id().to_bytes());
    }
    put_bytes(out, 5, s.name().as_bytes());
    put_uint(out, 6, kind(s.kind()));
    put_fixed(out, 7, nanos(s.start_time()), 8);
    put_fixed(out, 8, nanos(s.end_time()), 8);
    put_attributes(out, 9, s.attributes());
    put_uint(out, 10, u64::from(s.dropped_attributes_count()));
    for e in s.events() {
        put_len(out, 11, event_len(e));
        put_fixed(out, 1, nanos(e.timestamp), 8);
        put_bytes(out, 2, e.name.as_bytes());
        put_attributes(out, 3, &e.attributes);
        put_uint(out, 4, u64::from(e.dropped_attributes_count));
    }
    put_uint(out, 12, u64::from(s.dropped_events_count()));
    for l in s.links() {
        let lsc = &l.span_context;
        let trace_state = lsc.trace_state().header();
        put_len(out, 13, link_len(l, &trace_state));
        put_bytes(out, 1, &lsc.trace_id().to_bytes());
        put_bytes(out, 2, &lsc.span_id().to_bytes());
        put_bytes(out, 3, trace_state.as_bytes());
        put_attributes(out, 4, &l.attributes);
        put_uint(out, 5, u64::from(l.dropped_attributes_count));
        put_fixed(
            out,
            6,
            span_flags(lsc.is_remote(), lsc.trace_flags().to_u8()),
            4,
        );
    }
    put_uint(out, 14, u64::from(s.dropped_links_count()));
    put_len(out, 15, status_len(s.status()));
    put_status(out, s.status());
    put_fixed(
        out,
        16,
        span_flags(s.parent_is_remote(), sc.trace_flags().to_u8()),
        4,
    );
}

/// Writes the `ExportTraceServiceRequest` for `spans` (one `ResourceSpans` for the resource, one
/// `ScopeSpans` per instrumentation scope in the order first seen) into `out`.
///
/// `resource` is the `Resource` message body from [`resource`].
pub(crate) fn request<S: SpanView>(
    resource: &[u8],
    resource_schema_url: Option<&str>,
    spans: &[S],
    out: &mut Vec<u8>,
) {
    // the scopes, in the order first seen, and which scope each span has (few scopes: a scan)
    let mut scopes: Vec<&InstrumentationScope> = Vec::new();
    let mut scope_of: Vec<usize> = Vec::with_capacity(spans.len());
    for s in spans {
        let scope = s.instrumentation_scope();
        // the adapters' spans share one scope object per component: most finds are a pointer match
        let i = match scopes
            .iter()
            .position(|x| std::ptr::eq(*x, scope) || **x == *scope)
        {
            Some(i) => i,
            None => {
                scopes.push(scope);
                scopes.len() - 1
            }
        };
        scope_of.push(i);
    }
    // a server span with a dozen attributes takes 300-600 bytes: a span's length is kept two
    // bytes, a scope's and the resource's three
    out.reserve(64 + 512 * spans.len());
    let schema = resource_schema_url.unwrap_or_default().as_bytes();
    // `ResourceSpans` body: resource = 1, scope_spans = 2, schema_url = 3
    put_nested(out, 1, 3, |out| {
        put_len(out, 1, resource.len());
        out.extend_from_slice(resource);
        for (i, scope) in scopes.iter().enumerate() {
            // `ScopeSpans` body: scope = 1, spans = 2, schema_url = 3
            put_nested(out, 2, 3, |out| {
                put_len(out, 1, scope_len(scope));
                put_scope(out, scope);
                for (s, _) in spans.iter().zip(&scope_of).filter(|(_, j)| **j == i) {
                    put_nested(out, 2, 2, |out| put_span(out, s));
                }
                put_bytes(out, 3, scope.schema_url().unwrap_or_default().as_bytes());
            });
        }
        put_bytes(out, 3, schema);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0u64, 1),
            (1, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), n, "{v}");
        }
        assert_eq!(tag_len(15), 1);
        assert_eq!(tag_len(16), 2);
    }

    #[test]
    fn nested_lengths_are_fixed_whatever_the_guess() {
        // bodies whose lengths take one, two and three varint bytes, each written with a guess
        // that is too small, right and too large: always the bytes of length-then-body
        for body_len in [0usize, 5, 127, 128, 300, 16_383, 16_384, 70_000] {
            let body: Vec<u8> = (0..body_len).map(|i| (i % 251) as u8).collect();
            let mut want = Vec::new();
            put_len(&mut want, 2, body.len());
            want.extend_from_slice(&body);
            for guess in 1..=3 {
                let mut out = vec![0xAA];
                put_nested(&mut out, 2, guess, |o| o.extend_from_slice(&body));
                assert_eq!(out[0], 0xAA);
                assert_eq!(&out[1..], &want[..], "body {body_len}, guess {guess}");
            }
        }
    }

    #[test]
    fn small_attributes_read_as_the_general_path_writes_them() {
        // every length around the one-byte bounds of the key, the value and the whole message
        let lengths = [
            0usize, 1, 2, 50, 60, 61, 62, 63, 64, 120, 121, 122, 123, 124, 125, 126, 127, 128, 130,
        ];
        let ints = [0i64, 1, 127, 128, 300, -1, i64::MAX, i64::MIN];
        let mut values: Vec<Value> = lengths
            .iter()
            .map(|n| Value::String(StringValue::from("v".repeat(*n))))
            .collect();
        values.extend(ints.iter().map(|i| Value::I64(*i)));
        for key_len in lengths {
            let key = "k".repeat(key_len);
            for value in &values {
                let mut fast = Vec::new();
                put_attributes(&mut fast, 9, &[KeyValue::new(key.clone(), value.clone())]);
                let mut general = Vec::new();
                let value_len = any_value_len(value);
                put_len(&mut general, 9, key_value_len(&key, value));
                put_key_value_sized(&mut general, &key, value, value_len);
                assert_eq!(fast, general, "key {key_len} bytes, value {value:?}");
            }
        }
    }

    use std::borrow::Cow;
    use std::time::Duration;

    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::StringValue;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use proptest::prelude::*;
    use prost::Message;

    /// What the generic conversion makes of `spans`, and what ours decodes to.
    fn both(
        resource: &Resource,
        spans: Vec<SpanData>,
    ) -> (ExportTraceServiceRequest, ExportTraceServiceRequest) {
        let mut out = Vec::new();
        request(
            &super::resource(resource),
            resource.schema_url(),
            &spans,
            &mut out,
        );
        let ours = ExportTraceServiceRequest::decode(&out[..]).expect("valid protobuf");
        let reference = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                spans,
                &ResourceAttributesWithSchema::from(resource),
            ),
        };
        (ours, reference)
    }

    /// Short text, or text past one length byte (the writer's two paths).
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![4 => "[a-zé ]{0,12}", 1 => "[a-z]{120,200}"]
    }

    fn value() -> impl Strategy<Value = Value> {
        let text = text();
        prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<f64>()
                .prop_filter("NaN never equals itself", |f| !f.is_nan())
                .prop_map(Value::F64),
            text.prop_map(|s| Value::String(StringValue::from(s))),
            proptest::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
            proptest::collection::vec(any::<bool>(), 0..4)
                .prop_map(|v| Value::Array(Array::Bool(v))),
            proptest::collection::vec(-1e6f64..1e6, 0..4).prop_map(|v| Value::Array(Array::F64(v))),
            proptest::collection::vec(super::tests::text(), 0..4).prop_map(|v| {
                Value::Array(Array::String(
                    v.into_iter().map(StringValue::from).collect(),
                ))
            }),
        ]
    }

    fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
        proptest::collection::vec(
            (
                prop_oneof![4 => "[a-z.]{0,10}", 1 => "[a-z.]{126,140}"],
                value(),
            ),
            0..6,
        )
        .prop_map(|v| v.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
    }

    fn context() -> impl Strategy<Value = SpanContext> {
        (
            any::<u128>(),
            any::<u64>(),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of("[a-z]{1,6}"),
        )
            .prop_map(|(t, s, sampled, remote, state)| {
                let state = match state {
                    Some(v) => TraceState::from_key_value([("vendor", v)]).unwrap_or_default(),
                    None => TraceState::default(),
                };
                let flags = if sampled {
                    TraceFlags::SAMPLED
                } else {
                    TraceFlags::default()
                };
                SpanContext::new(
                    TraceId::from(t.max(1)),
                    SpanId::from(s.max(1)),
                    flags,
                    remote,
                    state,
                )
            })
    }

    fn scope() -> impl Strategy<Value = InstrumentationScope> {
        (0usize..3, any::<bool>()).prop_map(|(i, with_attr)| {
            let mut b = InstrumentationScope::builder(["tower-trace", "redis-trace", ""][i]);
            if i != 2 {
                b = b
                    .with_version("0.1.0")
                    .with_schema_url("https://opentelemetry.io/schemas/1.30.0");
            }
            if with_attr {
                b = b.with_attributes([KeyValue::new("scope.attr", 1i64)]);
            }
            b.build()
        })
    }

    fn time() -> impl Strategy<Value = SystemTime> {
        prop_oneof![
            Just(UNIX_EPOCH),
            (0u64..4_000_000_000_000_000_000).prop_map(|n| UNIX_EPOCH + Duration::from_nanos(n)),
        ]
    }

    fn span() -> impl Strategy<Value = SpanData> {
        (
            (
                context(),
                proptest::option::of(any::<u64>()),
                any::<bool>(),
                0usize..5,
                "[A-Za-z /{}]{0,20}",
            ),
            (time(), time(), attributes(), 0u32..3),
            proptest::collection::vec(("[a-z]{0,8}", time(), attributes(), 0u32..2), 0..3),
            proptest::collection::vec((context(), attributes(), 0u32..2), 0..3),
            (0usize..3, "[a-z ]{0,10}", 0u32..2, 0u32..2, scope()),
        )
            .prop_map(|(head, times, events, links, tail)| {
                let (span_context, parent, parent_remote, kind, name) = head;
                let (start, end, attributes, dropped_attributes) = times;
                let (status, message, dropped_events, dropped_links, scope) = tail;
                let mut ev = SpanEvents::default();
                ev.events = events
                    .into_iter()
                    .map(|(n, t, a, d)| Event::new(n, t, a, d))
                    .collect();
                ev.dropped_count = dropped_events;
                let mut ln = SpanLinks::default();
                ln.links = links
                    .into_iter()
                    .map(|(c, a, d)| Link::new(c, a, d))
                    .collect();
                ln.dropped_count = dropped_links;
                SpanData {
                    span_context,
                    parent_span_id: parent.map_or(SpanId::INVALID, |p| SpanId::from(p.max(1))),
                    parent_span_is_remote: parent_remote,
                    span_kind: [
                        SpanKind::Internal,
                        SpanKind::Server,
                        SpanKind::Client,
                        SpanKind::Producer,
                        SpanKind::Consumer,
                    ][kind]
                        .clone(),
                    name: Cow::Owned(name),
                    start_time: start,
                    end_time: end,
                    attributes,
                    dropped_attributes_count: dropped_attributes,
                    events: ev,
                    links: ln,
                    status: match status {
                        0 => Status::Unset,
                        1 => Status::Ok,
                        _ => Status::error(message),
                    },
                    instrumentation_scope: scope,
                }
            })
    }

    proptest! {
        #[test]
        fn decodes_to_what_the_generic_conversion_makes(
            spans in proptest::collection::vec(span(), 0..6),
            resource_attrs in attributes(),
            schema in proptest::option::of(Just("https://opentelemetry.io/schemas/1.30.0")),
        ) {
            let mut b = Resource::builder_empty().with_attributes(resource_attrs);
            if let Some(url) = schema {
                b = b.with_schema_url(Vec::<KeyValue>::new(), url);
            }
            let resource = b.build();
            let (ours, reference) = both(&resource, spans);
            prop_assert_eq!(ours, reference);
        }
    }

    #[test]
    fn an_empty_batch_has_its_resource() {
        let resource = Resource::builder_empty()
            .with_attributes([KeyValue::new("service.name", "svc")])
            .build();
        let (ours, reference) = both(&resource, Vec::new());
        assert_eq!(ours, reference);
    }
}
