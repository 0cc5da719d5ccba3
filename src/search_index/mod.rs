//! `cco_rank`: the ranked search index as a PostgreSQL index access method.
//!
//! The index itself (segments, postings with score bounds, merging, top-k search) is pure Rust in
//! `cco_core::search_index`; this module keeps it in the index relation's pages and answers
//! PostgreSQL's index API:
//!
//! - `storage`: pages, buffers, WAL, free space, the pending list
//! - `maintenance`: flushing, merging, recording deletions, reading a snapshot
//! - `scan`: `@@` conditions and `<&>` ordering
//! - `ranking`: the `cco.ranking` value, `cco.message_ranking` and the ordering operator
//! - `verify`: `cco.verify_rank_index`, an amcheck-style check of an index and its table
//!
//! The index has two columns: the row's project (opclass `cco.uuid_rank_ops`), so a search
//! restricted to projects reads only theirs, and the search vector (`cco.tsvector_rank_ops`).
//! The project comes first because PostgreSQL gives up an index's ordering when an `= any`
//! condition is on a later column.

mod maintenance;
pub(crate) mod ranking;
mod scan;
mod storage;
pub(crate) mod verify;

use cco_core::search_index::postings::Tid;
use cco_core::search_index::segment::{build_segment, Document, SegmentLocation};
use cco_core::search_index::IndexError;
use cco_core::tsvector::TsVectorView;
use pgrx::prelude::*;
use pgrx::{pg_sys, PgSqlErrorCode};

use crate::errors::raise;
use maintenance::{after_insert, live_documents, record_deletions, tidy, MaintenanceLock};
use storage::{initialize, read_meta, IndexPages};

/// The relation of a cco_rank index, or an error naming what it is instead.
pub(crate) fn rank_index(index: &pgrx::PgRelation) -> pg_sys::Relation {
    let relation = index.as_ptr();
    // SAFETY: an open relation; get_am_name reads the syscache (NULL for a relation without one).
    let method = unsafe {
        let name = pg_sys::get_am_name((*(*relation).rd_rel).relam);
        (!name.is_null()).then(|| {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        })
    };
    if method.as_deref() != Some("cco_rank") {
        raise(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("{} is not a cco_rank index", index.name()),
        );
    }
    relation
}

/// Reports an index failure with the SQLSTATE that says what kind it is.
pub(crate) fn index_error(error: IndexError) -> ! {
    let code = match &error {
        IndexError::Corrupt(_) => PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        IndexError::TooLarge(_) => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        IndexError::Invalid(_) | IndexError::Storage(_) => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    };
    raise(code, error.to_string())
}

fn tid_of(pointer: &pg_sys::ItemPointerData) -> Tid {
    Tid {
        block: (u32::from(pointer.ip_blkid.bi_hi) << 16) | u32::from(pointer.ip_blkid.bi_lo),
        offset: pointer.ip_posid,
    }
}

/// Which of an index's columns holds what: a project (optional) and the search vector.
#[derive(Clone, Copy)]
pub(crate) struct Columns {
    /// Zero-based; `None` when the index has no project column (every row is one project's).
    pub project: Option<usize>,
    pub vector: usize,
}

impl Columns {
    /// Reads the index's column types; raises for an index the access method cannot serve.
    pub fn of(index: pg_sys::Relation) -> Columns {
        // SAFETY: an open index relation; its tuple descriptor lives as long as the relation.
        // PgTupleDesc reads the attributes wherever the major version keeps them (PostgreSQL 18
        // put compact attributes in front of them).
        let types: Vec<pg_sys::Oid> =
            unsafe { pgrx::PgTupleDesc::from_pg_unchecked((*index).rd_att) }
                .iter()
                .map(|attribute| attribute.atttypid)
                .collect();
        match types.as_slice() {
            [vector] if *vector == pg_sys::TSVECTOROID => Columns { project: None, vector: 0 },
            [project, vector] if *project == pg_sys::UUIDOID && *vector == pg_sys::TSVECTOROID => Columns { project: Some(0), vector: 1 },
            _ => raise(
                PgSqlErrorCode::ERRCODE_INVALID_OBJECT_DEFINITION,
                "a cco_rank index takes a tsvector column, optionally after a uuid column naming the row's project",
            ),
        }
    }
}

/// The document an index entry stands for: the search vector's terms and length, the project.
///
/// # Safety
/// `values` and `isnull` hold the index's columns, as `columns` describes them.
unsafe fn document(
    columns: Columns,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    tid: Tid,
) -> Document {
    unsafe {
        let project = match columns.project {
            Some(at) if !*isnull.add(at) => {
                pgrx::Uuid::from_datum(*values.add(at), false).map_or([0; 16], |id| *id.as_bytes())
            }
            _ => [0; 16],
        };
        if *isnull.add(columns.vector) {
            return Document::new(tid, project, 0);
        }
        let vector =
            crate::text_search_types::TsVector::from_datum(*values.add(columns.vector), false)
                .expect("a non-null tsvector");
        let view = TsVectorView::new(vector.payload()).unwrap_or_else(|error| {
            raise(
                PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                format!("a search vector is damaged: {error}"),
            )
        });
        let mut terms: Vec<(&[u8], u32, Vec<u16>)> = Vec::with_capacity(view.len());
        for lexeme in view.lexemes() {
            let lexeme = lexeme.unwrap_or_else(|error| {
                raise(
                    PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
                    format!("a search vector is damaged: {error}"),
                )
            });
            let mut positions: Vec<u16> = lexeme.positions().collect();
            positions.sort_unstable();
            positions.dedup();
            terms.push((lexeme.text, lexeme.frequency(), positions));
        }
        terms.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut document = Document::new(tid, project, view.occurrences().unwrap_or(0));
        for (term, frequency, positions) in terms {
            // tsvector lexemes are distinct, so the sorted terms ascend strictly.
            document
                .push_term_at(term, frequency, &positions)
                .unwrap_or_else(|error| index_error(error));
        }
        document
    }
}

#[pg_extern(sql = "
    create function cco.rank_index_handler(internal) returns index_am_handler
        language c strict as 'MODULE_PATHNAME', '@FUNCTION_NAME@';
")]
fn rank_index_handler(_fcinfo: pg_sys::FunctionCallInfo) -> pgrx::datum::Internal {
    // SAFETY: a zeroed node of the right type, filled in below and returned to PostgreSQL.
    unsafe {
        let routine = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexAmRoutine>())
            as *mut pg_sys::IndexAmRoutine;
        let am = &mut *routine;
        am.type_ = pg_sys::NodeTag::T_IndexAmRoutine;
        am.amstrategies = 0;
        am.amsupport = 0;
        am.amcanorder = false;
        am.amcanorderbyop = true;
        am.amcanbackward = false;
        am.amcanunique = false;
        am.amcanmulticol = true;
        am.amoptionalkey = true;
        am.amsearcharray = true;
        am.amsearchnulls = false;
        am.amstorage = false;
        am.amclusterable = false;
        am.ampredlocks = false;
        am.amcanparallel = false;
        am.amcaninclude = false;
        am.amusemaintenanceworkmem = true;
        am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
        am.amkeytype = pg_sys::InvalidOid;
        am.ambuild = Some(ambuild);
        am.ambuildempty = Some(ambuildempty);
        am.aminsert = Some(aminsert);
        am.ambulkdelete = Some(ambulkdelete);
        am.amvacuumcleanup = Some(amvacuumcleanup);
        am.amcostestimate = Some(amcostestimate);
        am.amoptions = Some(amoptions);
        am.amvalidate = Some(amvalidate);
        am.ambeginscan = Some(scan::ambeginscan);
        am.amrescan = Some(scan::amrescan);
        am.amgettuple = Some(scan::amgettuple);
        am.amgetbitmap = Some(scan::amgetbitmap);
        am.amendscan = Some(scan::amendscan);
        pgrx::datum::Internal::from(Some(pg_sys::Datum::from(routine)))
    }
}

struct BuildState {
    index: pg_sys::Relation,
    columns: Columns,
    batch: Vec<Document>,
    batch_limit: usize,
    segments: Vec<SegmentLocation>,
    tuples: f64,
}

impl BuildState {
    fn write_batch(&mut self) {
        let documents = std::mem::take(&mut self.batch);
        if let Some(location) = build_segment(&IndexPages::new(self.index), documents)
            .unwrap_or_else(|error| index_error(error))
        {
            self.segments.push(location);
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn build_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: called by table_index_build_scan with our state and the row's index values.
    unsafe {
        let state = &mut *(state as *mut BuildState);
        state
            .batch
            .push(document(state.columns, values, isnull, tid_of(&*tid)));
        state.tuples += 1.0;
        if state.batch.len() >= state.batch_limit {
            state.write_batch();
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    info: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    // SAFETY: PostgreSQL's build protocol: an empty index, the table scanned once.
    unsafe {
        let columns = Columns::of(index);
        initialize(index).unwrap_or_else(|error| index_error(error));
        // Documents held in memory before a segment is written: about 4 kB each.
        let budget = (pg_sys::maintenance_work_mem as usize).saturating_mul(1024);
        let mut state = BuildState {
            index,
            columns,
            batch: Vec::new(),
            batch_limit: (budget / 4096).max(1024),
            segments: Vec::new(),
            tuples: 0.0,
        };
        let heap_tuples = pg_sys::table_index_build_scan(
            heap,
            index,
            info,
            true,
            true,
            Some(build_callback),
            (&mut state as *mut BuildState).cast(),
            std::ptr::null_mut(),
        );
        state.write_batch();
        let locked = storage::Locked::exclusive(index, storage::META_BLOCK);
        let mut meta = cco_core::search_index::meta::Meta::decode(locked.data())
            .unwrap_or_else(|error| index_error(error));
        for location in &state.segments {
            meta.segments
                .push(cco_core::search_index::meta::SegmentEntry {
                    id: meta.next_segment_id,
                    header: location.header,
                    pages: location.pages,
                    documents: location.documents,
                    deleted: cco_core::search_index::pages::Pointer::NONE,
                    deleted_documents: 0,
                });
            meta.next_segment_id += 1;
        }
        storage::write_meta(index, &locked, &meta).unwrap_or_else(|error| index_error(error));
        drop(locked);
        let lock = MaintenanceLock::acquire(index);
        maintenance::merge_due(index, None, &lock).unwrap_or_else(|error| index_error(error));
        drop(lock);
        let result = pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBuildResult>())
            as *mut pg_sys::IndexBuildResult;
        (*result).heap_tuples = heap_tuples;
        (*result).index_tuples = state.tuples;
        result
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    let _ = index;
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "the cco_rank index does not support unlogged tables",
    );
}

#[pg_guard]
#[allow(clippy::too_many_arguments)] // PostgreSQL's signature
unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    _unchanged: bool,
    _info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: the row's index values and tuple id, as PostgreSQL passes them.
    unsafe {
        let document = document(Columns::of(index), values, isnull, tid_of(&*heap_tid));
        let pending =
            storage::append_pending(index, &document).unwrap_or_else(|error| index_error(error));
        if pending >= cco_core::search_index::policy::FLUSH_DOCUMENTS {
            after_insert(index).unwrap_or_else(|error| index_error(error));
        }
    }
    false
}

#[pg_guard]
unsafe extern "C-unwind" fn ambulkdelete(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: vacuum's protocol; the callback says which tuple ids are dead.
    unsafe {
        let index = (*info).index;
        let stats = if stats.is_null() {
            pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>())
                as *mut pg_sys::IndexBulkDeleteResult
        } else {
            stats
        };
        let Some(callback) = callback else {
            return stats;
        };
        let lock = MaintenanceLock::acquire(index);
        let (removed, remaining) = record_deletions(
            index,
            |tid| {
                let mut pointer = pg_sys::ItemPointerData::default();
                pointer.ip_blkid.bi_hi = (tid.block >> 16) as u16;
                pointer.ip_blkid.bi_lo = (tid.block & 0xffff) as u16;
                pointer.ip_posid = tid.offset;
                callback(&mut pointer, callback_state)
            },
            &lock,
        )
        .unwrap_or_else(|error| index_error(error));
        drop(lock);
        (*stats).tuples_removed += removed as f64;
        (*stats).num_index_tuples = remaining as f64;
        stats
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn amvacuumcleanup(
    info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: vacuum's protocol.
    unsafe {
        if (*info).analyze_only {
            return stats;
        }
        let index = (*info).index;
        let stats = if stats.is_null() {
            pg_sys::palloc0(std::mem::size_of::<pg_sys::IndexBulkDeleteResult>())
                as *mut pg_sys::IndexBulkDeleteResult
        } else {
            stats
        };
        let lock = MaintenanceLock::acquire(index);
        tidy(index, &lock).unwrap_or_else(|error| index_error(error));
        drop(lock);
        let free = storage::free_page_count(index).unwrap_or_else(|error| index_error(error));
        let meta = read_meta(index).unwrap_or_else(|error| index_error(error));
        (*stats).num_index_tuples = live_documents(&meta) as f64;
        (*stats).estimated_count = false;
        (*stats).num_pages =
            pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM);
        (*stats).pages_free = free as u32;
        stats
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)] // PostgreSQL's signature
unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup_cost: *mut pg_sys::Cost,
    total_cost: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: the planner's protocol.
    unsafe {
        // The index is for searching: without a condition on the search vector and without a
        // ranking it would list a whole project's rows, which other indexes do better.
        let info = (*path).indexinfo;
        let vector_column = (0..(*info).ncolumns as usize)
            .find(|&at| *(*info).opcintype.add(at) == pg_sys::TSVECTOROID);
        let searches = pgrx::PgList::<pg_sys::IndexClause>::from_pg((*path).indexclauses)
            .iter_ptr()
            .any(|clause| Some((*clause).indexcol as usize) == vector_column);
        if !searches && (*path).indexorderbys.is_null() {
            *startup_cost = 1.0e10;
            *total_cost = 1.0e10;
            *selectivity = 1.0;
            *correlation = 0.0;
            *pages = 0.0;
            return;
        }
        let mut costs = pg_sys::GenericCosts::default();
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        *selectivity = costs.indexSelectivity;
        *correlation = 0.0;
        if (*path).indexorderbys.is_null() {
            *startup_cost = costs.indexStartupCost;
            *total_cost = costs.indexTotalCost;
            *pages = costs.numIndexPages;
            return;
        }
        // A ranked scan reads a few blocks per query term and segment, whatever the number of
        // matches, and hands rows over already ordered: no sort, and no score computed for rows
        // that are not returned. Sorting matches by score instead costs a score per match.
        let segments_and_terms = 64.0;
        *startup_cost = segments_and_terms * pg_sys::cpu_operator_cost;
        *total_cost = *startup_cost + costs.numIndexTuples * pg_sys::cpu_index_tuple_cost;
        *pages = segments_and_terms.min(costs.numIndexPages);
        // The planner prices the heap rows of an index scan from its selectivity, and a
        // correlation of 0 prices each as a random page. A generic plan (cco.search_messages
        // plans once for every query) knows neither how many rows match nor the LIMIT, assumes
        // few, and with a filter or two more, priced that way, found a bitmap scan and a sort
        // cheaper: one that scores and sorts every match (131 ms instead of 1.3 ms for a common
        // word in 200,000 messages). A ranked scan reads heap rows only as its LIMIT takes them,
        // so their pages are priced as if read in order, which keeps it ahead of any plan that
        // must score all matches to order them.
        *correlation = 1.0;
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    if validate && !reloptions.is_null() {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "the cco_rank index takes no storage parameters",
        );
    }
    std::ptr::null_mut()
}

#[pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// Writes the pending list out and merges the index's segments into one: searches read one
/// segment instead of several. VACUUM does the ordinary part of this work by itself.
#[pg_extern(volatile, parallel_unsafe)]
fn optimize_rank_index(index: pgrx::PgRelation) {
    {
        let relation = rank_index(&index);
        let lock = MaintenanceLock::acquire(relation);
        maintenance::optimize(relation, &lock).unwrap_or_else(|error| index_error(error));
    }
}

/// The segments of a cco_rank index: documents, deletions and where the bytes go. Reads the whole
/// index; for sizing and diagnosis.
#[pg_extern(volatile, parallel_unsafe)]
#[allow(clippy::type_complexity)] // the SQL result's columns
fn rank_index_segments(
    index: pgrx::PgRelation,
) -> TableIterator<
    'static,
    (
        name!(segment, i64),
        name!(documents, i64),
        name!(deleted, i64),
        name!(terms, i64),
        name!(inline_terms, i64),
        name!(postings, i64),
        name!(block_bytes, i64),
        name!(directory_bytes, i64),
        name!(dictionary_bytes, i64),
    ),
> {
    let relation = rank_index(&index);
    let pages = IndexPages::new(relation);
    let meta = read_meta(relation).unwrap_or_else(|error| index_error(error));
    let mut rows = Vec::new();
    for entry in &meta.segments {
        let segment = cco_core::search_index::segment::Segment::open(&pages, entry.header)
            .unwrap_or_else(|error| index_error(error));
        let census = cco_core::search_index::segment::census(&segment)
            .unwrap_or_else(|error| index_error(error));
        rows.push((
            entry.id as i64,
            entry.documents as i64,
            entry.deleted_documents as i64,
            census.terms as i64,
            census.inline_terms as i64,
            census.postings as i64,
            census.block_bytes as i64,
            census.directory_bytes as i64,
            census.dictionary_bytes as i64,
        ));
    }
    TableIterator::new(rows)
}
