//! How searches are ranked: the `cco.ranking` value (a query's ranking terms with their document
//! frequencies, the corpus size and length, and the BM25 parameters), how it is made from the
//! index for what the caller may see, and the `<&>` operator that orders rows by it.
//!
//! The index orders a scan by the statistics in the ranking value it is given and
//! `cco.ranked_distance` scores single rows from the same value, so both give the same numbers.
//! Making the value is the only place statistics are read, and it covers only projects the caller
//! may read (`cco.search_scope`): a hand-made value can change how the caller's own rows are
//! ordered, nothing else.

use std::collections::BTreeSet;

use cco_core::search::{self, Bm25};
use cco_core::search_index::search::{statistics, Projects, Scorer};
use cco_core::search_index::segment::ProjectId;
use cco_core::tsvector::TsVectorView;
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::prelude::*;
use pgrx::{AllocatedByRust, PgSqlErrorCode, Uuid};

use super::index_error;
use super::maintenance::snapshot;
use crate::call_site_cache;
use crate::errors::{raise, required};
use crate::text_search_types::TsVector;

/// A ranking value, read.
pub struct Ranking {
    pub terms: Vec<Vec<u8>>,
    pub scorer: Scorer,
}

fn field<'t, T>(row: &'t PgHeapTuple<'_, AllocatedByRust>, name: &str) -> Option<T>
where
    T: FromDatum + IntoDatum + pgrx::datum::UnboxDatum<As<'t> = T> + 't,
{
    row.get_by_name::<T>(name).unwrap_or_else(|error| {
        raise(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!("not a cco.ranking value ({name}: {error})"),
        )
    })
}

impl Ranking {
    pub fn read(row: &PgHeapTuple<'_, AllocatedByRust>) -> Ranking {
        let terms: Vec<Vec<u8>> = field::<pgrx::Array<'_, &str>>(row, "terms")
            .map(|terms| {
                terms
                    .iter()
                    .flatten()
                    .map(|term| term.as_bytes().to_vec())
                    .collect()
            })
            .unwrap_or_default();
        let mut frequencies: Vec<u64> = field::<pgrx::Array<'_, i64>>(row, "frequencies")
            .map(|frequencies| {
                frequencies
                    .iter()
                    .map(|f| f.unwrap_or(0).max(0) as u64)
                    .collect()
            })
            .unwrap_or_default();
        frequencies.resize(terms.len(), 0);
        let documents = field::<i64>(row, "documents").unwrap_or(0).max(0) as u64;
        let total_length = field::<i64>(row, "total_length").unwrap_or(0).max(0) as u64;
        let bm25 = Bm25 {
            k1: field::<f64>(row, "k1").unwrap_or(1.2),
            b: field::<f64>(row, "b").unwrap_or(0.75),
        };
        Ranking {
            scorer: Scorer::new(bm25, documents, total_length, &frequencies),
            terms,
        }
    }

    /// The score of one search vector.
    pub fn score(&self, vector: &TsVector) -> f64 {
        let Ok(view) = TsVectorView::new(vector.payload()) else {
            return 0.0;
        };
        let frequencies: Vec<u32> = self
            .terms
            .iter()
            .map(|term| {
                view.find(term)
                    .ok()
                    .flatten()
                    .map_or(0, |lexeme| lexeme.frequency())
            })
            .collect();
        self.scorer
            .score(&frequencies, view.occurrences().unwrap_or(0))
    }
}

/// Orders rows by relevance: the negated BM25 score of a search vector under a ranking (so the
/// best match sorts first, as distances do).
///
/// Declared with its SQL arguments by hand: they are read from the call itself, so the ranking is
/// taken apart once per call site instead of once per row.
#[pg_extern(sql = "
    create function cco.ranked_distance(search_vector tsvector, ranking cco.ranking) returns double precision
        language c immutable parallel safe cost 1000 as 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
pub fn ranked_distance(fcinfo: pg_sys::FunctionCallInfo) -> f64 {
    // SAFETY: the call has the two arguments its SQL declaration names.
    unsafe {
        let args = (*fcinfo).args.as_slice(2);
        if args[0].isnull || args[1].isnull {
            return 0.0;
        }
        let Some(vector) = TsVector::from_datum(args[0].value, false) else {
            return 0.0;
        };
        let cached = cached_ranking((*fcinfo).flinfo, args[1].value);
        0.0 - cached.score(&vector)
    }
}

/// The ranking of a call site's argument, taken apart once per distinct ranking.
///
/// # Safety
/// `flinfo` is `ranked_distance`'s own, and `datum` a cco.ranking value.
unsafe fn cached_ranking<'a>(flinfo: *mut pg_sys::FmgrInfo, datum: pg_sys::Datum) -> &'a Ranking {
    unsafe {
        let header = pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr());
        let bytes = std::slice::from_raw_parts(
            pgrx::vardata_any(header) as *const u8,
            pgrx::varsize_any_exhdr(header),
        );
        call_site_cache::cached(flinfo, bytes, || {
            Ranking::read(&PgHeapTuple::from_composite_datum(datum))
        })
    }
}

/// Whether a project is within a search's scope: one of `scope`, or any project when `scope` is
/// NULL. The ranked index takes it as a condition on its project column (`project_id <@ scope`).
#[pg_extern(immutable, parallel_safe)]
fn in_scope(project: Option<Uuid>, scope: Option<pgrx::Array<'_, Uuid>>) -> bool {
    match (project, scope) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(project), Some(scope)) => scope.iter().any(|id| id == Some(project)),
    }
}

/// The ranking of a web-style query over the messages of some projects (`scope`; every project
/// when NULL), read from a cco_rank index: its terms, their document frequencies, the number of
/// messages and their total length. Not for API roles: `cco.message_ranking` calls it with the
/// projects the caller may read.
#[pg_extern(stable, parallel_safe)]
fn ranking_within(
    index: Option<pgrx::PgRelation>,
    search_query: Option<&str>,
    scope: Option<Vec<Option<Uuid>>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> pgrx::composite_type!('static, "cco.ranking") {
    let index = required(index, "index");
    let relation = super::rank_index(&index);
    let terms: Vec<String> = search::parse_query(search_query.unwrap_or("")).positive_terms();
    let projects = match scope {
        None => Projects::All,
        Some(ids) => Projects::Only(
            ids.into_iter()
                .flatten()
                .map(|id| *id.as_bytes())
                .collect::<BTreeSet<ProjectId>>(),
        ),
    };
    let term_bytes: Vec<Vec<u8>> = terms.iter().map(|term| term.as_bytes().to_vec()).collect();
    let statistics = snapshot(relation, &projects)
        .and_then(|snapshot| {
            statistics(
                &snapshot.pages(relation),
                &snapshot.segments,
                &snapshot.pending,
                &projects,
                &term_bytes,
            )
        })
        .unwrap_or_else(|error| index_error(error));
    // The declared result type: cheaper than looking the name up (which parses it) every call.
    // SAFETY: a call's own function information.
    let ranking_type = unsafe { pg_sys::get_fn_expr_rettype((*fcinfo).flinfo) };
    let mut row = PgHeapTuple::new_composite_type_by_oid(ranking_type).unwrap_or_else(|error| {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("cco.ranking: {error}"),
        )
    });
    let frequencies: Vec<i64> = statistics.frequencies.iter().map(|&f| f as i64).collect();
    set(&mut row, "terms", terms);
    set(&mut row, "frequencies", frequencies);
    set(&mut row, "documents", statistics.documents as i64);
    set(&mut row, "total_length", statistics.total_length as i64);
    set(&mut row, "k1", 1.2f64);
    set(&mut row, "b", 0.75f64);
    row
}

fn set<T: IntoDatum>(row: &mut PgHeapTuple<'_, AllocatedByRust>, name: &str, value: T) {
    row.set_by_name(name, value).unwrap_or_else(|error| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("cco.ranking.{name}: {error}"),
        )
    });
}
