//! The index's pages in PostgreSQL: buffers, page headers, write-ahead logging and free space.
//!
//! Every page has PostgreSQL's standard header, the core's data area (`PAGE_DATA_BYTES`) and a
//! 16-byte trailer: its kind, whether it is freed, and when its contents were written. Every change
//! goes through generic WAL records, so the index survives crashes and replicates. A freed page
//! keeps its contents; it is reused only once no running transaction can be reading it. Searches
//! read segments and the pending list without holding locks, relying on this.
//!
//! On a hot standby that rule is the primary's, which knows nothing of the standby's queries
//! (unless `hot_standby_feedback` is on), and generic WAL cannot make replay wait for them or
//! cancel them as PostgreSQL's own indexes do. So a reader there checks what it reads instead: a
//! search's view of the index is the root page at one WAL position, and every page it reads later
//! must hold what it held then (`IndexPages::reading`); a page reused since cancels the query the
//! way a recovery conflict does.

use cco_core::search_index::meta::{read_view, FreeListPage, Meta, ViewRead};
use cco_core::search_index::pages::{PageSink, PageSource, PAGE_DATA_BYTES};
use cco_core::search_index::pending::{self, Assembler, NO_BLOCK};
use cco_core::search_index::search::Projects;
use cco_core::search_index::segment::Document;
use cco_core::search_index::verify::{PageKind as CheckedKind, PageState as CheckedState};
use cco_core::search_index::IndexError;
use pgrx::pg_sys;

pub const META_BLOCK: u32 = 0;
const HEADER_BYTES: usize = 24;
const TRAILER_BYTES: usize = 16;
const TRAILER_AT: usize = HEADER_BYTES + PAGE_DATA_BYTES;
const FREED: u16 = 1;
const _: () = assert!(pg_sys::BLCKSZ as usize == HEADER_BYTES + PAGE_DATA_BYTES + TRAILER_BYTES);
const _: () = assert!(std::mem::offset_of!(pg_sys::PageHeaderData, pd_linp) == HEADER_BYTES);

/// What a page holds, in its trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum PageKind {
    Meta = 1,
    Pending = 2,
    Records = 3,
    FreeList = 4,
}

/// The trailer: `[kind u16][flags u16][unused u32][contents written at u64]`. The freed flag is for
/// whoever inspects the pages (the free-list queue is what allocation reads); a freed page also
/// keeps the WAL position its contents were written at, for readers on a standby.
///
/// # Safety
/// `page` points to a page of this index (BLCKSZ bytes).
unsafe fn trailer<'a>(page: pg_sys::Page) -> &'a mut [u8] {
    unsafe { std::slice::from_raw_parts_mut((page as *mut u8).add(TRAILER_AT), TRAILER_BYTES) }
}

fn page_kind(page: pg_sys::Page) -> Option<PageKind> {
    // SAFETY: a page of this index.
    let bytes = unsafe { trailer(page) };
    match u16::from_le_bytes([bytes[0], bytes[1]]) {
        1 => Some(PageKind::Meta),
        2 => Some(PageKind::Pending),
        3 => Some(PageKind::Records),
        4 => Some(PageKind::FreeList),
        _ => None,
    }
}

/// The data area of a page.
///
/// # Safety
/// `page` must point to a pinned buffer's page (or a generic WAL copy of one), locked as needed.
unsafe fn data<'a>(page: pg_sys::Page) -> &'a mut [u8] {
    unsafe { std::slice::from_raw_parts_mut((page as *mut u8).add(HEADER_BYTES), PAGE_DATA_BYTES) }
}

/// Makes `page` an empty page of `kind` holding `contents`.
///
/// # Safety
/// As for `data`, with the page writable.
unsafe fn format_page(page: pg_sys::Page, kind: PageKind, contents: &[u8]) {
    unsafe {
        pg_sys::PageInit(page, pg_sys::BLCKSZ as usize, TRAILER_BYTES);
        trailer(page)[..2].copy_from_slice(&(kind as u16).to_le_bytes());
        data(page)[..contents.len()].copy_from_slice(contents);
        set_used(page, contents.len());
    }
}

/// Changes a page of `kind` in place: its data area from the start, the trailer kept. Logged as
/// a difference from the page before, so a small change costs a small WAL record.
///
/// # Safety
/// As for `data`, with the page writable and already formatted.
unsafe fn overwrite_page(page: pg_sys::Page, kind: PageKind, contents: &[u8]) {
    unsafe {
        trailer(page).fill(0);
        trailer(page)[..2].copy_from_slice(&(kind as u16).to_le_bytes());
        data(page)[..contents.len()].copy_from_slice(contents);
        set_used(page, contents.len());
    }
}

/// The WAL position of a page's last change (`PageGetLSN`).
///
/// # Safety
/// As for `data`.
unsafe fn page_lsn(page: pg_sys::Page) -> u64 {
    let header = unsafe { &*(page as *const pg_sys::PageHeaderData) };
    (u64::from(header.pd_lsn.xlogid) << 32) | u64::from(header.pd_lsn.xrecoff)
}

/// Tells PostgreSQL how much of the data area is in use, so WAL full-page images skip the rest.
unsafe fn set_used(page: pg_sys::Page, used: usize) {
    unsafe {
        (*(page as *mut pg_sys::PageHeaderData)).pd_lower =
            (HEADER_BYTES + used.min(PAGE_DATA_BYTES)) as u16;
    }
}

/// A pinned buffer, share- or exclusive-locked; unlocked and unpinned when dropped.
pub struct Locked {
    buffer: pg_sys::Buffer,
}

impl Locked {
    pub fn share(index: pg_sys::Relation, block: u32) -> Locked {
        Self::lock(index, block, pg_sys::BUFFER_LOCK_SHARE)
    }

    pub fn exclusive(index: pg_sys::Relation, block: u32) -> Locked {
        Self::lock(index, block, pg_sys::BUFFER_LOCK_EXCLUSIVE)
    }

    fn lock(index: pg_sys::Relation, block: u32, mode: u32) -> Locked {
        // SAFETY: the index is open; reading a block past its end raises a PostgreSQL error.
        unsafe {
            let buffer = pg_sys::ReadBufferExtended(
                index,
                pg_sys::ForkNumber::MAIN_FORKNUM,
                block,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buffer, mode as i32);
            Locked { buffer }
        }
    }

    pub fn page(&self) -> pg_sys::Page {
        // SAFETY: the buffer is pinned.
        unsafe { pg_sys::BufferGetPage(self.buffer) }
    }

    pub fn kind(&self) -> Option<PageKind> {
        page_kind(self.page())
    }

    pub fn data(&self) -> &[u8] {
        // SAFETY: pinned and locked.
        unsafe { data(self.page()) }
    }

    /// The WAL position of the page's last change.
    pub fn lsn(&self) -> u64 {
        // SAFETY: pinned and locked.
        unsafe { page_lsn(self.page()) }
    }

    /// For a freed page, the WAL position its contents were written at.
    pub fn contents_written_at(&self) -> u64 {
        // SAFETY: pinned and locked.
        let trailer = unsafe { trailer(self.page()) };
        u64::from_le_bytes(trailer[8..16].try_into().expect("eight bytes"))
    }

    /// The page's kind and freed mark, as a check of the index reads them.
    pub fn checked_state(&self) -> CheckedState {
        let kind = match self.kind() {
            Some(PageKind::Meta) => CheckedKind::Meta,
            Some(PageKind::Pending) => CheckedKind::Pending,
            Some(PageKind::Records) => CheckedKind::Records,
            Some(PageKind::FreeList) => CheckedKind::FreeList,
            None => CheckedKind::Unknown,
        };
        // SAFETY: pinned and locked.
        let flags = unsafe { trailer(self.page()) };
        CheckedState {
            kind,
            freed: u16::from_le_bytes([flags[2], flags[3]]) & FREED != 0,
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        // SAFETY: pinned and locked by us.
        unsafe { pg_sys::UnlockReleaseBuffer(self.buffer) }
    }
}

/// One generic WAL record changing up to four locked buffers atomically.
pub struct Change {
    state: *mut pg_sys::GenericXLogState,
    registered: usize,
}

impl Change {
    pub fn start(index: pg_sys::Relation) -> Change {
        // SAFETY: the index is open.
        Change {
            state: unsafe { pg_sys::GenericXLogStart(index) },
            registered: 0,
        }
    }

    /// The copy of a page to modify; `whole` logs the full page (for pages rewritten entirely).
    pub fn page(&mut self, locked: &Locked, whole: bool) -> pg_sys::Page {
        assert!(
            self.registered < 4,
            "a generic WAL record holds at most four pages"
        );
        self.registered += 1;
        let flags = if whole {
            pg_sys::GENERIC_XLOG_FULL_IMAGE as i32
        } else {
            0
        };
        // SAFETY: the buffer is exclusively locked by the caller.
        unsafe { pg_sys::GenericXLogRegisterBuffer(self.state, locked.buffer, flags) }
    }

    pub fn finish(self) {
        // SAFETY: every registered buffer is still locked.
        unsafe {
            pg_sys::GenericXLogFinish(self.state);
        }
    }
}

/// Rewrites a locked page as `kind` with `contents`, logged as a full image.
pub fn rewrite(index: pg_sys::Relation, locked: &Locked, kind: PageKind, contents: &[u8]) {
    let mut change = Change::start(index);
    let page = change.page(locked, true);
    // SAFETY: the copy is ours until finish.
    unsafe { format_page(page, kind, contents) };
    change.finish();
}

pub fn read_meta(index: pg_sys::Relation) -> Result<Meta, IndexError> {
    Ok(read_meta_for_reader(index)?.0)
}

/// The root page and, on a standby, the view of the index a search reading it takes.
pub fn read_meta_for_reader(index: pg_sys::Relation) -> Result<(Meta, ReaderView), IndexError> {
    let locked = Locked::share(index, META_BLOCK);
    if locked.kind() != Some(PageKind::Meta) {
        return Err(IndexError::Corrupt("the first page is not the index root"));
    }
    // SAFETY: a plain read of shared state.
    let as_of = unsafe { pg_sys::RecoveryInProgress() }.then(|| locked.lsn());
    Ok((Meta::decode(locked.data())?, ReaderView { as_of }))
}

/// Reads a view of the index: `read` takes what it needs from the root and the pages it names.
/// On a standby, where replay may change the index meanwhile, it reads again until the root still
/// names the same pages (`cco_core::search_index::meta::read_view`), and cancels the search as
/// conflicting with recovery when replay keeps changing it.
pub fn read_consistent_view<T>(
    index: pg_sys::Relation,
    mut read: impl FnMut(&Meta, &IndexPages) -> Result<T, IndexError>,
) -> Result<(T, ReaderView), IndexError> {
    // SAFETY: a plain read of shared state.
    let replaying = unsafe { pg_sys::RecoveryInProgress() };
    match read_view(
        replaying,
        || read_meta_for_reader(index),
        |meta, view| read(meta, &IndexPages::reading(index, view)),
    )? {
        ViewRead::Read(result, view) => Ok((result, view)),
        ViewRead::KeptChanging(pending_head) => conflict_with_recovery(index, pending_head),
    }
}

/// Writes the root page: the caller holds it exclusively locked. Logged as the bytes that
/// changed, which for an insert are a counter's.
pub fn write_meta(index: pg_sys::Relation, locked: &Locked, meta: &Meta) -> Result<(), IndexError> {
    let bytes = meta.encode()?;
    let mut change = Change::start(index);
    let page = change.page(locked, false);
    // SAFETY: the WAL copy is ours until finish; a new root page gets its header first.
    unsafe {
        if pg_sys::PageIsNew(page) || page_kind(page) != Some(PageKind::Meta) {
            format_page(page, PageKind::Meta, &bytes);
        } else {
            overwrite_page(page, PageKind::Meta, &bytes);
        }
    }
    change.finish();
    Ok(())
}

/// The index's pages as the core reads and writes them.
pub struct IndexPages {
    pub index: pg_sys::Relation,
    /// On a standby, the WAL position of the root page a reader took its view from; `None` on a
    /// primary, and for writers.
    as_of: Option<u64>,
}

impl IndexPages {
    pub fn new(index: pg_sys::Relation) -> IndexPages {
        IndexPages { index, as_of: None }
    }

    /// Pages as a search with this view of the index reads them.
    pub fn reading(index: pg_sys::Relation, view: &ReaderView) -> IndexPages {
        IndexPages {
            index,
            as_of: view.as_of,
        }
    }
}

/// Which state of the index a search reads: on a standby, the root page's WAL position when the
/// search read it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReaderView {
    as_of: Option<u64>,
}

/// Cancels a standby's search whose page was reused after the search took its view, as
/// PostgreSQL cancels queries that conflict with recovery.
fn conflict_with_recovery(index: pg_sys::Relation, block: u32) -> ! {
    // SAFETY: the index is open.
    let name = unsafe { pgrx::name_data_to_str(&(*(*index).rd_rel).relname) }.to_owned();
    crate::errors::raise_with_detail(
        pgrx::PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        "canceling statement due to conflict with recovery",
        Some(format!(
            "Page {block} of index \"{name}\" was reused by the primary after this search began \
             reading it. Run the search again; hot_standby_feedback = on makes the primary keep \
             such pages for the standby's searches."
        )),
    )
}

impl PageSource for IndexPages {
    fn with_page<R>(&self, block: u32, read: impl FnOnce(&[u8]) -> R) -> Result<R, IndexError> {
        // A block past the end makes PostgreSQL raise "could not read block", which is what a
        // damaged pointer deserves; checking the size first would cost a system call per page.
        let locked = Locked::share(self.index, block);
        if let Some(as_of) = self.as_of {
            // Records pages are written once: changed since the view was taken, this page was
            // reused (and perhaps freed again, keeping its new contents' position).
            let written = if locked.checked_state().freed {
                locked.contents_written_at()
            } else {
                locked.lsn()
            };
            if written > as_of {
                conflict_with_recovery(self.index, block);
            }
        }
        match locked.kind() {
            Some(PageKind::Records) => Ok(read(locked.data())),
            _ => Err(IndexError::Corrupt(
                "a pointer leads to a page that holds no records",
            )),
        }
    }
}

impl PageSink for IndexPages {
    fn allocate(&self) -> Result<u32, IndexError> {
        let root = lock_root(self.index)?;
        let mut meta = Meta::decode(root.data())?;
        if let Some(block) = take_free_page(self.index, &mut meta)? {
            write_meta(self.index, &root, &meta)?;
            return Ok(block);
        }
        drop(root);
        // A new block exists on a standby (and after recovery from a base backup) only once a WAL
        // record names it. Logged empty now, a page taken and not yet written (the pending list's
        // spare, a page reserved for a large document and then queued free) is there after a
        // promotion too, instead of lying past the end of the index.
        let block = extend(self.index);
        let fresh = Locked::exclusive(self.index, block);
        rewrite(self.index, &fresh, PageKind::Records, &[]);
        Ok(block)
    }

    fn write(&self, block: u32, contents: &[u8]) -> Result<(), IndexError> {
        let locked = Locked::exclusive(self.index, block);
        rewrite(self.index, &locked, PageKind::Records, contents);
        Ok(())
    }
}

/// The root page, exclusively locked: the lock every change of the index's structure takes.
fn lock_root(index: pg_sys::Relation) -> Result<Locked, IndexError> {
    let root = Locked::exclusive(index, META_BLOCK);
    if root.kind() != Some(PageKind::Meta) {
        return Err(IndexError::Corrupt("the first page is not the index root"));
    }
    Ok(root)
}

/// A new block at the end of the index.
fn extend(index: pg_sys::Relation) -> u32 {
    // SAFETY: extending under the relation extension lock, as PostgreSQL requires.
    unsafe {
        pg_sys::LockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
        let buffer = pg_sys::ReadBufferExtended(
            index,
            pg_sys::ForkNumber::MAIN_FORKNUM,
            u32::MAX,
            pg_sys::ReadBufferMode::RBM_NORMAL,
            std::ptr::null_mut(),
        );
        pg_sys::UnlockRelationForExtension(index, pg_sys::ExclusiveLock as i32);
        let block = pg_sys::BufferGetBlockNumber(buffer);
        pg_sys::ReleaseBuffer(buffer);
        block
    }
}

fn read_free_list_page(index: pg_sys::Relation, block: u32) -> Result<FreeListPage, IndexError> {
    let locked = Locked::share(index, block);
    if locked.kind() != Some(PageKind::FreeList) {
        return Err(IndexError::Corrupt(
            "the free-list queue leads to another kind of page",
        ));
    }
    FreeListPage::decode(locked.data())
}

/// The oldest freed page, if no running transaction can still read it. The caller holds the root
/// exclusively and writes `meta` back. A free-list page emptied on the way is itself reused: no
/// search ever reads one.
fn take_free_page(index: pg_sys::Relation, meta: &mut Meta) -> Result<Option<u32>, IndexError> {
    if meta.free_head == NO_BLOCK {
        return Ok(None);
    }
    let head = read_free_list_page(index, meta.free_head)?;
    let emptied = meta.free_head;
    match head.entries.get(usize::from(meta.free_head_taken)) {
        Some(&(_, freed_at)) if !recyclable(freed_at) => Ok(None), // every later entry was freed later still
        Some(&(block, _)) => {
            meta.free_head_taken += 1;
            meta.free_pages = meta.free_pages.saturating_sub(1);
            Ok(Some(block))
        }
        None => {
            // The head page is used up: it goes back to use itself.
            meta.free_head = head.next;
            if head.next == NO_BLOCK {
                meta.free_tail = NO_BLOCK;
            }
            meta.free_head_taken = 0;
            Ok(Some(emptied))
        }
    }
}

/// Queues freed pages (the caller holds the root exclusively and writes `meta` back).
fn queue_free_pages(
    index: pg_sys::Relation,
    meta: &mut Meta,
    blocks: &[u32],
    freed_at: u64,
) -> Result<(), IndexError> {
    let mut remaining = blocks;
    while !remaining.is_empty() {
        let (tail_block, mut tail) = if meta.free_tail == NO_BLOCK {
            (NO_BLOCK, FreeListPage::new())
        } else {
            (meta.free_tail, read_free_list_page(index, meta.free_tail)?)
        };
        if tail_block == NO_BLOCK || tail.is_full() {
            // A new queue page at the end of the index (a page that could be reused is in the
            // queue it would have to be taken from).
            let fresh = extend(index);
            let mut page = FreeListPage::new();
            let room = FreeListPage::CAPACITY.min(remaining.len());
            page.entries
                .extend(remaining[..room].iter().map(|&block| (block, freed_at)));
            remaining = &remaining[room..];
            let fresh_page = Locked::exclusive(index, fresh);
            let mut change = Change::start(index);
            let copy = change.page(&fresh_page, true);
            // SAFETY: the WAL copies are ours until finish.
            unsafe { format_page(copy, PageKind::FreeList, &page.encode()) };
            if tail_block != NO_BLOCK {
                tail.next = fresh;
                let previous = Locked::exclusive(index, tail_block);
                let copy = change.page(&previous, false);
                // SAFETY: as above.
                unsafe { overwrite_page(copy, PageKind::FreeList, &tail.encode()) };
                change.finish();
            } else {
                change.finish();
                meta.free_head = fresh;
                meta.free_head_taken = 0;
            }
            meta.free_tail = fresh;
        } else {
            let room = (FreeListPage::CAPACITY - tail.entries.len()).min(remaining.len());
            tail.entries
                .extend(remaining[..room].iter().map(|&block| (block, freed_at)));
            remaining = &remaining[room..];
            let locked = Locked::exclusive(index, tail_block);
            let mut change = Change::start(index);
            let copy = change.page(&locked, false);
            // SAFETY: the WAL copy is ours until finish.
            unsafe { overwrite_page(copy, PageKind::FreeList, &tail.encode()) };
            change.finish();
        }
    }
    meta.free_pages += blocks.len() as u64;
    Ok(())
}

fn recyclable(stamp: u64) -> bool {
    // SAFETY: a plain horizon check. NULL asks for the most conservative horizon.
    unsafe {
        pg_sys::GlobalVisCheckRemovableFullXid(
            std::ptr::null_mut(),
            pg_sys::FullTransactionId { value: stamp },
        )
    }
}

/// Frees pages: marks each one freed, contents untouched (a search that started earlier may still
/// be reading it), and queues it to be reused once no transaction running now can read it.
pub fn free_pages(index: pg_sys::Relation, blocks: &[u32]) -> Result<(), IndexError> {
    // SAFETY: reads shared state under its own lock.
    let freed_at = unsafe { pg_sys::ReadNextFullTransactionId().value };
    let blocks: Vec<u32> = blocks
        .iter()
        .copied()
        .filter(|&block| block != META_BLOCK && block != NO_BLOCK)
        .collect();
    for &block in &blocks {
        let locked = Locked::exclusive(index, block);
        let written_at = locked.lsn();
        let mut change = Change::start(index);
        let page = change.page(&locked, false);
        // SAFETY: the WAL copy is ours until finish.
        unsafe {
            let trailer = trailer(page);
            trailer[2..4].copy_from_slice(&FREED.to_le_bytes());
            trailer[8..16].copy_from_slice(&written_at.to_le_bytes());
        }
        change.finish();
    }
    let root = lock_root(index)?;
    let mut meta = Meta::decode(root.data())?;
    queue_free_pages(index, &mut meta, &blocks, freed_at)?;
    write_meta(index, &root, &meta)
}

/// Pages waiting to be reused.
pub fn free_page_count(index: pg_sys::Relation) -> Result<u64, IndexError> {
    Ok(read_meta(index)?.free_pages)
}

/// A new empty pending page.
pub fn new_pending_page(index: pg_sys::Relation) -> Result<u32, IndexError> {
    let block = IndexPages::new(index).allocate()?;
    let locked = Locked::exclusive(index, block);
    rewrite(index, &locked, PageKind::Pending, &pending::empty_page());
    Ok(block)
}

/// Every complete document of a pending chain, and the pages holding it.
pub fn read_pending(
    index: pg_sys::Relation,
    head: u32,
) -> Result<(Vec<Document>, Vec<u32>), IndexError> {
    read_pending_kept(index, head, &Projects::All)
}

/// As `read_pending`, decoding only the documents of `projects`.
pub fn read_pending_kept(
    index: pg_sys::Relation,
    head: u32,
    projects: &Projects,
) -> Result<(Vec<Document>, Vec<u32>), IndexError> {
    let mut documents = Vec::new();
    let mut pages = Vec::new();
    let mut assembler = Assembler::new();
    let mut block = head;
    // SAFETY: the index is open.
    let blocks = || unsafe {
        pg_sys::RelationGetNumberOfBlocksInFork(index, pg_sys::ForkNumber::MAIN_FORKNUM)
    } as usize;
    let mut limit = blocks();
    while block != NO_BLOCK {
        // A list longer than the index has pages loops. Inserts may lengthen it while it is read,
        // into pages added since the walk began: the index's size is taken again before judging.
        if pages.len() > limit {
            limit = blocks();
            if pages.len() > limit {
                return Err(IndexError::Corrupt("the pending list loops"));
            }
        }
        pages.push(block);
        let locked = Locked::share(index, block);
        if locked.kind() != Some(PageKind::Pending) {
            return Err(IndexError::Corrupt(
                "the pending list leads to another kind of page",
            ));
        }
        for record in pending::records(locked.data())? {
            documents.extend(assembler.feed_kept(record, |project| projects.contains(project))?);
        }
        block = pending::next_page(locked.data())?;
    }
    Ok((documents, pages))
}

/// Appends a document to the pending list; returns how many documents it then holds.
///
/// Appending holds the root exclusively, so one document's records are never interleaved with
/// another's. A full tail page is followed by the spare page the root keeps ready, and a new spare
/// is allocated after the root is released; a document too large for one new page gets the pages
/// it needs allocated before.
pub fn append_pending(index: pg_sys::Relation, document: &Document) -> Result<u32, IndexError> {
    let records = pending::encode_document(document)?;
    let pages = IndexPages::new(index);
    let mut reserved: Vec<u32> = Vec::new();
    for _ in 1..records.len() {
        reserved.push(pages.allocate()?);
    }
    let root = lock_root(index)?;
    let mut meta = Meta::decode(root.data())?;
    let last = records.len() - 1;
    for (at, record) in records.iter().enumerate() {
        let tail = Locked::exclusive(index, meta.pending_tail);
        if tail.kind() != Some(PageKind::Pending) {
            return Err(IndexError::Corrupt(
                "the pending list's tail is another kind of page",
            ));
        }
        let used = pending::used_bytes(tail.data())?;
        if at == last {
            meta.pending_documents += 1;
        }
        if used + 2 + record.len() <= PAGE_DATA_BYTES {
            let mut change = Change::start(index);
            let page = change.page(&tail, false);
            // SAFETY: the WAL copy is ours until finish.
            let contents = unsafe { data(page) };
            if !pending::append(contents, record)? {
                return Err(IndexError::Corrupt("a pending page is fuller than it says"));
            }
            // SAFETY: as above.
            unsafe { set_used(page, pending::used_bytes(contents)?) };
            if at == last {
                let copy = change.page(&root, false);
                // SAFETY: as above.
                unsafe { overwrite_page(copy, PageKind::Meta, &meta.encode()?) };
            }
            change.finish();
            continue;
        }
        // A new page at the end of the chain, linked and named the tail in one step.
        let block = match reserved.pop() {
            Some(block) => block,
            None if meta.spare != NO_BLOCK => std::mem::replace(&mut meta.spare, NO_BLOCK),
            None => extend(index),
        };
        let fresh = Locked::exclusive(index, block);
        let mut contents = pending::empty_page();
        contents.resize(PAGE_DATA_BYTES, 0);
        if !pending::append(&mut contents, record)? {
            return Err(IndexError::TooLarge(
                "a pending record is larger than a page",
            ));
        }
        let used = pending::used_bytes(&contents)?;
        meta.pending_tail = block;
        let mut change = Change::start(index);
        let page = change.page(&fresh, true);
        // SAFETY: the WAL copies are ours until finish.
        unsafe { format_page(page, PageKind::Pending, &contents[..used]) };
        let previous = change.page(&tail, false);
        // SAFETY: as above.
        unsafe { pending::set_next_page(data(previous), block) };
        let copy = change.page(&root, false);
        // SAFETY: as above.
        unsafe { overwrite_page(copy, PageKind::Meta, &meta.encode()?) };
        change.finish();
    }
    let documents = meta.pending_documents;
    let needs_spare = meta.spare == NO_BLOCK;
    drop(root);
    if needs_spare {
        let spare = pages.allocate()?;
        let root = lock_root(index)?;
        let mut meta = Meta::decode(root.data())?;
        if meta.spare == NO_BLOCK {
            meta.spare = spare;
            write_meta(index, &root, &meta)?;
        } else {
            // Another append kept one ready meanwhile; this one was never seen by anyone.
            queue_free_pages(index, &mut meta, &[spare], 0)?;
            write_meta(index, &root, &meta)?;
        }
    }
    // Reserved pages a large document turned out not to need were never seen by anyone either.
    if !reserved.is_empty() {
        let root = lock_root(index)?;
        let mut meta = Meta::decode(root.data())?;
        queue_free_pages(index, &mut meta, &reserved, 0)?;
        write_meta(index, &root, &meta)?;
    }
    Ok(documents)
}

/// Creates the root page and an empty pending list in a new, empty index.
pub fn initialize(index: pg_sys::Relation) -> Result<(), IndexError> {
    if extend(index) != META_BLOCK {
        return Err(IndexError::Invalid(
            "initializing an index that is not empty",
        ));
    }
    let pending_block = extend(index);
    let pending_page = Locked::exclusive(index, pending_block);
    rewrite(
        index,
        &pending_page,
        PageKind::Pending,
        &pending::empty_page(),
    );
    drop(pending_page);
    let locked = Locked::exclusive(index, META_BLOCK);
    write_meta(index, &locked, &Meta::new(pending_block))
}
