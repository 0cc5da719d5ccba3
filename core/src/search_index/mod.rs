//! The ranked search index: an inverted index whose posting lists carry term frequencies,
//! document lengths and per-block score bounds, so that the best BM25 matches of a query are found
//! without reading every matching document (block-max pruning), and whose statistics are kept per
//! project, so a search ranks with the frequencies of the projects the caller may see.
//!
//! It is a log-structured index. New documents are appended to a pending list; a full pending
//! list is written out as an immutable segment; segments are merged as they accumulate, leaving
//! deleted documents behind. Everything lives in records in pages (`pages`), so the extension can
//! keep it in PostgreSQL buffers with write-ahead logging (src/search_index), while this crate
//! tests it in memory.
//!
//! - `pages`: records packed in pages, pointers, the page traits
//! - `encoding`: varints and a checked reader
//! - `btree`: static B+trees (term dictionary, project table)
//! - `postings`: document keys, posting blocks with impacts, cursors
//! - `segment`, `merge`: building, reading and merging segments
//! - `pending`: the pending list's page format
//! - `meta`: the index's root page
//! - `search`: matching a tsquery, ranking, statistics, top-k
//! - `verify`: checking every invariant of an index from its pages (amcheck-style)

pub mod btree;
pub mod deleted;
pub mod encoding;
pub mod merge;
pub mod meta;
pub mod pages;
pub mod pending;
pub mod policy;
pub mod postings;
pub mod search;
pub mod segment;
pub mod verify;

use std::fmt;

/// Why the index could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexError {
    /// The stored bytes are not what the index writes: a damaged index (REINDEX rebuilds it).
    Corrupt(&'static str),
    /// Something exceeds what the format can hold.
    TooLarge(&'static str),
    /// A caller broke a rule of the API (a bug in the caller, never bad user input).
    Invalid(&'static str),
    /// The storage underneath failed.
    Storage(String),
}

impl fmt::Display for IndexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexError::Corrupt(what) => write!(
                f,
                "the search index is damaged ({what}); REINDEX rebuilds it"
            ),
            IndexError::TooLarge(what) => write!(f, "the search index cannot hold this: {what}"),
            IndexError::Invalid(what) => write!(f, "search index misuse: {what}"),
            IndexError::Storage(what) => write!(f, "search index storage: {what}"),
        }
    }
}

impl std::error::Error for IndexError {}
