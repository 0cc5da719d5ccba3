//! Technical-content search in SQL: the tokenizer, tsvector and tsquery builders, BM25 ranking and
//! highlighting of `cco_core::search`, exposed as functions the SQL search API (sql/06_search.sql)
//! is written with.

use cco_core::search::{self, Bm25, CorpusStats, HighlightOptions};
use cco_core::tsvector::TsVectorView;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use crate::call_site_cache;
use crate::errors::{raise, required};
use crate::text_search_types::{TsQuery, TsVector};

/// The terms of `content` as the search index sees them, in order.
#[pg_extern(immutable, strict, parallel_safe)]
fn tokenize(content: &str) -> Vec<String> {
    search::terms(content)
}

/// The search vector of a text: its terms with positions, as stored in `messages.search_vector`.
#[pg_extern(immutable, strict, parallel_safe, name = "to_tsvector")]
fn text_to_tsvector(content: &str) -> TsVector {
    let payload = search::index_document(content)
        .to_tsvector_payload()
        .unwrap_or_else(|error| {
            // index_document keeps every tsvector limit, so this is a bug, not bad input.
            raise(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                format!("could not build a search vector: {error}"),
            )
        });
    TsVector::from_payload(&payload)
}

/// Web-style search syntax to a tsquery. Never raises: input without anything searchable gives the
/// empty query, which matches nothing.
///
/// Under a generic plan a call like `cco.to_tsquery($1)` in a join condition runs once per
/// candidate row with the same text: the query is parsed once per call site and text, and each
/// row gets a copy of the result.
#[pg_extern(immutable, strict, parallel_safe, name = "to_tsquery")]
fn text_to_tsquery(query: &str, fcinfo: pg_sys::FunctionCallInfo) -> TsQuery {
    // SAFETY: the call's own function information; nothing else uses its fn_extra.
    let payload: &Vec<u8> = unsafe {
        call_site_cache::cached((*fcinfo).flinfo, query.as_bytes(), || {
            TsQuery::from_text(&search::parse_query(query).to_tsquery_text())
                .payload()
                .to_vec()
        })
    };
    TsQuery::from_payload(payload)
}

/// A tsquery matching exactly one lexeme (as stored in search vectors).
#[pg_extern(immutable, strict, parallel_safe)]
fn lexeme_tsquery(lexeme: &str) -> TsQuery {
    TsQuery::from_text(&search::lexeme_tsquery_text(lexeme))
}

/// The lexemes of a query that count for ranking (those not excluded).
#[pg_extern(immutable, strict, parallel_safe)]
fn query_terms(query: &str) -> Vec<String> {
    search::parse_query(query).positive_terms()
}

/// The document length BM25 uses: how many term occurrences a search vector holds.
#[pg_extern(immutable, strict, parallel_safe)]
fn search_length(search_vector: TsVector) -> i32 {
    TsVectorView::new(search_vector.payload())
        .and_then(|view| view.occurrences())
        .map_or(0, |occurrences| {
            i32::try_from(occurrences).unwrap_or(i32::MAX)
        })
}

/// BM25 score of a search vector for query terms, given each term's document frequency and the
/// corpus size and average length.
#[pg_extern(immutable, parallel_safe)]
fn rank(
    search_vector: Option<TsVector>,
    // Borrowed arrays: this runs once per matching message, and the arguments are the same for
    // every one of them, so nothing is copied out of them.
    terms: Option<Array<'_, &str>>,
    document_frequencies: Option<Array<'_, i64>>,
    document_count: Option<i64>,
    average_length: Option<f64>,
    k1: default!(Option<f64>, 1.2),
    b: default!(Option<f64>, 0.75),
) -> f32 {
    let (k1, b) = (required(k1, "k1"), required(b, "b"));
    let (Some(vector), Some(terms)) = (search_vector, terms) else {
        return 0.0;
    };
    let Ok(view) = TsVectorView::new(vector.payload()) else {
        return 0.0;
    };
    let corpus = CorpusStats {
        documents: document_count.unwrap_or(0) as f64,
        average_length: average_length.unwrap_or(0.0),
    };
    let matches = terms.iter().enumerate().filter_map(|(index, term)| {
        let lexeme = view.find(term?.as_bytes()).ok()??;
        let df = document_frequencies
            .as_ref()
            .and_then(|frequencies| frequencies.get(index).flatten())
            .unwrap_or(1) as f64;
        Some((lexeme.frequency(), df))
    });
    let length = view.occurrences().unwrap_or(0);
    Bm25 { k1, b }.score(matches.collect::<Vec<_>>(), length, &corpus)
}

/// The best fragments of `content` with every occurrence of the query's terms wrapped in the
/// markers. With HTML markers (starting with `<`) the rest is HTML-escaped.
#[pg_extern(immutable, parallel_safe)]
fn highlight(
    content: Option<&str>,
    query: Option<&str>,
    start_sel: default!(Option<&str>, "'<mark>'"),
    stop_sel: default!(Option<&str>, "'</mark>'"),
    max_words: default!(Option<i32>, 35),
    max_fragments: default!(Option<i32>, 3),
) -> Option<String> {
    let (start_sel, stop_sel) = (
        required(start_sel, "start_sel"),
        required(stop_sel, "stop_sel"),
    );
    let (max_words, max_fragments) = (
        required(max_words, "max_words"),
        required(max_fragments, "max_fragments"),
    );
    let content = content?;
    if max_words < 1 || max_fragments < 0 {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("max_words must be at least 1 and max_fragments at least 0 (got {max_words} and {max_fragments})"),
        );
    }
    let options = HighlightOptions {
        start_sel: start_sel.to_owned(),
        stop_sel: stop_sel.to_owned(),
        max_words: max_words as usize,
        max_fragments: max_fragments as usize,
        ..HighlightOptions::default()
    };
    Some(search::highlight(
        content,
        &search::parse_query(query.unwrap_or("")),
        &options,
    ))
}

/// How to find completions of a partial query: the tsquery of candidate messages, the finished
/// words, and the word being typed.
#[pg_extern(immutable, strict, parallel_safe)]
fn suggestion_query(
    partial_query: &str,
) -> TableIterator<
    'static,
    (
        name!(tsquery, TsQuery),
        name!(head, String),
        name!(prefix, String),
    ),
> {
    let query = search::suggestion_query(partial_query);
    TableIterator::once((
        TsQuery::from_text(&query.tsquery_text),
        query.head,
        query.prefix,
    ))
}

/// Words and compounds of `content` starting with `prefix`, spelled as in the content.
#[pg_extern(immutable, strict, parallel_safe)]
fn completions(content: &str, prefix: &str, limit_count: default!(i32, 20)) -> Vec<String> {
    search::completions(content, prefix, limit_count.max(0) as usize)
}
