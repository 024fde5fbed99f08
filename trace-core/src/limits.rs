//! Bounds on what an adapter copies from a request into a span.
//!
//! Values taken from outside (paths, queries, headers, user agents, SQL text) are cut at a maximum
//! length, on a character boundary, so no request can make a span attribute unbounded. The limit is
//! process-wide; `trace-init` sets it from `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` /
//! `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` when they are set.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The default maximum length, in bytes, of a value copied from a request into a span.
///
/// ```
/// assert_eq!(trace_core::limits::DEFAULT_MAX_VALUE_LEN, 4096);
/// ```
pub const DEFAULT_MAX_VALUE_LEN: usize = 4096;

static MAX_VALUE_LEN: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_VALUE_LEN);

/// Sets the process-wide maximum length of a copied value (at least 16 bytes).
/// `trace-init` sets it from `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
///
/// ```
/// use trace_core::limits::{max_value_len, set_max_value_len, truncate};
/// set_max_value_len(16);
/// assert_eq!(max_value_len(), 16);
/// assert_eq!(truncate("a user agent longer than sixteen bytes"), "a user agent lon");
/// set_max_value_len(1); // raised to the least allowed
/// assert_eq!(max_value_len(), 16);
/// ```
pub fn set_max_value_len(len: usize) {
    MAX_VALUE_LEN.store(len.max(16), Ordering::Relaxed);
}

/// The process-wide maximum length of a copied value.
///
/// ```
/// assert_eq!(trace_core::limits::max_value_len(), trace_core::limits::DEFAULT_MAX_VALUE_LEN);
/// ```
pub fn max_value_len() -> usize {
    MAX_VALUE_LEN.load(Ordering::Relaxed)
}

/// Cuts `s` to [`max_value_len`] bytes on a character boundary.
///
/// ```
/// use std::borrow::Cow;
/// assert!(matches!(trace_core::limits::truncate("short"), Cow::Borrowed("short")));
/// ```
#[inline]
pub fn truncate(s: &str) -> Cow<'_, str> {
    truncate_to(s, max_value_len())
}

/// Cuts `s` to at most `max` bytes on a character boundary.
///
/// ```
/// use trace_core::limits::truncate_to;
/// assert_eq!(truncate_to("héllo", 2), "h"); // never inside the two bytes of 'é'
/// assert_eq!(truncate_to("héllo", 3), "hé");
/// ```
pub fn truncate_to(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(s[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_char_boundary() {
        assert_eq!(truncate_to("héllo", 2), "h");
        assert_eq!(truncate_to("héllo", 3), "hé");
        assert!(matches!(truncate_to("abc", 3), Cow::Borrowed(_)));
    }
}
