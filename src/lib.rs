//! cco: the Claude Code Observatory as a PostgreSQL extension.
//!
//! This crate is the thin layer between PostgreSQL and the pure-Rust core (`cco_core`): each
//! module maps one concern to SQL functions and triggers, and the schema itself lives in the
//! `sql/` files, loaded below in order.

use pgrx::prelude::*;

mod analytics;
mod call_site_cache;
mod errors;
mod identity;
mod ingest;
mod queries;
mod search;
mod search_index;
mod text_search_types;
mod threads;

#[cfg(any(test, feature = "pg_test"))]
mod tests;

::pgrx::pg_module_magic!(name, version);

/// Runs once when a session loads the library: defines cco's settings, and lets the core's long
/// loops process pending interrupts, so a cancel request or `statement_timeout` stops them within
/// milliseconds.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    identity::define_settings();
    cco_core::interrupts::install(check_for_interrupts);
}

fn check_for_interrupts() {
    pgrx::check_for_interrupts!();
}

// The schema, in load order. Each file is one concern; see the comments at the top of each.
extension_sql_file!("../sql/00_types.sql", name = "types", bootstrap);
extension_sql_file!(
    "../sql/01_tables.sql",
    name = "tables",
    requires = [
        identity::current_user_id,
        search::text_to_tsvector,
        search::search_length
    ]
);
extension_sql_file!(
    "../sql/02_indexes.sql",
    name = "indexes",
    requires = [
        "tables",
        search_index::rank_index_handler,
        search_index::ranking::ranked_distance,
        search_index::ranking::in_scope
    ]
);
extension_sql_file!(
    "../sql/03_security.sql",
    name = "security",
    requires = [
        "indexes",
        identity::current_user_role,
        identity::is_service_role
    ]
);
extension_sql_file!(
    "../sql/04_triggers.sql",
    name = "triggers",
    requires = [
        "security",
        threads::message_resolve_thread,
        threads::messages_begin_statement,
        threads::rebuild_thread_depths
    ]
);
extension_sql_file!(
    "../sql/05_threads.sql",
    name = "threads",
    requires = ["triggers"]
);
extension_sql_file!(
    "../sql/06_search.sql",
    name = "search",
    requires = [
        "threads",
        search::tokenize,
        search::text_to_tsquery,
        search::lexeme_tsquery,
        search::query_terms,
        search::rank,
        search::highlight,
        search::suggestion_query,
        search::completions,
        search_index::ranking::ranking_within,
        search_index::optimize_rank_index,
        search_index::rank_index_segments,
        search_index::verify::verify_rank_index
    ]
);
extension_sql_file!(
    "../sql/07_ingest.sql",
    name = "ingest",
    requires = ["search", ingest::ingest_transcript]
);
extension_sql_file!(
    "../sql/08_analytics.sql",
    name = "analytics",
    requires = [
        "ingest",
        analytics::latency_summary_combine,
        analytics::latency_summary_serialize,
        analytics::latency_summary_deserialize,
        analytics::latency_summary_final,
        analytics::active_time_add,
        analytics::active_time_add_default,
        analytics::active_time_combine,
        analytics::active_time_serialize,
        analytics::active_time_deserialize,
        analytics::active_time_final,
        analytics::summarize_messages_add,
        analytics::summarize_messages_combine,
        analytics::summarize_messages_serialize,
        analytics::summarize_messages_deserialize,
        analytics::summarize_messages_final,
        analytics::summarize_tool_calls_add,
        analytics::summarize_tool_calls_combine,
        analytics::summarize_tool_calls_serialize,
        analytics::summarize_tool_calls_deserialize,
        analytics::summarize_tool_calls_final,
        analytics::compute_usage_blocks,
        analytics::response_cost
    ]
);
extension_sql_file!("../sql/99_grants.sql", name = "grants", finalize);

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
