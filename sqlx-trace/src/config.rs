//! The wrapper's settings, shared by the pool, its transactions and its connections.

use trace_core::sql::QueryText;
use trace_core::tracer::Tracer;

use trace_core::db::DbTarget;

/// Default longest `db.query.text`, in bytes ([`TracedPool::with_max_query_text`] changes it).
///
/// [`TracedPool::with_max_query_text`]: crate::TracedPool::with_max_query_text
///
/// ```
/// assert_eq!(sqlx_trace::DEFAULT_MAX_QUERY_TEXT, 2048);
/// ```
pub const DEFAULT_MAX_QUERY_TEXT: usize = 2048;

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) tracer: Tracer,
    pub(crate) target: DbTarget,
    pub(crate) query_text: QueryText,
    pub(crate) max_query_text: usize,
    pub(crate) sqlcommenter: bool,
}
