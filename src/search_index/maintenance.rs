//! Keeping the index in shape: writing the pending list out as a segment, merging segments, and
//! recording what vacuum found deleted. One backend at a time does any of this, under a
//! heavyweight lock on the root page (inserting statements skip the work when someone else holds
//! it; searches never wait for it).

use cco_core::search_index::deleted::{read_deleted, write_deleted};
use cco_core::search_index::merge::{merge_segments, MergeInput};
use cco_core::search_index::meta::{Meta, SegmentEntry};
use cco_core::search_index::pages::{Pointer, RecordWriter};
use cco_core::search_index::pending::NO_BLOCK;
use cco_core::search_index::policy::{due_merge, due_rewrites, INLINE_MERGE_DOCUMENTS};
use cco_core::search_index::postings::{key_tid, KeyRanges, PostingCursor, Tid};
use cco_core::search_index::search::Projects;
use cco_core::search_index::segment::{
    build_segment, read_block_list, Document, Segment, SegmentLocation,
};
use cco_core::search_index::IndexError;
use pgrx::pg_sys;

use super::storage::{
    free_pages, new_pending_page, read_consistent_view, read_pending, read_pending_kept,
    write_meta, IndexPages, Locked, PageKind, ReaderView, META_BLOCK,
};

/// The maintenance lock, released when dropped.
pub struct MaintenanceLock {
    index: pg_sys::Relation,
}

impl MaintenanceLock {
    pub fn acquire(index: pg_sys::Relation) -> MaintenanceLock {
        // SAFETY: a heavyweight page lock on the open index, released in drop (or at abort).
        unsafe { pg_sys::LockPage(index, META_BLOCK, pg_sys::ExclusiveLock as i32) };
        MaintenanceLock { index }
    }

    pub fn try_acquire(index: pg_sys::Relation) -> Option<MaintenanceLock> {
        // SAFETY: as above.
        unsafe { pg_sys::ConditionalLockPage(index, META_BLOCK, pg_sys::ExclusiveLock as i32) }
            .then_some(MaintenanceLock { index })
    }
}

impl Drop for MaintenanceLock {
    fn drop(&mut self) {
        // SAFETY: held by us.
        unsafe { pg_sys::UnlockPage(self.index, META_BLOCK, pg_sys::ExclusiveLock as i32) };
    }
}

/// Changes the root page under its exclusive lock.
fn update_meta<T>(
    index: pg_sys::Relation,
    change: impl FnOnce(&mut Meta) -> Result<T, IndexError>,
) -> Result<T, IndexError> {
    let locked = Locked::exclusive(index, META_BLOCK);
    if locked.kind() != Some(PageKind::Meta) {
        return Err(IndexError::Corrupt("the first page is not the index root"));
    }
    let mut meta = Meta::decode(locked.data())?;
    let result = change(&mut meta)?;
    write_meta(index, &locked, &meta)?;
    Ok(result)
}

fn add_segment(meta: &mut Meta, location: SegmentLocation) {
    meta.segments.push(SegmentEntry {
        id: meta.next_segment_id,
        header: location.header,
        pages: location.pages,
        documents: location.documents,
        deleted: Pointer::NONE,
        deleted_documents: 0,
    });
    meta.next_segment_id += 1;
}

/// Writes the pending list out as a segment. New documents go to a fresh pending list meanwhile;
/// the old one stays readable as the flushing list until the segment replaces it.
pub fn flush(index: pg_sys::Relation, _lock: &MaintenanceLock) -> Result<(), IndexError> {
    let fresh = new_pending_page(index)?;
    let flushing = update_meta(index, |meta| {
        if meta.flushing_head != NO_BLOCK {
            // A flush that did not finish (the server stopped): write that list first.
            return Ok(Some((meta.flushing_head, false)));
        }
        if meta.pending_documents == 0 {
            return Ok(None);
        }
        meta.flushing_head = meta.pending_head;
        meta.pending_head = fresh;
        meta.pending_tail = fresh;
        meta.pending_documents = 0;
        Ok(Some((meta.flushing_head, true)))
    })?;
    let Some((head, used_fresh)) = flushing else {
        free_pages(index, &[fresh])?;
        return Ok(());
    };
    if !used_fresh {
        free_pages(index, &[fresh])?;
    }
    let (documents, pages) = read_pending(index, head)?;
    let location = build_segment(&IndexPages::new(index), documents)?;
    update_meta(index, |meta| {
        if let Some(location) = location {
            add_segment(meta, location);
        }
        meta.flushing_head = NO_BLOCK;
        Ok(())
    })?;
    free_pages(index, &pages)?;
    Ok(())
}

/// Every page a segment entry owns: the segment's and its deleted list's.
fn pages_of(index: pg_sys::Relation, entry: &SegmentEntry) -> Result<Vec<u32>, IndexError> {
    let pages = IndexPages::new(index);
    let mut blocks = read_block_list(&pages, entry.pages)?;
    blocks.extend(read_deleted(&pages, entry.deleted)?.1);
    Ok(blocks)
}

/// Merges the segments with these ids into one.
pub fn merge(
    index: pg_sys::Relation,
    ids: &[u64],
    _lock: &MaintenanceLock,
) -> Result<(), IndexError> {
    let pages = IndexPages::new(index);
    let meta = super::storage::read_meta(index)?;
    let entries: Vec<SegmentEntry> = meta
        .segments
        .iter()
        .filter(|entry| ids.contains(&entry.id))
        .copied()
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let mut inputs = Vec::with_capacity(entries.len());
    let mut freed = Vec::new();
    for entry in &entries {
        let deleted = read_deleted(&pages, entry.deleted)?
            .0
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        inputs.push(MergeInput {
            header: entry.header,
            deleted,
        });
        freed.extend(pages_of(index, entry)?);
    }
    let location = merge_segments(&pages, &inputs)?;
    update_meta(index, |meta| {
        meta.segments.retain(|entry| !ids.contains(&entry.id));
        if let Some(location) = location {
            add_segment(meta, location);
        }
        Ok(())
    })?;
    free_pages(index, &freed)?;
    Ok(())
}

/// Merges while a tier is full (within `limit` documents per merge, if given).
pub fn merge_due(
    index: pg_sys::Relation,
    limit: Option<u64>,
    lock: &MaintenanceLock,
) -> Result<(), IndexError> {
    for _ in 0..64 {
        let meta = super::storage::read_meta(index)?;
        match due_merge(&meta.segments, limit) {
            Some(ids) => merge(index, &ids, lock)?,
            None => break,
        }
    }
    Ok(())
}

/// What an inserting statement does once the pending list is full, unless another backend is
/// already at it.
pub fn after_insert(index: pg_sys::Relation) -> Result<(), IndexError> {
    if let Some(lock) = MaintenanceLock::try_acquire(index) {
        flush(index, &lock)?;
        merge_due(index, Some(INLINE_MERGE_DOCUMENTS), &lock)?;
    }
    Ok(())
}

/// Everything vacuum's cleanup does: flush, rewrite segments emptied by deletions, merge.
pub fn tidy(index: pg_sys::Relation, lock: &MaintenanceLock) -> Result<(), IndexError> {
    flush(index, lock)?;
    let meta = super::storage::read_meta(index)?;
    for id in due_rewrites(&meta.segments) {
        merge(index, &[id], lock)?;
    }
    merge_due(index, None, lock)
}

/// Merges everything into one segment.
pub fn optimize(index: pg_sys::Relation, lock: &MaintenanceLock) -> Result<(), IndexError> {
    flush(index, lock)?;
    let meta = super::storage::read_meta(index)?;
    let needs_merge = meta.segments.len() > 1
        || meta
            .segments
            .iter()
            .any(|entry| entry.deleted_documents > 0);
    if needs_merge {
        let ids: Vec<u64> = meta.segments.iter().map(|entry| entry.id).collect();
        merge(index, &ids, lock)?;
    }
    Ok(())
}

/// Asks `is_dead` about every document not yet known deleted and records the dead ones; returns
/// how many were found dead and how many are left.
pub fn record_deletions(
    index: pg_sys::Relation,
    mut is_dead: impl FnMut(Tid) -> bool,
    lock: &MaintenanceLock,
) -> Result<(u64, u64), IndexError> {
    flush(index, lock)?;
    let pages = IndexPages::new(index);
    let meta = super::storage::read_meta(index)?;
    let (mut removed, mut remaining) = (0u64, 0u64);
    for entry in &meta.segments {
        let segment = Segment::open(&pages, entry.header)?;
        let (known, old_blocks) = read_deleted(&pages, entry.deleted)?;
        let mut cursor = PostingCursor::open(&pages, segment.all_documents(), &KeyRanges::all())?;
        let mut found = Vec::new();
        for posting in cursor.collect(&pages)? {
            if known
                .binary_search_by_key(&posting.key, |(key, _)| *key)
                .is_ok()
            {
                continue;
            }
            if is_dead(key_tid(posting.key)) {
                found.push((posting.key, posting.length));
            }
        }
        remaining += entry.documents - known.len() as u64 - found.len() as u64;
        if found.is_empty() {
            continue;
        }
        removed += found.len() as u64;
        let mut all = known;
        all.extend(found);
        all.sort_unstable_by_key(|(key, _)| *key);
        let mut writer = RecordWriter::new(&pages);
        let list = write_deleted(&mut writer, &all)?;
        writer.finish()?;
        let count = all.len() as u64;
        update_meta(index, |meta| {
            let stored = meta
                .segments
                .iter_mut()
                .find(|stored| stored.id == entry.id)
                .ok_or(IndexError::Invalid("a segment vanished during vacuum"))?;
            stored.deleted = list;
            stored.deleted_documents = count;
            Ok(())
        })?;
        free_pages(index, &old_blocks)?;
    }
    Ok((removed, remaining))
}

/// Documents in the index that vacuum has not found deleted.
pub fn live_documents(meta: &Meta) -> u64 {
    meta.segments
        .iter()
        .map(SegmentEntry::live_documents)
        .sum::<u64>()
        + u64::from(meta.pending_documents)
}

/// What a scan reads of the index once: its segments with their deleted keys, and the documents
/// of the pending and flushing lists that belong to the projects searched; and the view of the
/// index they were read in, which later reads of the segments' pages go through.
pub struct Snapshot {
    pub segments: Vec<cco_core::search_index::search::SegmentView>,
    pub pending: Vec<Document>,
    pub view: ReaderView,
}

impl Snapshot {
    /// The index's pages as this snapshot reads them.
    pub fn pages(&self, index: pg_sys::Relation) -> IndexPages {
        IndexPages::reading(index, &self.view)
    }
}

pub fn snapshot(index: pg_sys::Relation, projects: &Projects) -> Result<Snapshot, IndexError> {
    let ((segments, pending), view) = read_consistent_view(index, |meta, pages| {
        let mut segments = Vec::with_capacity(meta.segments.len());
        for entry in &meta.segments {
            let deleted = if entry.deleted.is_none() {
                Vec::new()
            } else {
                read_deleted(pages, entry.deleted)?.0
            };
            segments.push(cco_core::search_index::search::SegmentView {
                header: entry.header,
                deleted,
            });
        }
        let mut pending = Vec::new();
        if meta.flushing_head != NO_BLOCK {
            pending.extend(read_pending_kept(index, meta.flushing_head, projects)?.0);
        }
        pending.extend(read_pending_kept(index, meta.pending_head, projects)?.0);
        Ok((segments, pending))
    })?;
    Ok(Snapshot {
        segments,
        pending,
        view,
    })
}
