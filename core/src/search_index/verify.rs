//! Checking an index from its pages alone, the way amcheck checks B-trees: the root page, every
//! segment (page list, header, project table, document list, dictionary, posting blocks and their
//! directories, deleted lists), the pending and flushing lists and the free-list queue, against
//! every invariant searches and maintenance rely on. A broken one is a `Corruption` naming the
//! page and what is wrong; a sound index gives a `Report` of what it holds.
//!
//! With `collect_entries`, the check also returns what the index holds for each live document (a
//! fingerprint of its terms, frequencies, positions, length and project), so the extension can
//! compare it with the table's rows (`HeapCheck`).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::deleted::read_deleted;
use super::meta::{FreeListPage, Meta, SegmentEntry};
use super::pages::PageSource;
use super::pending::{self, Assembler, NO_BLOCK};
use super::postings::{
    document_frequency, key_project, key_tid, KeyRanges, Posting, PostingCursor, Tid,
    BLOCK_POSTINGS,
};
use super::segment::{read_block_list, Document, ProjectId, Segment};
use super::IndexError;

/// The root page's block.
pub const META_BLOCK: u32 = 0;

/// What a page says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Meta,
    Pending,
    Records,
    FreeList,
    /// A page never written, or of a kind the index does not write.
    Unknown,
}

/// A page's kind and whether it is marked freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageState {
    pub kind: PageKind,
    pub freed: bool,
}

/// The index's pages as a check reads them: every page, whatever it holds.
pub trait IndexFile {
    /// Blocks in the index.
    fn block_count(&self) -> u32;
    /// Calls `read` with the state and data area of `block` (below `block_count`).
    fn read_page<R>(
        &self,
        block: u32,
        read: impl FnOnce(PageState, &[u8]) -> R,
    ) -> Result<R, IndexError>;
}

/// A broken invariant: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    pub block: Option<u32>,
    pub message: String,
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.block {
            Some(block) => write!(f, "page {block}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Corruption {}

fn corrupt(block: Option<u32>, message: impl Into<String>) -> Corruption {
    Corruption {
        block,
        message: message.into(),
    }
}

/// What a reading error says, without the advice the index's own errors carry.
fn reason(error: &IndexError) -> String {
    match error {
        IndexError::Corrupt(what) => (*what).to_string(),
        other => other.to_string(),
    }
}

/// What a sound index holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Blocks in the index, and how many of them the check read.
    pub blocks: u32,
    pub pages_checked: u64,
    pub segments: u64,
    /// Documents in segments, and those of them vacuum recorded deleted.
    pub segment_documents: u64,
    pub deleted_documents: u64,
    /// Documents in the pending list and in a list being written out as a segment.
    pub pending_documents: u64,
    pub flushing_documents: u64,
    /// Documents an interrupted insert left unfinished in a pending list (skipped by readers).
    pub interrupted_documents: u64,
    pub terms: u64,
    pub postings: u64,
    pub posting_blocks: u64,
    /// Pages waiting in the free-list queue, and the queue's own pages.
    pub free_pages: u64,
    pub free_list_pages: u64,
    /// Pages neither in use nor queued: left behind by a crash or a failed statement between
    /// taking a page and using it. Harmless, only space.
    pub unreferenced_pages: u64,
}

/// What the index holds for one document, compact: its project, length and a hash of its terms
/// with their frequencies and positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub project: ProjectId,
    pub length: u32,
    pub terms: u32,
    pub hash: u64,
}

fn term_hash(term: &[u8], frequency: u32, positions: &[u16]) -> u64 {
    let mut hasher = DefaultHasher::new();
    term.hash(&mut hasher);
    frequency.hash(&mut hasher);
    positions.hash(&mut hasher);
    hasher.finish()
}

/// The fingerprint of a document as it is to be indexed.
pub fn fingerprint(document: &Document) -> Fingerprint {
    let mut hash = 0u64;
    for (term, frequency, positions) in document.terms() {
        hash = hash.wrapping_add(term_hash(term, frequency, positions));
    }
    Fingerprint {
        project: document.project,
        length: document.length,
        terms: document.term_count() as u32,
        hash,
    }
}

/// A tuple id as PostgreSQL prints one.
pub fn tid_text(tid: Tid) -> String {
    format!("({},{})", tid.block, tid.offset)
}

/// The index's live documents (not recorded deleted), by tuple id.
pub type Entries = HashMap<Tid, Fingerprint>;

/// A check's outcome: the report, and the live documents when asked for.
#[derive(Debug)]
pub struct Verified {
    pub report: Report,
    pub entries: Option<Entries>,
}

/// Records pages for the core's readers, refusing pages that hold no records, freed pages and
/// pages in the free-list queue; remembers which it read.
struct RecordPages<'f, F: IndexFile> {
    file: &'f F,
    free: HashSet<u32>,
    touched: RefCell<HashSet<u32>>,
    last: Cell<Option<u32>>,
    checked: RefCell<HashSet<u32>>,
}

impl<F: IndexFile> RecordPages<'_, F> {
    fn read_any<R>(
        &self,
        block: u32,
        read: impl FnOnce(PageState, &[u8]) -> R,
    ) -> Result<R, IndexError> {
        self.last.set(Some(block));
        if block >= self.file.block_count() {
            return Err(IndexError::Corrupt(
                "a pointer leads past the end of the index",
            ));
        }
        self.checked.borrow_mut().insert(block);
        self.file.read_page(block, read)
    }
}

impl<F: IndexFile> PageSource for RecordPages<'_, F> {
    fn with_page<R>(&self, block: u32, read: impl FnOnce(&[u8]) -> R) -> Result<R, IndexError> {
        if self.free.contains(&block) {
            self.last.set(Some(block));
            return Err(IndexError::Corrupt(
                "a live structure points to a page in the free-list queue",
            ));
        }
        self.read_any(block, |state, data| {
            if state.kind != PageKind::Records {
                return Err(IndexError::Corrupt(
                    "a pointer leads to a page that holds no records",
                ));
            }
            if state.freed {
                return Err(IndexError::Corrupt(
                    "a live structure points to a page marked freed",
                ));
            }
            Ok(read(data))
        })?
        .inspect(|_| {
            self.touched.borrow_mut().insert(block);
        })
    }
}

struct Check<'f, F: IndexFile> {
    pages: RecordPages<'f, F>,
    /// Each page in use, and by what.
    owners: HashMap<u32, String>,
    report: Report,
    entries: Option<Entries>,
}

/// Checks the whole index; with `collect_entries`, returns its live documents as well.
pub fn verify<F: IndexFile>(file: &F, collect_entries: bool) -> Result<Verified, Corruption> {
    let blocks = file.block_count();
    let mut check = Check {
        pages: RecordPages {
            file,
            free: HashSet::new(),
            touched: RefCell::default(),
            last: Cell::new(None),
            checked: RefCell::default(),
        },
        owners: HashMap::new(),
        report: Report {
            blocks,
            ..Report::default()
        },
        entries: collect_entries.then(HashMap::new),
    };
    if blocks == 0 {
        return Err(corrupt(None, "the index has no root page"));
    }
    let meta = check
        .pages
        .read_any(META_BLOCK, |state, data| {
            if state.kind != PageKind::Meta {
                return Err(IndexError::Corrupt("the first page is not the index root"));
            }
            Meta::decode(data)
        })
        .and_then(|meta| meta)
        .map_err(|error| corrupt(Some(META_BLOCK), reason(&error)))?;
    check.claim(META_BLOCK, "the root page")?;
    check.meta(&meta)?;
    check.free_list(&meta)?;
    check.report.pending_documents = check.pending_list(
        meta.pending_head,
        Some(meta.pending_tail),
        "the pending list",
    )?;
    if check.report.pending_documents != u64::from(meta.pending_documents) {
        return Err(corrupt(
            Some(META_BLOCK),
            format!(
                "the root page counts {} pending documents, the pending list holds {}",
                meta.pending_documents, check.report.pending_documents
            ),
        ));
    }
    if meta.flushing_head != NO_BLOCK {
        check.report.flushing_documents =
            check.pending_list(meta.flushing_head, None, "the list being flushed")?;
    }
    for entry in &meta.segments {
        check.segment(entry)?;
    }
    if meta.spare != NO_BLOCK {
        if meta.spare >= blocks {
            return Err(corrupt(
                Some(META_BLOCK),
                format!("the spare page {} is past the end of the index", meta.spare),
            ));
        }
        check.claim(meta.spare, "the spare pending page")?;
    }
    let free = check.pages.free.clone();
    for block in &free {
        if let Some(owner) = check.owners.get(block) {
            return Err(corrupt(
                Some(*block),
                format!("the page is both in the free-list queue and part of {owner}"),
            ));
        }
    }
    let referenced = check.owners.len() as u64 + free.len() as u64;
    check.report.unreferenced_pages = u64::from(blocks).saturating_sub(referenced);
    check.report.pages_checked = check.pages.checked.borrow().len() as u64;
    Ok(Verified {
        report: check.report,
        entries: check.entries,
    })
}

impl<F: IndexFile> Check<'_, F> {
    /// Notes that `owner` uses `block`; a page has one owner.
    fn claim(&mut self, block: u32, owner: &str) -> Result<(), Corruption> {
        if block >= self.pages.file.block_count() {
            return Err(corrupt(
                Some(block),
                format!("{owner} names a page past the end of the index"),
            ));
        }
        if let Some(previous) = self.owners.get(&block) {
            return Err(corrupt(
                Some(block),
                format!("the page is part of both {previous} and {owner}"),
            ));
        }
        self.owners.insert(block, owner.to_string());
        Ok(())
    }

    fn meta(&mut self, meta: &Meta) -> Result<(), Corruption> {
        let mut ids = HashSet::new();
        for entry in &meta.segments {
            if entry.id >= meta.next_segment_id || !ids.insert(entry.id) {
                return Err(corrupt(
                    Some(META_BLOCK),
                    format!(
                        "segment id {} is repeated or not below the next id {}",
                        entry.id, meta.next_segment_id
                    ),
                ));
            }
            if entry.deleted_documents > entry.documents {
                return Err(corrupt(
                    Some(META_BLOCK),
                    format!(
                        "segment {} has more deleted documents than documents",
                        entry.id
                    ),
                ));
            }
        }
        if meta.pending_head == NO_BLOCK || meta.pending_tail == NO_BLOCK {
            return Err(corrupt(
                Some(META_BLOCK),
                "the root page names no pending list",
            ));
        }
        Ok(())
    }

    /// Walks the free-list queue: its pages are claimed, its waiting entries become the free set.
    fn free_list(&mut self, meta: &Meta) -> Result<(), Corruption> {
        let mut block = meta.free_head;
        let mut first = true;
        let mut last = NO_BLOCK;
        let mut waiting = 0u64;
        if (meta.free_head == NO_BLOCK) != (meta.free_tail == NO_BLOCK) {
            return Err(corrupt(
                Some(META_BLOCK),
                "the free-list queue has a head without a tail or a tail without a head",
            ));
        }
        while block != NO_BLOCK {
            if self.owners.contains_key(&block) {
                return Err(corrupt(
                    Some(block),
                    "the free-list queue loops or runs into a page in use",
                ));
            }
            self.claim(block, "the free-list queue")?;
            self.report.free_list_pages += 1;
            let page = self
                .pages
                .read_any(block, |state, data| {
                    if state.kind != PageKind::FreeList {
                        return Err(IndexError::Corrupt(
                            "the free-list queue leads to another kind of page",
                        ));
                    }
                    FreeListPage::decode(data)
                })
                .and_then(|page| page)
                .map_err(|error| corrupt(Some(block), reason(&error)))?;
            let taken = if first {
                usize::from(meta.free_head_taken)
            } else {
                0
            };
            if taken > page.entries.len() {
                return Err(corrupt(Some(block), format!("the root page says {taken} entries of the queue's head are taken, it holds {}", page.entries.len())));
            }
            for &(free, _) in &page.entries[taken..] {
                if free == META_BLOCK || free >= self.pages.file.block_count() {
                    return Err(corrupt(Some(block), format!("the free-list queue holds page {free}, which is the root or past the end")));
                }
                if !self.pages.free.insert(free) {
                    return Err(corrupt(
                        Some(block),
                        format!("page {free} is in the free-list queue twice"),
                    ));
                }
                waiting += 1;
            }
            first = false;
            last = block;
            block = page.next;
        }
        if last != meta.free_tail {
            return Err(corrupt(
                Some(META_BLOCK),
                format!(
                    "the free-list queue ends at page {last}, the root page says {}",
                    meta.free_tail
                ),
            ));
        }
        if waiting != meta.free_pages {
            return Err(corrupt(
                Some(META_BLOCK),
                format!(
                    "the root page counts {} free pages, the free-list queue holds {waiting}",
                    meta.free_pages
                ),
            ));
        }
        self.report.free_pages = waiting;
        Ok(())
    }

    /// Walks a pending chain; returns its complete documents.
    fn pending_list(
        &mut self,
        head: u32,
        tail: Option<u32>,
        name: &str,
    ) -> Result<u64, Corruption> {
        let mut assembler = Assembler::new();
        let mut documents = 0u64;
        let mut block = head;
        let mut last = NO_BLOCK;
        while block != NO_BLOCK {
            if self.owners.contains_key(&block) {
                return Err(corrupt(
                    Some(block),
                    format!("{name} loops or runs into a page in use"),
                ));
            }
            self.claim(block, name)?;
            let mut found = Vec::new();
            let next = self
                .pages
                .read_any(block, |state, data| {
                    if state.kind != PageKind::Pending {
                        return Err(IndexError::Corrupt(
                            "a pending list leads to another kind of page",
                        ));
                    }
                    if state.freed {
                        return Err(IndexError::Corrupt(
                            "a pending list holds a page marked freed",
                        ));
                    }
                    for record in pending::records(data)? {
                        found.extend(assembler.feed(record)?);
                    }
                    pending::next_page(data)
                })
                .and_then(|next| next)
                .map_err(|error| corrupt(Some(block), format!("{name}: {}", reason(&error))))?;
            for document in &found {
                self.add_entry(document.tid, fingerprint(document), name)?;
            }
            documents += found.len() as u64;
            last = block;
            block = next;
        }
        if let Some(tail) = tail.filter(|&tail| tail != last) {
            return Err(corrupt(
                Some(META_BLOCK),
                format!("{name} ends at page {last}, the root page says {tail}"),
            ));
        }
        self.report.interrupted_documents +=
            assembler.abandoned() + u64::from(assembler.is_partial());
        Ok(documents)
    }

    fn add_entry(
        &mut self,
        tid: Tid,
        fingerprint: Fingerprint,
        place: &str,
    ) -> Result<(), Corruption> {
        if let Some(entries) = self.entries.as_mut() {
            if entries.insert(tid, fingerprint).is_some() {
                return Err(corrupt(
                    None,
                    format!(
                        "heap row {} is in the index twice as a live document (again in {place})",
                        tid_text(tid)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn segment(&mut self, entry: &SegmentEntry) -> Result<(), Corruption> {
        let name = format!("segment {}", entry.id);
        let at = |pages: &RecordPages<'_, F>, error: IndexError| {
            corrupt(pages.last.get(), format!("{name}: {}", reason(&error)))
        };
        self.pages.touched.borrow_mut().clear();
        let listed =
            read_block_list(&self.pages, entry.pages).map_err(|error| at(&self.pages, error))?;
        for &block in &listed {
            self.claim(block, &name)?;
        }
        let (deleted, deleted_blocks) =
            read_deleted(&self.pages, entry.deleted).map_err(|error| at(&self.pages, error))?;
        for &block in &deleted_blocks {
            self.claim(block, &format!("{name}'s deleted list"))?;
        }
        let segment =
            Segment::open(&self.pages, entry.header).map_err(|error| at(&self.pages, error))?;
        let header = Some(entry.header.block);
        if segment.documents != entry.documents {
            return Err(corrupt(
                header,
                format!(
                    "{name} holds {} documents, the root page says {}",
                    segment.documents, entry.documents
                ),
            ));
        }
        let documents =
            PostingCursor::open(&self.pages, segment.all_documents(), &KeyRanges::all())
                .and_then(|mut cursor| cursor.collect(&self.pages))
                .map_err(|error| at(&self.pages, error))?;
        if documents.len() as u64 != segment.documents {
            return Err(corrupt(
                header,
                format!(
                    "{name} lists {} documents, its header says {}",
                    documents.len(),
                    segment.documents
                ),
            ));
        }
        if let Some(posting) = documents.iter().find(|posting| posting.frequency != 1) {
            return Err(corrupt(
                header,
                format!(
                    "{name}'s document list has a frequency of {} for heap row {}",
                    posting.frequency,
                    tid_text(key_tid(posting.key))
                ),
            ));
        }

        // Per-project statistics: the project table against the document list.
        let projects = segment.projects().map_err(|error| at(&self.pages, error))?;
        if projects.len() as u64 != segment.project_count {
            return Err(corrupt(
                header,
                format!(
                    "{name}'s project table holds {} projects, its header says {}",
                    projects.len(),
                    segment.project_count
                ),
            ));
        }
        let mut counted = vec![(0u64, 0u64); projects.len()];
        for document in &documents {
            let number = key_project(document.key) as usize;
            let slot = counted.get_mut(number).ok_or_else(|| {
                corrupt(header, format!("{name} has a document of project number {number}, its project table has {}", projects.len()))
            })?;
            slot.0 += 1;
            slot.1 += u64::from(document.length);
        }
        for (position, ((id, project), (documents, length))) in
            projects.iter().zip(&counted).enumerate()
        {
            if project.number as usize != position
                || (position > 0 && projects[position - 1].0 >= *id)
            {
                return Err(corrupt(
                    header,
                    format!(
                        "{name}'s project table is out of order at number {}",
                        project.number
                    ),
                ));
            }
            if project.documents != *documents || project.length != *length {
                return Err(corrupt(
                    header,
                    format!(
                        "{name}'s statistics for project {}: {} documents of total length {} in its project table, {} of length {} in its postings",
                        uuid_text(id),
                        project.documents,
                        project.length,
                        documents,
                        length
                    ),
                ));
            }
            if segment
                .project(id)
                .map_err(|error| at(&self.pages, error))?
                != Some(*project)
            {
                return Err(corrupt(
                    header,
                    format!(
                        "{name}'s project table does not lead to project {}",
                        uuid_text(id)
                    ),
                ));
            }
        }
        let total: u64 = counted.iter().map(|(_, length)| length).sum();
        if total != segment.total_length {
            return Err(corrupt(header, format!("{name}'s header says its documents' total length is {}, they add up to {total}", segment.total_length)));
        }

        // Deleted documents: some of the segment's, with their lengths.
        if deleted.len() as u64 != entry.deleted_documents {
            return Err(corrupt(Some(META_BLOCK), format!("the root page counts {} deleted documents in {name}, its deleted list holds {}", entry.deleted_documents, deleted.len())));
        }
        for &(key, length) in &deleted {
            match documents.binary_search_by_key(&key, |posting| posting.key) {
                Ok(at) if documents[at].length == length => {}
                _ => return Err(corrupt(deleted_blocks.first().copied(), format!("{name}'s deleted list names heap row {} which the segment does not hold so", tid_text(key_tid(key))))),
            }
        }

        let mut accumulated: HashMap<u64, (u64, u32)> = HashMap::new();
        let collect = self.entries.is_some();
        let (terms, postings, blocks) = dictionary(
            &self.pages,
            &segment,
            &name,
            &documents,
            collect.then_some(&mut accumulated),
        )?;
        if terms != segment.terms {
            return Err(corrupt(
                header,
                format!(
                    "{name}'s dictionary holds {terms} terms, its header says {}",
                    segment.terms
                ),
            ));
        }
        let segment_documents = segment.documents;
        drop(segment);
        self.report.terms += terms;
        self.report.postings += postings;
        self.report.posting_blocks += blocks;

        // Every page the segment's structures lead to is one of its own.
        let touched: Vec<u32> = self.pages.touched.borrow().iter().copied().collect();
        for block in touched {
            if listed.binary_search(&block).is_err() && !deleted_blocks.contains(&block) {
                let owner = self
                    .owners
                    .get(&block)
                    .cloned()
                    .unwrap_or_else(|| "nothing".to_string());
                return Err(corrupt(Some(block), format!("{name} reads the page, which its page list does not name (it belongs to {owner})")));
            }
        }

        if self.entries.is_some() {
            for document in &documents {
                if deleted
                    .binary_search_by_key(&document.key, |(key, _)| *key)
                    .is_ok()
                {
                    continue;
                }
                let (hash, terms) = accumulated.get(&document.key).copied().unwrap_or((0, 0));
                let project = projects[key_project(document.key) as usize].0;
                let print = Fingerprint {
                    project,
                    length: document.length,
                    terms,
                    hash,
                };
                self.add_entry(key_tid(document.key), print, &name)?;
            }
        }
        self.report.segments += 1;
        self.report.segment_documents += segment_documents;
        self.report.deleted_documents += entry.deleted_documents;
        Ok(())
    }
}

/// Checks a segment's dictionary and every posting list against its document list; adds each
/// posting's term to its document's fingerprint in `accumulated`, if given. Returns the numbers of
/// terms, postings and posting blocks.
fn dictionary<F: IndexFile>(
    pages: &RecordPages<'_, F>,
    segment: &Segment<'_, RecordPages<'_, F>>,
    name: &str,
    documents: &[Posting],
    mut accumulated: Option<&mut HashMap<u64, (u64, u32)>>,
) -> Result<(u64, u64, u64), Corruption> {
    let at = |error: IndexError| corrupt(pages.last.get(), format!("{name}: {}", reason(&error)));
    let mut cursor = segment.terms_from(b"").map_err(at)?;
    let mut previous: Option<Vec<u8>> = None;
    let mut terms = 0u64;
    let (mut postings, mut blocks) = (0u64, 0u64);
    while let Some((term, value)) = cursor.next().map_err(at)? {
        let shown = String::from_utf8_lossy(&term).into_owned();
        if previous.as_ref().is_some_and(|previous| *previous >= term) {
            return Err(corrupt(
                pages.last.get(),
                format!("{name}'s dictionary is out of order at term \"{shown}\""),
            ));
        }
        if segment.term(&term).map_err(at)?.as_deref() != Some(value.as_slice()) {
            return Err(corrupt(
                pages.last.get(),
                format!("{name}'s dictionary does not lead to term \"{shown}\" from its root"),
            ));
        }
        terms += 1;
        let expected = document_frequency(&value).map_err(at)?;
        let mut list = PostingCursor::open(pages, &value, &KeyRanges::all()).map_err(at)?;
        let mut found = 0u64;
        let mut last_key: Option<u64> = None;
        let mut problem: Option<Corruption> = None;
        list.visit_blocks(pages, |block, stored| {
                let where_ = if block.pointer.is_none() { None } else { Some(block.pointer.block) };
                let fail = |message: String| Some(corrupt(where_.or(pages.last.get()), format!("{name}, term \"{shown}\": {message}")));
                blocks += 1;
                let list = &stored.postings;
                let (Some(first), Some(last)) = (list.first(), list.last()) else {
                    problem = fail("an empty posting block".into());
                    return Err(IndexError::Corrupt("stop"));
                };
                if last_key.is_some_and(|previous| first.key <= previous) {
                    problem = fail(format!("postings out of order: heap row {} after {}", tid_text(key_tid(first.key)), tid_text(key_tid(last_key.unwrap_or(0)))));
                    return Err(IndexError::Corrupt("stop"));
                }
                if !block.pointer.is_none() {
                    if list.len() > BLOCK_POSTINGS {
                        problem = fail(format!("a block of {} postings, more than {BLOCK_POSTINGS}", list.len()));
                        return Err(IndexError::Corrupt("stop"));
                    }
                    if key_project(first.key) != key_project(last.key) {
                        problem = fail("a posting block spans two projects".into());
                        return Err(IndexError::Corrupt("stop"));
                    }
                }
                for (index, posting) in list.iter().enumerate() {
                    let dominated = block.impacts.iter().any(|&(frequency, length)| frequency >= posting.frequency && length <= posting.length);
                    if !dominated {
                        problem = fail(format!(
                            "the block-max bound is lower than the block's best score: heap row {} (frequency {}, length {}) beats every impact {:?}",
                            tid_text(key_tid(posting.key)),
                            posting.frequency,
                            posting.length,
                            block.impacts
                        ));
                        return Err(IndexError::Corrupt("stop"));
                    }
                    match documents.binary_search_by_key(&posting.key, |document| document.key) {
                        Ok(at) if documents[at].length == posting.length => {}
                        Ok(at) => {
                            problem = fail(format!(
                                "heap row {} has length {} here and {} in the segment's document list",
                                tid_text(key_tid(posting.key)),
                                posting.length,
                                documents[at].length
                            ));
                            return Err(IndexError::Corrupt("stop"));
                        }
                        Err(_) => {
                            problem = fail(format!("a posting for heap row {}, which the segment's document list does not hold", tid_text(key_tid(posting.key))));
                            return Err(IndexError::Corrupt("stop"));
                        }
                    }
                    let positions = stored.positions(index);
                    if positions.windows(2).any(|pair| pair[0] >= pair[1]) {
                        problem = fail(format!("the positions of heap row {} are out of order", tid_text(key_tid(posting.key))));
                        return Err(IndexError::Corrupt("stop"));
                    }
                    if let Some(accumulated) = accumulated.as_deref_mut() {
                        let slot = accumulated.entry(posting.key).or_default();
                        slot.0 = slot.0.wrapping_add(term_hash(&term, posting.frequency, positions));
                        slot.1 += 1;
                    }
                }
                found += list.len() as u64;
                last_key = Some(last.key);
                Ok(())
            })
            .map_err(|error| problem.take().unwrap_or_else(|| at(error)))?;
        if found != expected {
            return Err(corrupt(pages.last.get(), format!("{name}, term \"{shown}\": the dictionary says {expected} documents, the list holds {found}")));
        }
        postings += found;
        previous = Some(term);
    }
    Ok((terms, postings, blocks))
}

fn uuid_text(id: &ProjectId) -> String {
    let hex: String = id.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Compares the table's rows with the index's live documents, one row at a time.
pub struct HeapCheck {
    entries: Entries,
    matched: HashSet<Tid>,
    pub rows: u64,
}

impl HeapCheck {
    pub fn new(entries: Entries) -> HeapCheck {
        HeapCheck {
            entries,
            matched: HashSet::new(),
            rows: 0,
        }
    }

    /// A row that is to be in the index, as the index would take it. A row may come more than once
    /// (the versions of a HOT chain share their root's tuple id and their indexed values).
    pub fn row(&mut self, document: &Document) -> Result<(), Corruption> {
        self.rows += 1;
        let tid = tid_text(document.tid);
        let Some(indexed) = self.entries.get(&document.tid) else {
            return Err(corrupt(None, format!("heap row {tid} is not in the index")));
        };
        let expected = fingerprint(document);
        if indexed.project != expected.project {
            return Err(corrupt(
                None,
                format!(
                    "the index holds heap row {tid} under project {}, the row is in {}",
                    uuid_text(&indexed.project),
                    uuid_text(&expected.project)
                ),
            ));
        }
        if indexed.length != expected.length {
            return Err(corrupt(
                None,
                format!(
                    "the index holds heap row {tid} with length {}, its search vector has {}",
                    indexed.length, expected.length
                ),
            ));
        }
        if indexed.terms != expected.terms || indexed.hash != expected.hash {
            return Err(corrupt(
                None,
                format!(
                    "the index holds heap row {tid} with other terms, frequencies or positions than its search vector ({} terms indexed, {} in the row)",
                    indexed.terms, expected.terms
                ),
            ));
        }
        self.matched.insert(document.tid);
        Ok(())
    }

    /// Live documents of the index no row matched: rows deleted (or inserted by transactions that
    /// aborted) that vacuum has not yet recorded deleted.
    pub fn unmatched(&self) -> u64 {
        (self.entries.len() - self.matched.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::deleted::write_deleted;
    use crate::search_index::meta::SegmentEntry;
    use crate::search_index::pages::Pointer;
    use crate::search_index::pages::RecordWriter;
    use crate::search_index::pages::{PageSink, PAGE_DATA_BYTES};
    use crate::search_index::pending::encode_document;
    use crate::search_index::postings::document_key;
    use crate::search_index::segment::build_segment;
    use crate::search_index::segment::tests::document;

    /// An index in memory, laid out as the extension lays it out in pages.
    #[derive(Default)]
    struct TestIndex {
        pages: RefCell<Vec<(PageState, Vec<u8>)>>,
    }

    impl TestIndex {
        fn push(&self, kind: PageKind, data: &[u8]) -> u32 {
            let mut page = data.to_vec();
            page.resize(PAGE_DATA_BYTES, 0);
            let mut pages = self.pages.borrow_mut();
            pages.push((PageState { kind, freed: false }, page));
            (pages.len() - 1) as u32
        }

        fn set(&self, block: u32, kind: PageKind, data: &[u8]) {
            let mut page = data.to_vec();
            page.resize(PAGE_DATA_BYTES, 0);
            self.pages.borrow_mut()[block as usize] = (PageState { kind, freed: false }, page);
        }

        fn edit(&self, block: u32, change: impl FnOnce(&mut PageState, &mut Vec<u8>)) {
            let mut pages = self.pages.borrow_mut();
            let (state, data) = &mut pages[block as usize];
            change(state, data);
        }

        fn meta(&self) -> Meta {
            Meta::decode(&self.pages.borrow()[0].1).unwrap()
        }

        fn set_meta(&self, meta: &Meta) {
            self.set(META_BLOCK, PageKind::Meta, &meta.encode().unwrap());
        }
    }

    impl PageSource for TestIndex {
        fn with_page<R>(&self, block: u32, read: impl FnOnce(&[u8]) -> R) -> Result<R, IndexError> {
            let pages = self.pages.borrow();
            let (_, data) = pages
                .get(block as usize)
                .ok_or(IndexError::Corrupt("a page is missing"))?;
            Ok(read(data))
        }
    }

    impl PageSink for TestIndex {
        fn allocate(&self) -> Result<u32, IndexError> {
            Ok(self.push(PageKind::Records, &[]))
        }

        fn write(&self, block: u32, data: &[u8]) -> Result<(), IndexError> {
            self.set(block, PageKind::Records, data);
            Ok(())
        }
    }

    impl IndexFile for TestIndex {
        fn block_count(&self) -> u32 {
            self.pages.borrow().len() as u32
        }

        fn read_page<R>(
            &self,
            block: u32,
            read: impl FnOnce(PageState, &[u8]) -> R,
        ) -> Result<R, IndexError> {
            let pages = self.pages.borrow();
            let (state, data) = pages
                .get(block as usize)
                .ok_or(IndexError::Corrupt("a page is missing"))?;
            Ok(read(*state, data))
        }
    }

    fn words(i: u32) -> String {
        let rare = if i.is_multiple_of(50) { " rare" } else { "" };
        format!(
            "common word{} shared{} common{rare} tail{}",
            i % 17,
            i % 5,
            i % 3
        )
    }

    fn corpus(range: std::ops::Range<u32>) -> Vec<Document> {
        range
            .map(|i| document(i, (i % 3) as u8, &words(i)))
            .collect()
    }

    /// Two segments (the first with some documents deleted), three pending documents and two
    /// pages waiting in the free-list queue.
    fn sample() -> (TestIndex, Vec<Document>) {
        let index = TestIndex::default();
        index.push(PageKind::Meta, &[]);
        let pending_block = index.push(PageKind::Pending, &pending::empty_page());
        let mut meta = Meta::new(pending_block);
        let first = corpus(1..900);
        let second = corpus(900..1300);
        for documents in [first.clone(), second.clone()] {
            let location = build_segment(&index, documents).unwrap().unwrap();
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
        // Documents 10 and 11 of the first segment are gone.
        let gone: Vec<(u64, u32)> = first[9..11]
            .iter()
            .map(|d| (document_key(u32::from(d.project[0]), d.tid), d.length))
            .collect::<Vec<_>>();
        let mut gone = gone;
        gone.sort_unstable();
        let mut writer = RecordWriter::new(&index);
        meta.segments[0].deleted = write_deleted(&mut writer, &gone).unwrap();
        writer.finish().unwrap();
        meta.segments[0].deleted_documents = 2;
        let pending_documents = corpus(1300..1303);
        let mut page = pending::empty_page();
        page.resize(PAGE_DATA_BYTES, 0);
        for document in &pending_documents {
            for record in encode_document(document).unwrap() {
                assert!(pending::append(&mut page, &record).unwrap());
            }
        }
        index.set(pending_block, PageKind::Pending, &page);
        meta.pending_documents = 3;
        let free_a = index.push(PageKind::Records, &[]);
        let free_b = index.push(PageKind::Records, &[]);
        let queue = FreeListPage {
            next: NO_BLOCK,
            entries: vec![(free_a, 7), (free_b, 8)],
        };
        let queue_block = index.push(PageKind::FreeList, &queue.encode());
        meta.free_head = queue_block;
        meta.free_tail = queue_block;
        meta.free_pages = 2;
        index.set_meta(&meta);
        let mut live: Vec<Document> = first;
        live.drain(9..11);
        live.extend(second);
        live.extend(pending_documents);
        (index, live)
    }

    fn complaint(index: &TestIndex) -> Corruption {
        verify(index, true).expect_err("the damage is found")
    }

    #[test]
    fn a_sound_index_passes_and_is_counted() {
        let (index, live) = sample();
        let verified = verify(&index, true).unwrap();
        let report = verified.report;
        assert_eq!(
            (
                report.segments,
                report.segment_documents,
                report.deleted_documents
            ),
            (2, 1299, 2)
        );
        assert_eq!(
            (
                report.pending_documents,
                report.flushing_documents,
                report.interrupted_documents
            ),
            (3, 0, 0)
        );
        assert_eq!(
            (
                report.free_pages,
                report.free_list_pages,
                report.unreferenced_pages
            ),
            (2, 1, 0)
        );
        assert!(
            report.terms > 20 && report.postings > 4 * 1299 && report.posting_blocks > report.terms
        );
        assert_eq!(
            report.pages_checked,
            u64::from(report.blocks) - 2,
            "every page but the two free ones is read"
        );
        let entries = verified.entries.unwrap();
        assert_eq!(entries.len(), live.len());
        let mut heap = HeapCheck::new(entries);
        for document in &live {
            heap.row(document).unwrap();
        }
        assert_eq!(heap.unmatched(), 0);
    }

    #[test]
    fn the_heap_check_finds_rows_missing_or_indexed_otherwise_and_counts_dead_entries() {
        let (index, live) = sample();
        let entries = verify(&index, true).unwrap().entries.unwrap();
        let mut heap = HeapCheck::new(entries.clone());
        for document in &live[1..] {
            heap.row(document).unwrap();
        }
        assert_eq!(
            heap.unmatched(),
            1,
            "a row deleted and not yet vacuumed is a dead entry"
        );
        let missing = document(5000, 1, "not indexed");
        assert!(HeapCheck::new(entries.clone())
            .row(&missing)
            .unwrap_err()
            .message
            .contains("(5000,1) is not in the index"));
        let mut changed = document(
            live[0].tid.block,
            live[0].project[0],
            &words(live[0].tid.block),
        );
        changed.length += 1;
        assert!(HeapCheck::new(entries.clone())
            .row(&changed)
            .unwrap_err()
            .message
            .contains("with length"));
        let other_terms = document(
            live[0].tid.block,
            live[0].project[0],
            "common common other words here",
        );
        let message = HeapCheck::new(entries.clone())
            .row(&other_terms)
            .unwrap_err()
            .message;
        assert!(
            message.contains("other terms, frequencies or positions"),
            "{message}"
        );
        let other_project = document(live[0].tid.block, 2, &words(live[0].tid.block));
        assert!(HeapCheck::new(entries)
            .row(&other_project)
            .unwrap_err()
            .message
            .contains("under project"));
    }

    /// The first posting block of `term` in the first segment: where its record is.
    fn first_block_of(index: &TestIndex, term: &[u8]) -> Pointer {
        let meta = index.meta();
        let segment = Segment::open(index, meta.segments[0].header).unwrap();
        let value = segment.term(term).unwrap().unwrap();
        let mut cursor = PostingCursor::open(index, &value, &KeyRanges::all()).unwrap();
        let mut pointer = Pointer::NONE;
        cursor
            .visit_blocks(index, |block, _| {
                if pointer.is_none() {
                    pointer = block.pointer;
                }
                Ok(())
            })
            .unwrap();
        assert!(!pointer.is_none());
        pointer
    }

    /// The byte offsets, in its page, of the first two postings' fields of a block record.
    fn posting_fields(index: &TestIndex, pointer: Pointer) -> Vec<[usize; 3]> {
        let start = usize::from(pointer.offset) + 2;
        let pages = index.pages.borrow();
        let record = &pages[pointer.block as usize].1[start..];
        let mut reader = crate::search_index::encoding::Reader::new(record);
        reader.u8().unwrap();
        let mut fields = Vec::new();
        for _ in 0..2 {
            let mut at = [0; 3];
            for slot in &mut at {
                *slot = start + reader.position();
                reader.varint().unwrap();
            }
            fields.push(at);
        }
        fields
    }

    #[test]
    fn postings_out_of_order_are_found() {
        let (index, _) = sample();
        let pointer = first_block_of(&index, b"common");
        let fields = posting_fields(&index, pointer);
        // The second posting's key delta becomes 0: the same document twice.
        index.edit(pointer.block, |_, data| data[fields[1][0]] = 0);
        let found = complaint(&index);
        assert_eq!(found.block, Some(pointer.block));
        assert!(
            found.message.contains("segment 1") && found.message.contains("not ascending"),
            "{found}"
        );
    }

    #[test]
    fn a_block_max_bound_below_a_postings_score_is_found() {
        let (index, _) = sample();
        let pointer = first_block_of(&index, b"common");
        let fields = posting_fields(&index, pointer);
        // A frequency far above any impact of the block (one varint byte).
        index.edit(pointer.block, |_, data| data[fields[0][1]] = 100);
        let found = complaint(&index);
        assert_eq!(found.block, Some(pointer.block));
        assert!(
            found.message.contains("block-max bound is lower"),
            "{found}"
        );
    }

    #[test]
    fn a_posting_length_other_than_the_documents_is_found() {
        let (index, _) = sample();
        let pointer = first_block_of(&index, b"common");
        let fields = posting_fields(&index, pointer);
        index.edit(pointer.block, |_, data| data[fields[0][2]] = 100);
        let found = complaint(&index);
        assert!(found.message.contains("has length 100 here"), "{found}");
    }

    #[test]
    fn per_project_statistics_that_disagree_with_the_postings_are_found() {
        let (index, _) = sample();
        // The project table's entry for project [1; 16]: key, then number, documents, length.
        let key = [1u8; 16];
        let meta = index.meta();
        let segment = Segment::open(&index, meta.segments[0].header).unwrap();
        assert_eq!(segment.project(&key).unwrap().unwrap().documents, 300);
        let mut spot = None;
        for (block, (state, data)) in index.pages.borrow().iter().enumerate() {
            if state.kind == PageKind::Records {
                if let Some(at) = data
                    .windows(17)
                    .position(|window| window[0] == 16 && window[1..] == key)
                {
                    spot.get_or_insert((block, at + 17));
                }
            }
        }
        let (block, at) = spot.expect("the project table");
        // After the key: payload length, number (1), documents (300 as a two-byte varint).
        index.edit(block as u32, |_, data| data[at + 2] ^= 1);
        let found = complaint(&index);
        assert!(
            found
                .message
                .contains("statistics for project 01010101-0101"),
            "{found}"
        );
    }

    #[test]
    fn a_page_both_free_and_in_a_segment_is_found() {
        let (index, _) = sample();
        let pointer = first_block_of(&index, b"common");
        let mut meta = index.meta();
        let queue = FreeListPage {
            next: NO_BLOCK,
            entries: vec![(pointer.block, 1)],
        };
        let queue_block = index.push(PageKind::FreeList, &queue.encode());
        let old = meta.free_tail;
        index.edit(old, |_, data| {
            data[..4].copy_from_slice(&queue_block.to_le_bytes())
        });
        meta.free_tail = queue_block;
        meta.free_pages += 1;
        index.set_meta(&meta);
        let found = complaint(&index);
        assert_eq!(found.block, Some(pointer.block));
        assert!(found.message.contains("free-list queue"), "{found}");
    }

    #[test]
    fn a_segment_reading_a_freed_page_or_another_kind_is_found() {
        let (index, _) = sample();
        let pointer = first_block_of(&index, b"common");
        index.edit(pointer.block, |state, _| state.freed = true);
        assert!(complaint(&index).message.contains("marked freed"));
        index.edit(pointer.block, |state, _| {
            *state = PageState {
                kind: PageKind::Pending,
                freed: false,
            }
        });
        assert!(complaint(&index).message.contains("holds no records"));
    }

    #[test]
    fn counts_on_the_root_page_that_disagree_are_found() {
        let (index, _) = sample();
        let sound = index.meta();
        let mut meta = sound.clone();
        meta.free_pages = 5;
        index.set_meta(&meta);
        assert!(complaint(&index).message.contains("counts 5 free pages"));
        let mut meta = sound.clone();
        meta.pending_documents = 4;
        index.set_meta(&meta);
        assert!(complaint(&index).message.contains("4 pending documents"));
        let mut meta = sound.clone();
        meta.segments[1].documents += 1;
        index.set_meta(&meta);
        assert!(complaint(&index).message.contains("the root page says 401"));
        let mut meta = sound.clone();
        meta.segments[0].deleted_documents = 1;
        index.set_meta(&meta);
        assert!(complaint(&index).message.contains("1 deleted documents"));
        let mut meta = sound;
        meta.segments[1].id = meta.segments[0].id;
        index.set_meta(&meta);
        assert!(complaint(&index).message.contains("repeated"));
    }

    #[test]
    fn a_pending_list_that_loops_or_a_page_used_twice_is_found() {
        let (index, _) = sample();
        let meta = index.meta();
        index.edit(meta.pending_head, |_, data| {
            pending::set_next_page(data, meta.pending_head)
        });
        assert!(complaint(&index).message.contains("loops"));
        let (index, _) = sample();
        let mut meta = index.meta();
        meta.spare = meta.pending_head;
        index.set_meta(&meta);
        assert!(complaint(&index).message.contains("part of both"));
    }

    #[test]
    fn an_insert_interrupted_mid_document_is_counted_not_condemned() {
        let (index, live) = sample();
        let meta = index.meta();
        let text: String = (0..3_000).map(|i| format!("term{i:05} ")).collect();
        let interrupted = encode_document(&document(7000, 1, &text)).unwrap();
        let next = document(7001, 1, "after the crash");
        let mut extra = pending::empty_page();
        extra.resize(PAGE_DATA_BYTES, 0);
        assert!(pending::append(&mut extra, &interrupted[0]).unwrap());
        let second = index.push(PageKind::Pending, &extra);
        let mut last = pending::empty_page();
        last.resize(PAGE_DATA_BYTES, 0);
        assert!(pending::append(&mut last, &encode_document(&next).unwrap()[0]).unwrap());
        let third = index.push(PageKind::Pending, &last);
        index.edit(meta.pending_head, |_, data| {
            pending::set_next_page(data, second)
        });
        index.edit(second, |_, data| pending::set_next_page(data, third));
        let mut meta = meta;
        meta.pending_tail = third;
        meta.pending_documents += 1;
        index.set_meta(&meta);
        let verified = verify(&index, true).unwrap();
        assert_eq!(verified.report.interrupted_documents, 1);
        assert_eq!(verified.report.pending_documents, 4);
        let mut heap = HeapCheck::new(verified.entries.unwrap());
        for document in live.iter().chain([&next]) {
            heap.row(document).unwrap();
        }
    }

    #[test]
    fn pages_nobody_uses_are_counted_not_condemned() {
        let (index, _) = sample();
        index.push(PageKind::Records, &[]);
        index.push(PageKind::Unknown, &[]);
        assert_eq!(verify(&index, false).unwrap().report.unreferenced_pages, 2);
    }
}
