//! The W3C Trace Context test harness protocol: `POST /test` with a JSON array of
//! `{"url": ..., "arguments": [...]}`; for each element, in order, `arguments` is POSTed as JSON
//! to `url`, carrying the trace context of the incoming request.
#![warn(missing_docs)]

use axum::routing::post;
use axum::{Json, Router};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;

/// One callback the harness asks for.
#[derive(Debug, Deserialize)]
pub struct Callback {
    /// Where to POST.
    pub url: String,
    /// What to POST, as JSON.
    pub arguments: serde_json::Value,
}

async fn test(client: ClientWithMiddleware, Json(calls): Json<Vec<Callback>>) -> &'static str {
    for call in calls {
        // A failing callback must not stop the others (the harness checks each).
        let _ = client.post(&call.url).json(&call.arguments).send().await;
    }
    "ok"
}

/// The service's router: the server layer in, the client middleware out.
pub fn app() -> Router {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(reqwest_trace::TracingMiddleware::new())
        .build();
    Router::new()
        .route("/test", post(move |body| test(client.clone(), body)))
        .layer(tower_trace::TraceLayer::new().axum_body())
}
