//! In-database tests (`cargo pgrx test`): the Rust functions and triggers as PostgreSQL runs them.

mod threads;
