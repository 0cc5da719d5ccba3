//! `cco.verify_rank_index`: checks a cco_rank index the way amcheck checks a B-tree. The checks
//! are `cco_core::search_index::verify`; this reads the pages for them and, with
//! `heapallindexed`, the table's rows.
//!
//! The table is locked in SHARE mode (writes wait, reads go on) and the index's maintenance lock
//! is taken, so the index holds still while it is read: what is checked is one consistent state.
//! On a standby, where neither can be taken, the index changes only as WAL is replayed.

use cco_core::search_index::verify::{verify, Corruption, HeapCheck, IndexFile, PageState, Report};
use cco_core::search_index::IndexError;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB, PgSqlErrorCode};

use super::maintenance::MaintenanceLock;
use super::storage::Locked;
use super::{document, rank_index, tid_of, Columns};
use crate::errors::raise;

/// Every page of the index, whatever it holds.
struct CheckedPages {
    index: pg_sys::Relation,
    blocks: u32,
}

impl IndexFile for CheckedPages {
    fn block_count(&self) -> u32 {
        self.blocks
    }

    fn read_page<R>(
        &self,
        block: u32,
        read: impl FnOnce(PageState, &[u8]) -> R,
    ) -> Result<R, IndexError> {
        if block >= self.blocks {
            return Err(IndexError::Corrupt(
                "a pointer leads past the end of the index",
            ));
        }
        pgrx::check_for_interrupts!();
        let locked = Locked::share(self.index, block);
        Ok(read(locked.checked_state(), locked.data()))
    }
}

fn index_corrupted(index: &pgrx::PgRelation, corruption: &Corruption) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        format!(
            "index \"{}\" is damaged: {corruption}; REINDEX rebuilds it",
            index.name()
        ),
    )
}

struct HeapState<'a> {
    index: &'a pgrx::PgRelation,
    columns: Columns,
    check: HeapCheck,
}

#[pg_guard]
unsafe extern "C-unwind" fn heap_row(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: called by table_index_build_scan with our state and the row's index values.
    unsafe {
        let state = &mut *(state as *mut HeapState<'_>);
        let row = document(state.columns, values, isnull, tid_of(&*tid));
        if let Err(corruption) = state.check.row(&row) {
            index_corrupted(state.index, &corruption);
        }
    }
}

fn report_json(report: &Report, heap: Option<(u64, u64)>) -> JsonB {
    let mut json = serde_json::json!({
        "blocks": report.blocks,
        "pages_checked": report.pages_checked,
        "segments": report.segments,
        "segment_documents": report.segment_documents,
        "deleted_documents": report.deleted_documents,
        "pending_documents": report.pending_documents,
        "flushing_documents": report.flushing_documents,
        "interrupted_documents": report.interrupted_documents,
        "terms": report.terms,
        "postings": report.postings,
        "posting_blocks": report.posting_blocks,
        "free_pages": report.free_pages,
        "free_list_pages": report.free_list_pages,
        "unreferenced_pages": report.unreferenced_pages,
    });
    if let Some((rows, dead)) = heap {
        json["heap_rows"] = rows.into();
        json["dead_entries"] = dead.into();
    }
    JsonB(json)
}

/// Checks a cco_rank index: raises `index_corrupted` naming the page and the broken invariant,
/// or returns what the index holds. With `heapallindexed`, every row of the table is to be in the
/// index with exactly its search vector's terms, frequencies, positions and length.
#[pg_extern(volatile, parallel_unsafe)]
fn verify_rank_index(index: pgrx::PgRelation, heapallindexed: default!(bool, false)) -> JsonB {
    let relation = rank_index(&index);
    // SAFETY: an open index relation; the catalog lookups and locks are PostgreSQL's own.
    unsafe {
        let owner = (*(*relation).rd_rel).relowner;
        if !pg_sys::has_privs_of_role(pg_sys::GetUserId(), owner) {
            raise(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("must be owner of index {} to verify it", index.name()),
            );
        }
        // A standby takes no lock that would block replay: there the index changes only by replay,
        // so check it while the primary is quiet.
        let standby = pg_sys::RecoveryInProgress();
        let mode = if standby {
            pg_sys::AccessShareLock
        } else {
            pg_sys::ShareLock
        };
        let heap = pg_sys::table_open(pg_sys::IndexGetRelation(index.oid(), false), mode as i32);
        let lock = (!standby).then(|| MaintenanceLock::acquire(relation));
        let blocks =
            pg_sys::RelationGetNumberOfBlocksInFork(relation, pg_sys::ForkNumber::MAIN_FORKNUM);
        let verified = verify(
            &CheckedPages {
                index: relation,
                blocks,
            },
            heapallindexed,
        )
        .unwrap_or_else(|corruption| index_corrupted(&index, &corruption));
        drop(lock);
        let heap_counts = verified.entries.map(|entries| {
            let mut state = HeapState {
                index: &index,
                columns: Columns::of(relation),
                check: HeapCheck::new(entries),
            };
            // Every row a build would index, live or recently dead, under the root tuple id of
            // its HOT chain; rows dead to everyone are left out and may still be in the index.
            let info = pg_sys::BuildIndexInfo(relation);
            pg_sys::table_index_build_scan(
                heap,
                relation,
                info,
                true,
                false,
                Some(heap_row),
                (&mut state as *mut HeapState<'_>).cast(),
                std::ptr::null_mut(),
            );
            (state.check.rows, state.check.unmatched())
        });
        // The table stays locked until the transaction ends, as amcheck leaves it.
        pg_sys::table_close(heap, pg_sys::NoLock as i32);
        report_json(&verified.report, heap_counts)
    }
}
