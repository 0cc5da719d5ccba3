//! Technical-content search: a tokenizer that understands code, the index form PostgreSQL stores,
//! a web-style query parser, a highlighter safe for the web, and BM25 ranking.

pub mod bm25;
pub mod document;
pub mod highlight;
pub mod query;
pub mod stopwords;
pub mod suggest;
pub mod tokenizer;

pub use bm25::{Bm25, CorpusStats};
pub use document::{index_document, IndexedDocument, IndexedLexeme};
pub use highlight::{highlight, HighlightOptions};
pub use query::{lexeme_tsquery_text, parse_query, Node, Query};
pub use suggest::{completions, suggestion_query, SuggestionQuery};
pub use tokenizer::{terms, tokenize, Token, TokenKind};
