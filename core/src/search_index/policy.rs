//! When to write out the pending list and which segments to merge: a tiered policy. A segment's
//! tier is how many times `MERGE_FACTOR` flushes it holds; once a tier has `MERGE_FACTOR`
//! segments they are merged into one of the next tier. Each document is rewritten about once per
//! tier (log of the index size), and a search reads at most `MERGE_FACTOR` segments per tier.

use super::meta::SegmentEntry;

/// Pending documents that make a segment.
pub const FLUSH_DOCUMENTS: u32 = 2048;
/// Segments of one tier merged together.
pub const MERGE_FACTOR: usize = 8;
/// Merges done by an inserting statement stay below this many documents; larger ones wait for
/// vacuum, so no single insert waits long.
pub const INLINE_MERGE_DOCUMENTS: u64 = 150_000;
/// A segment with at least this share of its documents deleted is rewritten by vacuum.
pub const REWRITE_DELETED_SHARE: f64 = 0.2;

fn tier(documents: u64) -> u32 {
    let mut tier = 0;
    let mut size = u64::from(FLUSH_DOCUMENTS) * MERGE_FACTOR as u64;
    while documents >= size && tier < 16 {
        tier += 1;
        size = size.saturating_mul(MERGE_FACTOR as u64);
    }
    tier
}

/// The ids of segments to merge next, if a tier is full; merges above `limit` documents are left
/// for later.
pub fn due_merge(segments: &[SegmentEntry], limit: Option<u64>) -> Option<Vec<u64>> {
    let mut tiers: Vec<(u32, Vec<&SegmentEntry>)> = Vec::new();
    for segment in segments {
        let tier = tier(segment.live_documents());
        match tiers.iter_mut().find(|(t, _)| *t == tier) {
            Some((_, members)) => members.push(segment),
            None => tiers.push((tier, vec![segment])),
        }
    }
    tiers.sort_by_key(|(tier, _)| *tier);
    for (_, mut members) in tiers {
        if members.len() < MERGE_FACTOR {
            continue;
        }
        members.sort_by_key(|segment| segment.live_documents());
        members.truncate(2 * MERGE_FACTOR);
        let documents: u64 = members.iter().map(|segment| segment.live_documents()).sum();
        if limit.is_some_and(|limit| documents > limit) {
            return None;
        }
        return Some(members.iter().map(|segment| segment.id).collect());
    }
    None
}

/// Segments so emptied by deletions that rewriting them pays.
pub fn due_rewrites(segments: &[SegmentEntry]) -> Vec<u64> {
    segments
        .iter()
        .filter(|segment| {
            segment.deleted_documents > 0
                && segment.deleted_documents as f64
                    >= REWRITE_DELETED_SHARE * segment.documents as f64
        })
        .map(|segment| segment.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::pages::Pointer;

    fn segment(id: u64, documents: u64, deleted: u64) -> SegmentEntry {
        SegmentEntry {
            id,
            header: Pointer::NONE,
            pages: Pointer::NONE,
            documents,
            deleted: Pointer::NONE,
            deleted_documents: deleted,
        }
    }

    #[test]
    fn a_full_tier_is_merged_and_a_partial_one_waits() {
        let flushed: Vec<SegmentEntry> = (0..7).map(|id| segment(id, 2048, 0)).collect();
        assert_eq!(due_merge(&flushed, None), None);
        let mut full = flushed.clone();
        full.push(segment(7, 2000, 0));
        full.push(segment(8, 900_000, 0));
        assert_eq!(due_merge(&full, None).unwrap().len(), 8);
        let big: Vec<SegmentEntry> = (0..8).map(|id| segment(id, 100_000, 0)).collect();
        assert_eq!(
            due_merge(&big, Some(INLINE_MERGE_DOCUMENTS)),
            None,
            "too large for an insert"
        );
        assert!(due_merge(&big, None).is_some(), "vacuum merges it");
    }

    #[test]
    fn heavily_deleted_segments_are_rewritten() {
        let segments = [segment(1, 100, 10), segment(2, 100, 30), segment(3, 100, 0)];
        assert_eq!(due_rewrites(&segments), [2]);
    }
}
