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
use opentelemetry::{Context, ContextGuard, KeyValue};

/// The domain attributes carried in a context.
#[derive(Debug, Clone, Default)]
pub struct ContextAttributes(Arc<[KeyValue]>);

impl ContextAttributes {
    /// The attributes.
    pub fn as_slice(&self) -> &[KeyValue] {
        &self.0
    }
}

/// The attributes carried by `cx` (empty when none).
pub fn of(cx: &Context) -> &[KeyValue] {
    cx.get::<ContextAttributes>()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
}

/// The attributes carried by the current context, cloned.
pub fn current() -> Vec<KeyValue> {
    Context::map_current(|cx| of(cx).to_vec())
}

/// A context like `cx` whose attributes are its own merged with `attrs` (new keys win).
/// The attributes are also set on `cx`'s span.
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
pub fn attach(attrs: impl IntoIterator<Item = KeyValue>) -> ContextGuard {
    let cx = merge(&Context::current(), attrs);
    cx.attach()
}

/// Adds [`with_context_attributes`](ContextAttributesExt::with_context_attributes) to futures.
pub trait ContextAttributesExt: Future + Sized {
    /// Runs the future in the current context plus `attrs`.
    fn with_context_attributes(
        self,
        attrs: impl IntoIterator<Item = KeyValue>,
    ) -> opentelemetry::context::WithContext<Self> {
        let cx = merge(&Context::current(), attrs);
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
}
