//! In-database tests (`cargo pgrx test`): the Rust functions and triggers as PostgreSQL runs them.
//! Client-visible behaviour (security, constraints, dumps) is tested from outside in tests/client.

mod identity;
mod search_index;
mod threads;
mod tsvector;
