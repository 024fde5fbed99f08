//! Domain attributes (`user.id`, `tenant.id`, ...) attached once to a scope and carried by every
//! span the adapters open beneath it.
//!
//! The attributes travel in the OpenTelemetry [`Context`], so they follow the request through
//! `.await` points, into the handler's own spans and into every adapter span opened under them.
//! Attaching them also sets them on the span that is current at that moment (usually the server
//! span), so the request's root span carries them too.
//!
//! ```
//! use opentelemetry::KeyValue;
//! use trace_core::context_attributes::{current, ContextAttributesExt};
//!
//! # async fn handler() {
//! async {
//!     // every adapter span in here carries user.id and tenant.id
//!     assert_eq!(current().len(), 2);
//! }
//! .with_context_attributes([KeyValue::new("user.id", "42"), KeyValue::new("tenant.id", "acme")])
//! .await;
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;

use opentelemetry::context::FutureExt;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, Key, KeyValue};

/// The domain attributes carried in a context (a value of the OpenTelemetry [`Context`]).
///
/// ```
/// use opentelemetry::{Context, KeyValue};
/// use trace_core::context_attributes::{merge, ContextAttributes};
///
/// let cx = merge(&Context::new(), [KeyValue::new("tenant.id", "acme")]);
/// let carried = cx.get::<ContextAttributes>().unwrap();
/// assert_eq!(carried.as_slice(), [KeyValue::new("tenant.id", "acme")]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContextAttributes(Arc<[KeyValue]>);

impl ContextAttributes {
    /// The attributes.
    ///
    /// ```
    /// use opentelemetry::KeyValue;
    /// let attrs = trace_core::context_attributes::ContextAttributes::default();
    /// assert!(attrs.as_slice().is_empty());
    /// let _scope = trace_core::context_attributes::attach([KeyValue::new("user.id", "42")]);
    /// ```
    pub fn as_slice(&self) -> &[KeyValue] {
        &self.0
    }
}

/// The attributes carried by `cx` (empty when none).
///
/// ```
/// use opentelemetry::{Context, KeyValue};
/// use trace_core::context_attributes::{merge, of};
///
/// assert!(of(&Context::new()).is_empty());
/// let cx = merge(&Context::new(), [KeyValue::new("user.id", "42")]);
/// assert_eq!(of(&cx), [KeyValue::new("user.id", "42")]);
/// ```
pub fn of(cx: &Context) -> &[KeyValue] {
    cx.get::<ContextAttributes>()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
}

/// The attributes carried by the current context, cloned.
///
/// ```
/// use opentelemetry::KeyValue;
/// use trace_core::context_attributes::{attach, current};
///
/// let _scope = attach([KeyValue::new("investigation.id", "inv-7")]);
/// assert_eq!(current(), [KeyValue::new("investigation.id", "inv-7")]);
/// ```
pub fn current() -> Vec<KeyValue> {
    Context::map_current(|cx| of(cx).to_vec())
}

/// A context like `cx` whose attributes are its own merged with `attrs` (new keys win).
/// The attributes are also set on `cx`'s span.
///
/// ```
/// use opentelemetry::{Context, KeyValue};
/// use trace_core::context_attributes::{merge, of};
///
/// let a = merge(&Context::new(), [KeyValue::new("tenant.id", "acme"), KeyValue::new("user.id", "1")]);
/// let b = merge(&a, [KeyValue::new("user.id", "2")]);
/// assert_eq!(of(&b), [KeyValue::new("tenant.id", "acme"), KeyValue::new("user.id", "2")]);
/// assert_eq!(of(&a).len(), 2); // `a` is unchanged
/// ```
pub fn merge(cx: &Context, attrs: impl IntoIterator<Item = KeyValue>) -> Context {
    let new: Vec<KeyValue> = attrs.into_iter().collect();
    if new.is_empty() {
        return cx.clone();
    }
    let span = cx.span();
    if span.is_recording() {
        span.set_attributes(new.iter().cloned());
    }
    let mut merged: Vec<KeyValue> = of(cx)
        .iter()
        .filter(|old| !new.iter().any(|n| n.key == old.key))
        .cloned()
        .collect();
    merged.extend(new);
    cx.with_value(ContextAttributes(merged.into()))
}

/// Attaches `attrs` to the current context until the guard is dropped (synchronous code).
/// In async code use [`ContextAttributesExt::with_context_attributes`], since a guard must not be
/// held across `.await`.
///
/// ```
/// use opentelemetry::KeyValue;
/// use trace_core::context_attributes::{attach, current};
///
/// {
///     let _scope = attach([KeyValue::new("user.id", "42")]);
///     // every adapter span opened here carries user.id = "42"
///     assert_eq!(current().len(), 1);
/// }
/// assert!(current().is_empty());
/// ```
pub fn attach(attrs: impl IntoIterator<Item = KeyValue>) -> ContextGuard {
    let cx = merge(&Context::current(), attrs);
    cx.attach()
}

/// A context like `cx` that also carries string `attrs` as baggage entries, so they travel to the
/// services this request calls (which copy them onto their spans only if they allow-list them).
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::{Context, KeyValue};
///
/// let cx = trace_core::context_attributes::with_baggage(
///     &Context::new(),
///     &[KeyValue::new("tenant.id", "acme"), KeyValue::new("retries", 3_i64)],
/// );
/// assert_eq!(cx.baggage().get("tenant.id").map(|v| v.as_str().to_owned()), Some("acme".into()));
/// assert!(cx.baggage().get("retries").is_none()); // only strings travel as baggage
/// ```
pub fn with_baggage(cx: &Context, attrs: &[KeyValue]) -> Context {
    use opentelemetry::baggage::BaggageExt;
    let entries: Vec<KeyValue> = attrs
        .iter()
        .filter(|kv| matches!(kv.value, opentelemetry::Value::String(_)))
        .cloned()
        .collect();
    if entries.is_empty() {
        return cx.clone();
    }
    let mut merged: Vec<KeyValue> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| KeyValue::new(k.clone(), v.clone()))
        .filter(|kv| !entries.iter().any(|e| e.key == kv.key))
        .collect();
    merged.extend(entries);
    cx.with_baggage(merged)
}

/// The allow-listed baggage entries of `cx`, as attributes (each value cut to 256 bytes).
/// Baggage comes from callers: only keys you name are ever copied onto spans.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::{Context, Key, KeyValue};
///
/// let from_caller = Context::new().with_baggage([
///     KeyValue::new("tenant.id", "acme"),
///     KeyValue::new("internal.secret", "s3cr3t"),
/// ]);
/// let copied = trace_core::context_attributes::from_baggage(&from_caller, &[Key::new("tenant.id")]);
/// assert_eq!(copied, [KeyValue::new("tenant.id", "acme")]);
/// ```
pub fn from_baggage(cx: &Context, allow: &[Key]) -> Vec<KeyValue> {
    use opentelemetry::baggage::BaggageExt;
    if allow.is_empty() {
        return Vec::new();
    }
    let baggage = cx.baggage();
    allow
        .iter()
        .filter_map(|k| {
            baggage.get(k.clone()).map(|v| {
                KeyValue::new(
                    k.clone(),
                    crate::limits::truncate_to(v.as_str(), 256).into_owned(),
                )
            })
        })
        .collect()
}

/// Adds [`with_context_attributes`](ContextAttributesExt::with_context_attributes) to futures.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use opentelemetry::KeyValue;
/// use trace_core::context_attributes::{current, ContextAttributesExt};
///
/// let seen = async { current() }
///     .with_propagated_attributes([KeyValue::new("tenant.id", "acme")]) // and as baggage
///     .await;
/// assert_eq!(seen, [KeyValue::new("tenant.id", "acme")]);
/// # }
/// ```
pub trait ContextAttributesExt: Future + Sized {
    /// Runs the future in the current context plus `attrs`.
    fn with_context_attributes(
        self,
        attrs: impl IntoIterator<Item = KeyValue>,
    ) -> opentelemetry::context::WithContext<Self> {
        let cx = merge(&Context::current(), attrs);
        self.with_context(cx)
    }

    /// Like [`with_context_attributes`](Self::with_context_attributes), and also sends the
    /// string attributes downstream as baggage.
    fn with_propagated_attributes(
        self,
        attrs: impl IntoIterator<Item = KeyValue>,
    ) -> opentelemetry::context::WithContext<Self> {
        let attrs: Vec<KeyValue> = attrs.into_iter().collect();
        let cx = with_baggage(&merge(&Context::current(), attrs.iter().cloned()), &attrs);
        self.with_context(cx)
    }
}

impl<F: Future> ContextAttributesExt for F {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_overrides_and_nests() {
        let _g = attach([
            KeyValue::new("user.id", "1"),
            KeyValue::new("tenant.id", "t"),
        ]);
        {
            let _g2 = attach([KeyValue::new("user.id", "2")]);
            let cur = current();
            assert_eq!(cur.len(), 2);
            assert!(cur.contains(&KeyValue::new("user.id", "2")));
            assert!(cur.contains(&KeyValue::new("tenant.id", "t")));
        }
        assert!(current().contains(&KeyValue::new("user.id", "1")));
    }

    #[test]
    fn baggage_round_trip_only_for_allowed_keys() {
        let cx = with_baggage(
            &Context::new(),
            &[
                KeyValue::new("user.id", "7"),
                KeyValue::new("secret", "x"),
                KeyValue::new("n", 1),
            ],
        );
        let got = from_baggage(
            &cx,
            &[
                Key::from_static_str("user.id"),
                Key::from_static_str("absent"),
            ],
        );
        assert_eq!(got, vec![KeyValue::new("user.id", "7")]);
        assert!(from_baggage(&cx, &[]).is_empty());
    }
}
