//! The index's root page: its segments, the pending list and the list being flushed, and the
//! queue of freed pages. Changing the segments means writing a new root in one step, so a search
//! sees either the old set or the new one.
//!
//! Freed pages wait in a first-in first-out queue of free-list pages (`FreeListPage`), each entry
//! a block and the transaction id after which it was freed: the oldest entry is the first that
//! can be reused, so allocation looks at one entry, not at every freed page.

use super::encoding::{put_u16, put_u32, put_u64, Reader};
use super::pages::{Pointer, PAGE_DATA_BYTES};
use super::pending::NO_BLOCK;
use super::IndexError;

const META_MAGIC: u32 = 0x4343_4f4d; // "CCOM"
const META_VERSION: u16 = 3;
const SEGMENT_BYTES: usize = 8 + 2 * Pointer::BYTES + 8 + Pointer::BYTES + 8;
const FIXED_BYTES: usize = 4 + 2 + 8 + 3 * 4 + 4 + 4 + 4 + 2 + 4 + 8 + 2;
/// Segments one root page can list.
pub const MAX_SEGMENTS: usize = (PAGE_DATA_BYTES - FIXED_BYTES) / SEGMENT_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEntry {
    pub id: u64,
    pub header: Pointer,
    pub pages: Pointer,
    pub documents: u64,
    /// Chain of the keys (and lengths) of its documents that vacuum found gone.
    pub deleted: Pointer,
    pub deleted_documents: u64,
}

impl SegmentEntry {
    pub fn live_documents(&self) -> u64 {
        self.documents.saturating_sub(self.deleted_documents)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub next_segment_id: u64,
    /// First and last page of the pending list.
    pub pending_head: u32,
    pub pending_tail: u32,
    pub pending_documents: u32,
    /// First page of the list being written out as a segment, or `NO_BLOCK`.
    pub flushing_head: u32,
    /// An empty page kept ready for the pending list to grow into, or `NO_BLOCK`.
    pub spare: u32,
    /// The free-list queue: its oldest page (and how many of its entries are taken) and newest.
    pub free_head: u32,
    pub free_head_taken: u16,
    pub free_tail: u32,
    /// Pages waiting in the queue.
    pub free_pages: u64,
    pub segments: Vec<SegmentEntry>,
}

impl Meta {
    /// Whether a reader that took its view of the index from `self` would take the same view from
    /// `other`: the same segments with the same deleted lists, the same pending and flushing lists.
    /// Counters that change with every insert (pending documents, the tail, the free-list queue)
    /// do not change what the view's pages are.
    pub fn same_view(&self, other: &Meta) -> bool {
        let view = |meta: &Meta| {
            (
                meta.pending_head,
                meta.flushing_head,
                meta.segments
                    .iter()
                    .map(|entry| (entry.id, entry.header, entry.deleted))
                    .collect::<Vec<_>>(),
            )
        };
        view(self) == view(other)
    }

    pub fn new(pending_page: u32) -> Meta {
        Meta {
            next_segment_id: 1,
            pending_head: pending_page,
            pending_tail: pending_page,
            pending_documents: 0,
            flushing_head: NO_BLOCK,
            spare: NO_BLOCK,
            free_head: NO_BLOCK,
            free_head_taken: 0,
            free_tail: NO_BLOCK,
            free_pages: 0,
            segments: Vec::new(),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, IndexError> {
        if self.segments.len() > MAX_SEGMENTS {
            return Err(IndexError::TooLarge(
                "more segments than the root page lists",
            ));
        }
        let mut out = Vec::with_capacity(FIXED_BYTES + SEGMENT_BYTES * self.segments.len());
        put_u32(&mut out, META_MAGIC);
        put_u16(&mut out, META_VERSION);
        put_u64(&mut out, self.next_segment_id);
        put_u32(&mut out, self.pending_head);
        put_u32(&mut out, self.pending_tail);
        put_u32(&mut out, self.pending_documents);
        put_u32(&mut out, self.flushing_head);
        put_u32(&mut out, self.spare);
        put_u32(&mut out, self.free_head);
        put_u16(&mut out, self.free_head_taken);
        put_u32(&mut out, self.free_tail);
        put_u64(&mut out, self.free_pages);
        put_u16(&mut out, self.segments.len() as u16);
        for segment in &self.segments {
            put_u64(&mut out, segment.id);
            segment.header.write(&mut out);
            segment.pages.write(&mut out);
            put_u64(&mut out, segment.documents);
            segment.deleted.write(&mut out);
            put_u64(&mut out, segment.deleted_documents);
        }
        Ok(out)
    }

    pub fn decode(data: &[u8]) -> Result<Meta, IndexError> {
        let mut reader = Reader::new(data);
        if reader.u32()? != META_MAGIC {
            return Err(IndexError::Corrupt(
                "the root page is not a search index root",
            ));
        }
        if reader.u16()? != META_VERSION {
            return Err(IndexError::Corrupt(
                "the search index was written by another version; REINDEX it",
            ));
        }
        let next_segment_id = reader.u64()?;
        let pending_head = reader.u32()?;
        let pending_tail = reader.u32()?;
        let pending_documents = reader.u32()?;
        let flushing_head = reader.u32()?;
        let spare = reader.u32()?;
        let free_head = reader.u32()?;
        let free_head_taken = reader.u16()?;
        let free_tail = reader.u32()?;
        let free_pages = reader.u64()?;
        let count = usize::from(reader.u16()?);
        if count > MAX_SEGMENTS {
            return Err(IndexError::Corrupt("the root page lists too many segments"));
        }
        let mut segments = Vec::with_capacity(count);
        for _ in 0..count {
            segments.push(SegmentEntry {
                id: reader.u64()?,
                header: Pointer::read(&mut reader)?,
                pages: Pointer::read(&mut reader)?,
                documents: reader.u64()?,
                deleted: Pointer::read(&mut reader)?,
                deleted_documents: reader.u64()?,
            });
        }
        Ok(Meta {
            next_segment_id,
            pending_head,
            pending_tail,
            pending_documents,
            flushing_head,
            spare,
            free_head,
            free_head_taken,
            free_tail,
            free_pages,
            segments,
        })
    }
}

/// A page of the free-list queue: `[next u32][count u16]`, then `count` entries of
/// `[block u32][freed at u64]`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FreeListPage {
    pub next: u32,
    pub entries: Vec<(u32, u64)>,
}

impl FreeListPage {
    /// Entries one page holds.
    pub const CAPACITY: usize = (PAGE_DATA_BYTES - 6) / 12;

    pub fn new() -> FreeListPage {
        FreeListPage {
            next: NO_BLOCK,
            entries: Vec::new(),
        }
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= Self::CAPACITY
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + 12 * self.entries.len());
        put_u32(&mut out, self.next);
        put_u16(&mut out, self.entries.len() as u16);
        for &(block, freed_at) in &self.entries {
            put_u32(&mut out, block);
            put_u64(&mut out, freed_at);
        }
        out
    }

    pub fn decode(data: &[u8]) -> Result<FreeListPage, IndexError> {
        let mut reader = Reader::new(data);
        let next = reader.u32()?;
        let count = usize::from(reader.u16()?);
        if count > Self::CAPACITY {
            return Err(IndexError::Corrupt(
                "a free-list page holds more entries than fit",
            ));
        }
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            entries.push((reader.u32()?, reader.u64()?));
        }
        Ok(FreeListPage { next, entries })
    }
}

/// How many times a reader takes its view of the index again while replay keeps changing it.
pub const VIEW_ATTEMPTS: usize = 20;

/// What reading a view of the index came to.
#[derive(Debug)]
pub enum ViewRead<T, V> {
    /// What `read` returned, and the view it was read in.
    Read(T, V),
    /// Replay changed the index under every attempt; the last root's pending list head.
    KeptChanging(u32),
}

/// Reads a view of the index: `root` reads the root page (and the view a reader takes from it),
/// `read` what the reader needs from the pages the root names.
///
/// On a primary (`replaying` false) nothing a reader can see is freed under it, so one attempt
/// answers. On a standby replay changes the index while `read` runs: the root is read again after
/// it, and `read` runs again until the root still names the same pages. A failure of `read` there
/// is damage only if it happens at every attempt: a pending list the primary flushed and whose
/// pages it reused can loop, or lead to a records page, while it is walked, and one that grows
/// while it is walked can outrun the walk's idea of the index's size; neither says anything about
/// the index the next attempt reads.
pub fn read_view<T, V>(
    replaying: bool,
    mut root: impl FnMut() -> Result<(Meta, V), IndexError>,
    mut read: impl FnMut(&Meta, &V) -> Result<T, IndexError>,
) -> Result<ViewRead<T, V>, IndexError> {
    let mut last_head = NO_BLOCK;
    let mut failure = None;
    for _ in 0..VIEW_ATTEMPTS {
        let (meta, view) = root()?;
        let result = read(&meta, &view);
        if !replaying {
            return Ok(ViewRead::Read(result?, view));
        }
        let (again, _) = root()?;
        let same = again.same_view(&meta);
        match result {
            Ok(value) if same => return Ok(ViewRead::Read(value, view)),
            Err(error) if same => failure = Some(error),
            _ => failure = None,
        }
        last_head = again.pending_head;
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(ViewRead::KeptChanging(last_head)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readers_view_changes_with_segments_lists_and_deletions_not_with_counters() {
        let segment = SegmentEntry {
            id: 4,
            header: Pointer {
                block: 12,
                offset: 0,
            },
            pages: Pointer {
                block: 13,
                offset: 0,
            },
            documents: 100,
            deleted: Pointer::NONE,
            deleted_documents: 0,
        };
        let mut before = Meta::new(1);
        before.segments.push(segment);
        let mut after = before.clone();
        after.pending_documents += 5;
        after.pending_tail = 30;
        after.free_pages += 2;
        after.free_head = 40;
        after.spare = 41;
        assert!(
            before.same_view(&after),
            "inserts and free-list work keep the view"
        );

        let mut deleted = before.clone();
        deleted.segments[0].deleted = Pointer {
            block: 50,
            offset: 0,
        };
        deleted.segments[0].deleted_documents = 3;
        assert!(!before.same_view(&deleted), "a new deleted list");

        let mut flushed = before.clone();
        flushed.flushing_head = flushed.pending_head;
        flushed.pending_head = 60;
        assert!(!before.same_view(&flushed), "a flush started");

        let mut merged = before.clone();
        merged.segments[0].id = 5;
        merged.segments[0].header.block = 70;
        assert!(!before.same_view(&merged), "a merge replaced the segment");
    }

    #[test]
    fn the_root_round_trips_with_as_many_segments_as_fit() {
        let mut meta = Meta::new(1);
        meta.flushing_head = 9;
        for id in 0..MAX_SEGMENTS as u64 {
            meta.segments.push(SegmentEntry {
                id,
                header: Pointer {
                    block: id as u32,
                    offset: 2,
                },
                pages: Pointer {
                    block: 7,
                    offset: 0,
                },
                documents: id * 10,
                deleted: Pointer::NONE,
                deleted_documents: id,
            });
        }
        let bytes = meta.encode().unwrap();
        assert!(bytes.len() <= PAGE_DATA_BYTES);
        assert_eq!(Meta::decode(&bytes).unwrap(), meta);
        meta.segments.push(meta.segments[0]);
        assert!(meta.encode().is_err());
        let page = FreeListPage {
            next: 3,
            entries: (0..FreeListPage::CAPACITY as u32)
                .map(|b| (b, u64::from(b) << 33))
                .collect(),
        };
        let bytes = page.encode();
        assert!(bytes.len() <= PAGE_DATA_BYTES);
        assert_eq!(FreeListPage::decode(&bytes).unwrap(), page);
        assert!(Meta::decode(&bytes[..10]).is_err());
        assert!(Meta::decode(&[0; 64]).is_err());
    }

    /// A root page that changes as replay goes on: the roots a reader finds, one per read.
    fn roots(sequence: Vec<Meta>) -> impl FnMut() -> Result<(Meta, ()), IndexError> {
        let mut sequence = sequence.into_iter();
        move || {
            Ok((
                sequence
                    .next()
                    .expect("read the root more often than expected"),
                (),
            ))
        }
    }

    fn flushed(meta: &Meta, head: u32) -> Meta {
        let mut after = meta.clone();
        after.pending_head = head;
        after.pending_tail = head;
        after
    }

    /// A walk of the pending list that fails the first time and reads its head after that.
    fn failing_once(walks: &mut u32) -> impl FnMut(&Meta, &()) -> Result<u32, IndexError> + '_ {
        move |meta, _| {
            *walks += 1;
            if *walks == 1 {
                Err(IndexError::Corrupt("the pending list loops"))
            } else {
                Ok(meta.pending_head)
            }
        }
    }

    #[test]
    fn a_failed_walk_while_replay_flushed_the_list_is_read_again() {
        let before = Meta::new(5);
        let after = flushed(&before, 9);
        // the first walk met the flushed list's reused pages; the second read a stable root
        let mut walks = 0;
        let read = read_view(
            true,
            roots(vec![before, after.clone(), after.clone(), after]),
            failing_once(&mut walks),
        )
        .unwrap();
        assert!(matches!(read, ViewRead::Read(9, ())));
        assert_eq!(walks, 2);
    }

    #[test]
    fn a_walk_that_fails_at_every_attempt_is_damage() {
        let meta = Meta::new(5);
        let mut walks = 0;
        let read = read_view(
            true,
            roots(vec![meta; 2 * VIEW_ATTEMPTS]),
            |_, _| -> Result<(), _> {
                walks += 1;
                Err(IndexError::Corrupt("the pending list loops"))
            },
        );
        assert!(matches!(
            read,
            Err(IndexError::Corrupt("the pending list loops"))
        ));
        assert_eq!(walks, VIEW_ATTEMPTS);
    }

    #[test]
    fn a_walk_that_fails_once_under_an_unchanged_root_is_read_again() {
        // a list that grew into new pages while it was walked
        let meta = Meta::new(5);
        let mut walks = 0;
        let read = read_view(true, roots(vec![meta; 4]), failing_once(&mut walks)).unwrap();
        assert!(matches!(read, ViewRead::Read(5, ())));
    }

    #[test]
    fn on_a_primary_one_walk_answers_whatever_it_found() {
        let read = read_view(false, roots(vec![Meta::new(5)]), |_, _| -> Result<(), _> {
            Err(IndexError::Corrupt("the pending list loops"))
        });
        assert!(matches!(read, Err(IndexError::Corrupt(_))));
        let read = read_view(false, roots(vec![Meta::new(5)]), |meta, _| {
            Ok(meta.pending_head)
        })
        .unwrap();
        assert!(matches!(read, ViewRead::Read(5, ())));
    }

    #[test]
    fn a_root_that_keeps_changing_ends_the_attempts() {
        let sequence: Vec<Meta> = (0..2 * VIEW_ATTEMPTS as u32)
            .map(|n| flushed(&Meta::new(5), 10 + n))
            .collect();
        let mut walks = 0;
        let read = read_view(true, roots(sequence), |_, _| -> Result<(), _> {
            walks += 1;
            Err(IndexError::Corrupt(
                "the pending list leads to another kind of page",
            ))
        })
        .unwrap();
        assert!(
            matches!(read, ViewRead::KeptChanging(head) if head == 10 + 2 * VIEW_ATTEMPTS as u32 - 1)
        );
        assert_eq!(walks, VIEW_ATTEMPTS);
    }
}
