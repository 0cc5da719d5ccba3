//! Index scans. A scan may carry `@@` conditions (what must match) and one `<&>` ordering (how to
//! rank). Ordered scans return the best matches first, a batch at a time: the first batch is the
//! top 100, each later one four times larger, starting after the last result returned (so rows
//! that row level security or other conditions filter out cost only another batch). A scan with
//! no condition, ordered, goes on to return every other row at distance 0, as an ordered scan
//! must return every row.
//!
//! A caller subject to row level security on the indexed table is confined, inside the scan, to
//! the projects cco's policies let them read (`cco.readable_project_ids()`): the index never hands
//! PostgreSQL another project's rows for the policy to filter out afterwards, which would make the
//! number of rows fetched (EXPLAIN ANALYZE, pg_stat_*_tables) an oracle of other tenants' words.

use std::collections::VecDeque;

use cco_core::search_index::postings::Tid;
use cco_core::search_index::search::{matching, top, Plan, Projects, Ranked, TopRequest};
use cco_core::search_index::segment::ProjectId;
use cco_core::tsquery;
use pgrx::heap_tuple::PgHeapTuple;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, Uuid};
use std::collections::BTreeSet;

use super::index_error;
use super::maintenance::{snapshot, Snapshot};
use super::ranking::Ranking;
use crate::text_search_types::TsQuery;

const FIRST_BATCH: usize = 100;
/// `project_id <@ scope` (cco.uuid_rank_ops strategy 2): in the array, or anywhere when NULL.
const IN_SCOPE_STRATEGY: u16 = 2;
const LARGEST_BATCH: usize = 1 << 16;

enum Phase {
    Start,
    Ranked,
    Rest,
    Done,
}

struct ScanState {
    /// The projects the caller may read, when row level security applies to them; set once per
    /// scan, kept across rescans.
    caller_scope: Option<BTreeSet<ProjectId>>,
    plan: Option<Plan>,
    /// The plan decides the conditions exactly: PostgreSQL need not recheck rows.
    exact: bool,
    projects: Projects,
    ranking: Option<Ranking>,
    ordered: bool,
    snapshot: Option<Snapshot>,
    queue: VecDeque<(Tid, f64)>,
    after: Option<Ranked>,
    batch: usize,
    exhausted: bool,
    phase: Phase,
}

impl ScanState {
    fn new() -> ScanState {
        ScanState {
            caller_scope: None,
            plan: None,
            exact: true,
            projects: Projects::All,
            ranking: None,
            ordered: false,
            snapshot: None,
            queue: VecDeque::new(),
            after: None,
            batch: FIRST_BATCH,
            exhausted: false,
            phase: Phase::Start,
        }
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: PostgreSQL's own scan descriptor; the state lives in the scan's memory context and is
    // dropped with it, also when the query fails.
    unsafe {
        let scan = pg_sys::RelationGetIndexScan(index, nkeys, norderbys);
        if norderbys > 0 {
            (*scan).xs_orderbyvals =
                pg_sys::palloc0(std::mem::size_of::<pg_sys::Datum>() * norderbys as usize).cast();
            (*scan).xs_orderbynulls =
                pg_sys::palloc0(std::mem::size_of::<bool>() * norderbys as usize).cast();
        }
        let mut state = ScanState::new();
        if super::Columns::of(index).project.is_some() {
            state.caller_scope = caller_scope(index);
        }
        let state = PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*scan).opaque = state.cast();
        scan
    }
}

/// The projects the caller may read when row level security applies to them on the indexed table
/// (no BYPASSRLS, not its owner or a superuser, row security enabled), `None` otherwise. The
/// service role sees every project, as the policies say.
fn caller_scope(index: pg_sys::Relation) -> Option<BTreeSet<ProjectId>> {
    // SAFETY: an open index relation has its pg_index row.
    let table = unsafe { (*(*index).rd_index).indrelid };
    // SAFETY: a plain catalog check for the current user; with noError it does not raise.
    let rls = unsafe { pg_sys::check_enable_rls(table, pg_sys::InvalidOid, true) };
    if rls != pg_sys::CheckEnableRlsResult::RLS_ENABLED as i32 || crate::identity::is_service_role()
    {
        return None;
    }
    let readable = Spi::get_one::<Vec<Option<Uuid>>>("select cco.readable_project_ids()")
        .ok()
        .flatten()
        .unwrap_or_default();
    Some(
        readable
            .into_iter()
            .flatten()
            .map(|id| *id.as_bytes())
            .collect(),
    )
}

/// The relaxed query of a tsquery condition, and whether it is exact (no recheck needed).
fn decode_tsquery(datum: pg_sys::Datum) -> (Plan, bool) {
    // SAFETY: a non-null tsquery argument.
    let Some(query) = (unsafe { TsQuery::from_datum(datum, false) }) else {
        return (Plan::Nothing, true);
    };
    // A query the reader cannot take apart matches anything here; PostgreSQL rechecks every row.
    tsquery::decode(query.payload()).map_or((Plan::Everything, false), |query| {
        Plan::from_tsquery_exactly(&query)
    })
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: the arrays hold as many keys as PostgreSQL says; the scan's own arrays were sized
    // for them in ambeginscan.
    unsafe {
        let scan = &mut *scan;
        if !keys.is_null() && nkeys > 0 {
            std::ptr::copy(keys, scan.keyData, nkeys as usize);
        }
        if !orderbys.is_null() && norderbys > 0 {
            std::ptr::copy(orderbys, scan.orderByData, norderbys as usize);
        }
        let state = &mut *(scan.opaque as *mut ScanState);
        let caller_scope = state.caller_scope.take();
        *state = ScanState::new();
        if let Some(readable) = &caller_scope {
            state.projects = Projects::Only(readable.clone());
        }
        state.caller_scope = caller_scope;
        let mut plans = Vec::new();
        let project_column = super::Columns::of(scan.indexRelation)
            .project
            .map(|at| at as i16 + 1);
        let keys: &[pg_sys::ScanKeyData] = if scan.keyData.is_null() || scan.numberOfKeys <= 0 {
            &[]
        } else {
            std::slice::from_raw_parts(scan.keyData, scan.numberOfKeys as usize)
        };
        for key in keys {
            let null = key.sk_flags & pg_sys::SK_ISNULL as i32 != 0;
            if Some(key.sk_attno) == project_column {
                if null && key.sk_strategy == IN_SCOPE_STRATEGY {
                    continue; // project <@ NULL: every project
                }
                let wanted: BTreeSet<ProjectId> = if null {
                    BTreeSet::new()
                } else {
                    projects_of(key)
                };
                state.projects = match std::mem::replace(&mut state.projects, Projects::All) {
                    Projects::All => Projects::Only(wanted),
                    Projects::Only(known) => {
                        Projects::Only(known.intersection(&wanted).copied().collect())
                    }
                };
            } else if null {
                plans.push(Plan::Nothing);
            } else {
                let (plan, exact) = decode_tsquery(key.sk_argument);
                state.exact &= exact;
                plans.push(plan);
            }
        }
        state.plan = match plans.len() {
            0 => None,
            1 => plans.pop(),
            _ => Some(Plan::And(plans, Vec::new())),
        };
        if scan.numberOfOrderBys > 0 {
            state.ordered = true;
            let key = &*scan.orderByData;
            if key.sk_flags & pg_sys::SK_ISNULL as i32 == 0 {
                let row = PgHeapTuple::from_composite_datum(key.sk_argument);
                state.ranking = Some(Ranking::read(&row));
            }
        }
    }
}

/// The project ids a condition on the project column names: one, or an array (`= any`, `<@`).
unsafe fn projects_of(key: &pg_sys::ScanKeyData) -> BTreeSet<ProjectId> {
    // SAFETY: the argument of a uuid condition is a uuid, or a uuid array for `= any` and `<@`.
    unsafe {
        if key.sk_flags & pg_sys::SK_SEARCHARRAY as i32 != 0 || key.sk_strategy == IN_SCOPE_STRATEGY
        {
            let ids: Vec<Option<Uuid>> =
                Vec::from_datum(key.sk_argument, false).unwrap_or_default();
            ids.into_iter().flatten().map(|id| *id.as_bytes()).collect()
        } else {
            Uuid::from_datum(key.sk_argument, false)
                .map(|id| *id.as_bytes())
                .into_iter()
                .collect()
        }
    }
}

fn set_tid(pointer: &mut pg_sys::ItemPointerData, tid: Tid) {
    pointer.ip_blkid.bi_hi = (tid.block >> 16) as u16;
    pointer.ip_blkid.bi_lo = (tid.block & 0xffff) as u16;
    pointer.ip_posid = tid.offset;
}

impl ScanState {
    fn next_batch(&mut self, index: pg_sys::Relation) {
        let snapshot = self.snapshot.as_ref().expect("read before the first batch");
        let pages = snapshot.pages(index);
        let Some(ranking) = &self.ranking else {
            self.exhausted = true;
            return;
        };
        let (projects, terms, scorer) = (&self.projects, ranking.terms.as_slice(), &ranking.scorer);
        let candidates = match &self.plan {
            Some(plan) => plan.clone(),
            None => Plan::any_of(terms),
        };
        let request = TopRequest {
            plan: &candidates,
            terms,
            scorer,
            projects,
            limit: self.batch,
            after: self.after,
        };
        let found = top(&pages, &snapshot.segments, &snapshot.pending, &request)
            .unwrap_or_else(|error| index_error(error));
        if found.len() < self.batch {
            self.exhausted = true;
        }
        self.after = found.last().copied().or(self.after);
        self.queue.extend(
            found
                .into_iter()
                .map(|ranked| (ranked.tid, 0.0 - ranked.score)),
        );
        self.batch = (self.batch * 4).min(LARGEST_BATCH);
    }

    /// Every row not returned yet, for an ordered scan without a condition (those holding none of
    /// the ranking terms); every match, for a scan that is not ordered.
    fn rest(&mut self, index: pg_sys::Relation) {
        let snapshot = self.snapshot.as_ref().expect("read before the rest");
        let plan = match (&self.plan, &self.ranking) {
            // Ranked already: every match.
            (Some(_), Some(_)) if self.ordered => return,
            (None, Some(ranking)) if self.ordered => Plan::none_of(&ranking.terms),
            (Some(plan), _) => plan.clone(),
            (None, _) => Plan::Everything,
        };
        let pages = snapshot.pages(index);
        let mut found = matching(
            &pages,
            &snapshot.segments,
            &snapshot.pending,
            &plan,
            &self.projects,
        )
        .unwrap_or_else(|error| index_error(error));
        found.sort_unstable();
        found.dedup();
        self.queue.extend(found.into_iter().map(|tid| (tid, 0.0)));
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amgettuple(
    scan: pg_sys::IndexScanDesc,
    _direction: pg_sys::ScanDirection::Type,
) -> bool {
    // SAFETY: the scan descriptor and its state are ours for the scan's lifetime.
    unsafe {
        let scan = &mut *scan;
        let index = scan.indexRelation;
        let state = &mut *(scan.opaque as *mut ScanState);
        loop {
            if let Some((tid, distance)) = state.queue.pop_front() {
                set_tid(&mut scan.xs_heaptid, tid);
                scan.xs_recheck = state.plan.is_some() && !state.exact;
                if scan.numberOfOrderBys > 0 {
                    scan.xs_recheckorderby = false;
                    *scan.xs_orderbyvals = distance.into_datum().expect("a float8 datum");
                    *scan.xs_orderbynulls = false;
                }
                return true;
            }
            match state.phase {
                Phase::Start => {
                    state.snapshot = Some(
                        snapshot(index, &state.projects).unwrap_or_else(|error| index_error(error)),
                    );
                    state.phase = if state.ordered && state.ranking.is_some() {
                        Phase::Ranked
                    } else {
                        Phase::Rest
                    };
                }
                Phase::Ranked => {
                    if state.exhausted {
                        state.phase = Phase::Rest;
                    } else {
                        state.next_batch(index);
                    }
                }
                Phase::Rest => {
                    state.rest(index);
                    state.phase = Phase::Done;
                }
                Phase::Done => return false,
            }
        }
    }
}

/// Every match at once, for a bitmap heap scan (which rechecks only when told to).
#[pg_guard]
pub unsafe extern "C-unwind" fn amgetbitmap(
    scan: pg_sys::IndexScanDesc,
    bitmap: *mut pg_sys::TIDBitmap,
) -> i64 {
    // SAFETY: the scan descriptor and its state are ours for the scan's lifetime.
    unsafe {
        let scan = &mut *scan;
        let index = scan.indexRelation;
        let state = &mut *(scan.opaque as *mut ScanState);
        let snapshot = snapshot(index, &state.projects).unwrap_or_else(|error| index_error(error));
        let plan = state.plan.clone().unwrap_or(Plan::Everything);
        let pages = snapshot.pages(index);
        let found = matching(
            &pages,
            &snapshot.segments,
            &snapshot.pending,
            &plan,
            &state.projects,
        )
        .unwrap_or_else(|error| index_error(error));
        let recheck = state.plan.is_some() && !state.exact;
        let mut pointers: Vec<pg_sys::ItemPointerData> = found
            .iter()
            .map(|&tid| {
                let mut pointer = pg_sys::ItemPointerData::default();
                set_tid(&mut pointer, tid);
                pointer
            })
            .collect();
        for chunk in pointers.chunks_mut(1 << 16) {
            pg_sys::tbm_add_tuples(bitmap, chunk.as_mut_ptr(), chunk.len() as i32, recheck);
        }
        found.len() as i64
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    // SAFETY: the state is dropped with its memory context; release what it holds now.
    unsafe {
        let state = &mut *((*scan).opaque as *mut ScanState);
        *state = ScanState::new();
    }
}
