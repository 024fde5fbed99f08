//! Per-request settings, passed as request extensions
//! (`reqwest_middleware::RequestBuilder::with_extension`).

use std::borrow::Cow;

/// A low-cardinality template of the URL (`/users/{id}`): the span is named `{method} {template}`
/// and records `url.template`. Without it the span is named `{method}` (never the raw path).
///
/// ```no_run
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// use reqwest_trace::UrlTemplate;
/// // span "GET /users/{id}", url.template = "/users/{id}"
/// let user = client
///     .get("http://users.internal/users/42")
///     .with_extension(UrlTemplate::new("/users/{id}"))
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(pub Cow<'static, str>);

impl UrlTemplate {
    /// A template.
    ///
    /// ```
    /// let template = reqwest_trace::UrlTemplate::new("/orders/{id}/items");
    /// ```
    pub fn new(template: impl Into<Cow<'static, str>>) -> Self {
        Self(template.into())
    }
}

/// Turns trace-context injection off for one request (calls to third parties that should not
/// learn your trace ids). The span is still recorded.
///
/// ```no_run
/// # async fn run(client: reqwest_middleware::ClientWithMiddleware) -> reqwest_middleware::Result<()> {
/// use reqwest_trace::DisablePropagation;
/// // no traceparent, tracestate or baggage leave for the payment provider
/// let res = client
///     .post("https://api.payments.example/v1/charges")
///     .with_extension(DisablePropagation)
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DisablePropagation;

/// How many times this logical request was sent before; kept in the extensions that
/// `reqwest-retry` hands to every attempt.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Attempts(pub(crate) u32);
