//! Posting lists: for one term, every document that holds it, as (document key, term frequency,
//! document length), in key order.
//!
//! A long list is cut into blocks of up to `BLOCK_POSTINGS`, and no block spans two projects, so
//! a search restricted to some projects reads only their blocks and a term's frequency within
//! them is the sum of their block sizes. A directory (chunks of block entries, chained) says for
//! each block its last key, where it is, how many postings it holds and its *impacts*: the
//! (frequency, length) pairs no other posting of the block beats on both counts. The best BM25
//! score any document of the block can get is the best score of its impacts, whatever the corpus
//! statistics are, which is what lets a top-k search skip blocks unread.
//!
//! A list of at most `INLINE_POSTINGS` is stored inside its dictionary entry instead.

use super::encoding::{put_u16, put_varint, varint_len, Reader};
use super::pages::{read_record, PageSink, PageSource, Pointer, RecordWriter};
use super::IndexError;

/// Postings per block: a block decodes in well under a microsecond and its impacts stay tight.
pub const BLOCK_POSTINGS: usize = 128;
/// Lists this short live in the dictionary entry.
pub const INLINE_POSTINGS: usize = 12;
/// At most this many impacts are kept per block; more are merged into pairs that dominate them.
const MAX_IMPACTS: usize = 4;
/// Directory chunks are cut at about this size.
const DIRECTORY_CHUNK_BYTES: usize = 4000;

const KIND_INLINE: u8 = 0;
const KIND_BLOCKS: u8 = 1;
/// One block, its directory entry in the dictionary value.
const KIND_BLOCK: u8 = 2;

/// Bits of a document key that hold the heap tuple id; the project's number in its segment is
/// above them.
pub const TID_BITS: u32 = 41;
/// Line pointers per heap page, plus one: an 8 kB page holds at most 291 tuples
/// (MaxHeapTuplesPerPage). Numbering tuples block * 292 + offset keeps the gaps between
/// neighbouring documents, and so their encoded deltas, small.
const TUPLES_PER_BLOCK: u64 = 292;
/// Most projects one segment can number.
pub const MAX_PROJECTS: u32 = (1 << (64 - TID_BITS)) - 2;

/// A heap tuple id: block and line pointer offset (1 to 291 on an 8 kB page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid {
    pub block: u32,
    pub offset: u16,
}

impl Tid {
    /// The tuple's number in its table: ascending with (block, offset).
    pub fn bits(self) -> u64 {
        u64::from(self.block) * TUPLES_PER_BLOCK + u64::from(self.offset).min(TUPLES_PER_BLOCK - 1)
    }
}

/// A document's key in its segment: its project's number, then its tuple id. Sorting by key
/// groups a segment's documents by project.
pub fn document_key(project: u32, tid: Tid) -> u64 {
    (u64::from(project) << TID_BITS) | tid.bits()
}

pub fn key_project(key: u64) -> u32 {
    (key >> TID_BITS) as u32
}

pub fn key_tid(key: u64) -> Tid {
    let number = key & ((1 << TID_BITS) - 1);
    Tid {
        block: (number / TUPLES_PER_BLOCK) as u32,
        offset: (number % TUPLES_PER_BLOCK) as u16,
    }
}

/// The keys of one project: `[start, end)`.
pub fn project_range(project: u32) -> (u64, u64) {
    let start = u64::from(project) << TID_BITS;
    (start, start + (1u64 << TID_BITS))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    pub key: u64,
    pub frequency: u32,
    pub length: u32,
}

/// Postings with their positions, all positions in one buffer: what a merge gathers for a term
/// without an allocation per posting.
#[derive(Debug, Default)]
pub struct PositionedPostings {
    pub postings: Vec<Posting>,
    positions: Vec<u16>,
    /// Each posting's range in `positions`.
    ranges: Vec<(u32, u32)>,
}

impl PositionedPostings {
    pub fn clear(&mut self) {
        self.postings.clear();
        self.positions.clear();
        self.ranges.clear();
    }

    pub fn push(&mut self, posting: Posting, positions: &[u16]) {
        let start = self.positions.len() as u32;
        self.positions.extend_from_slice(positions);
        self.postings.push(posting);
        self.ranges.push((start, self.positions.len() as u32));
    }

    /// The positions of the posting at `at`.
    pub fn positions(&self, at: usize) -> &[u16] {
        let (start, end) = self.ranges[at];
        &self.positions[start as usize..end as usize]
    }
}

/// The (frequency, length) pairs that dominate a block: for every posting, one of them has at
/// least its frequency and at most its length.
pub fn impacts(postings: &[Posting]) -> Vec<(u32, u32)> {
    let mut pairs: Vec<(u32, u32)> = postings.iter().map(|p| (p.frequency, p.length)).collect();
    // Highest frequency first; among equals the shortest. Keep a pair only if it is shorter than
    // every pair of higher frequency.
    pairs.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut frontier: Vec<(u32, u32)> = Vec::new();
    for (frequency, length) in pairs {
        if frontier
            .last()
            .is_none_or(|&(_, shortest)| length < shortest)
        {
            frontier.push((frequency, length));
        }
    }
    // Too many: replace neighbours by one pair with the higher frequency and the shorter length,
    // which dominates both, choosing the neighbours that lose least.
    while frontier.len() > MAX_IMPACTS {
        let mut best = 0;
        let mut best_cost = f64::INFINITY;
        for i in 0..frontier.len() - 1 {
            let (high, _) = frontier[i];
            let (low, short) = frontier[i + 1];
            let cost = f64::from(high - low) / f64::from(high.max(1))
                + f64::from(frontier[i].1 - short) / f64::from(frontier[i].1.max(1));
            if cost < best_cost {
                best_cost = cost;
                best = i;
            }
        }
        let merged = (frontier[best].0, frontier[best + 1].1);
        frontier[best] = merged;
        frontier.remove(best + 1);
    }
    frontier
}

fn encode_postings(out: &mut Vec<u8>, postings: &[Posting], base: u64) {
    let mut previous = base;
    for posting in postings {
        put_varint(out, posting.key - previous);
        put_varint(out, u64::from(posting.frequency));
        put_varint(out, u64::from(posting.length));
        previous = posting.key;
    }
}

/// A block's record stays below this, whatever its positions.
const MAX_BLOCK_BYTES: usize = 6000;
/// An inline list must leave room for its term in a dictionary node.
const MAX_INLINE_BYTES: usize = 1500;

/// The bytes a posting and its positions take encoded after `previous_key`.
fn encoded_bytes(
    postings: &[Posting],
    positions: &[&[u16]],
    at: usize,
    previous_key: u64,
) -> usize {
    let posting = &postings[at];
    let mut bytes = varint_len(posting.key - previous_key)
        + varint_len(u64::from(posting.frequency))
        + varint_len(u64::from(posting.length));
    bytes += varint_len(positions[at].len() as u64);
    let mut previous = 0u16;
    for &position in positions[at] {
        bytes += varint_len(u64::from(position.wrapping_sub(previous)));
        previous = position;
    }
    bytes
}

/// Positions follow the postings they belong to: for each, their count and their gaps.
fn encode_positions(out: &mut Vec<u8>, positions: &[&[u16]]) {
    for list in positions {
        put_varint(out, list.len() as u64);
        let mut previous = 0u16;
        for &position in *list {
            put_varint(out, u64::from(position.wrapping_sub(previous)));
            previous = position;
        }
    }
}

/// Reads `count` position lists into one buffer and a range per posting.
fn decode_positions(
    reader: &mut Reader<'_>,
    count: usize,
    into: &mut Vec<u16>,
    ranges: &mut Vec<(u32, u32)>,
) -> Result<(), IndexError> {
    into.clear();
    ranges.clear();
    for _ in 0..count {
        let length = reader.varint()? as usize;
        if length > 1 << 16 {
            return Err(IndexError::Corrupt(
                "a posting has more positions than a tsvector holds",
            ));
        }
        let start = into.len() as u32;
        let mut position = 0u16;
        for _ in 0..length {
            let gap = u16::try_from(reader.varint()?)
                .map_err(|_| IndexError::Corrupt("a position gap is too large"))?;
            position = position.wrapping_add(gap);
            into.push(position);
        }
        ranges.push((start, into.len() as u32));
    }
    Ok(())
}

fn decode_postings(
    reader: &mut Reader<'_>,
    count: usize,
    base: u64,
    into: &mut Vec<Posting>,
) -> Result<(), IndexError> {
    into.clear();
    let mut key = base;
    for i in 0..count {
        let delta = reader.varint()?;
        if i > 0 && delta == 0 {
            return Err(IndexError::Corrupt("posting keys are not ascending"));
        }
        key = key
            .checked_add(delta)
            .ok_or(IndexError::Corrupt("a posting key overflows"))?;
        let frequency = reader.varint_u32()?;
        let length = reader.varint_u32()?;
        into.push(Posting {
            key,
            frequency,
            length,
        });
    }
    Ok(())
}

/// One directory entry.
struct Entry {
    last: u64,
    pointer: Pointer,
    count: u8,
    impacts: Vec<(u32, u32)>,
}

/// Writes a posting list (keys ascending, at least one posting), each posting with its word
/// positions, and returns the dictionary value that finds it.
pub fn write_postings<S: PageSink>(
    writer: &mut RecordWriter<'_, S>,
    postings: &[Posting],
    positions: &[&[u16]],
) -> Result<Vec<u8>, IndexError> {
    if postings.is_empty() {
        return Err(IndexError::Invalid("an empty posting list"));
    }
    if positions.len() != postings.len() {
        return Err(IndexError::Invalid("every posting needs its positions"));
    }
    if postings.windows(2).any(|pair| pair[0].key >= pair[1].key) {
        return Err(IndexError::Invalid("posting keys must ascend"));
    }
    let mut value = Vec::new();
    put_varint(&mut value, postings.len() as u64);
    let inline = postings.len() <= INLINE_POSTINGS
        && (0..postings.len())
            .map(|at| encoded_bytes(postings, positions, at, 0))
            .sum::<usize>()
            <= MAX_INLINE_BYTES;
    if inline {
        value.push(KIND_INLINE);
        encode_postings(&mut value, postings, 0);
        encode_positions(&mut value, positions);
        return Ok(value);
    }
    let mut entries = Vec::new();
    let mut base = 0u64;
    let mut record = Vec::new();
    let mut start = 0;
    while start < postings.len() {
        let project = key_project(postings[start].key);
        let mut end = start + 1;
        let mut bytes = 1 + encoded_bytes(postings, positions, start, base);
        while end < postings.len()
            && end - start < BLOCK_POSTINGS
            && key_project(postings[end].key) == project
        {
            let more = encoded_bytes(postings, positions, end, postings[end - 1].key);
            if bytes + more > MAX_BLOCK_BYTES {
                break; // long position lists: a shorter block still fits in a page
            }
            bytes += more;
            end += 1;
        }
        let block = &postings[start..end];
        record.clear();
        record.push(block.len() as u8);
        encode_postings(&mut record, block, base);
        encode_positions(&mut record, &positions[start..end]);
        if record.len() > super::pages::MAX_RECORD_BYTES {
            return Err(IndexError::TooLarge(
                "a block of postings with their positions is larger than a page",
            ));
        }
        let pointer = writer.append(&record)?;
        let last = block[block.len() - 1].key;
        entries.push(Entry {
            last,
            pointer,
            count: block.len() as u8,
            impacts: impacts(block),
        });
        base = last;
        start = end;
    }
    if entries.len() == 1 {
        let entry = &entries[0];
        value.push(KIND_BLOCK);
        put_entry(&mut value, entry, 0);
        return Ok(value);
    }
    // Chunks are chained forward, so they are written last first.
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut chunk = Vec::new();
    let mut in_chunk = 0u16;
    let mut previous_last = 0u64;
    for entry in &entries {
        if in_chunk > 0 && chunk.len() > DIRECTORY_CHUNK_BYTES {
            chunks.push(finish_chunk(&chunk, in_chunk));
            chunk.clear();
            in_chunk = 0;
        }
        put_entry(&mut chunk, entry, previous_last);
        previous_last = entry.last;
        in_chunk += 1;
    }
    chunks.push(finish_chunk(&chunk, in_chunk));
    let mut next = Pointer::NONE;
    for mut chunk in chunks.into_iter().rev() {
        next.write(&mut chunk);
        next = writer.append(&chunk)?;
    }
    value.push(KIND_BLOCKS);
    put_varint(&mut value, entries.len() as u64);
    next.write(&mut value);
    Ok(value)
}

fn put_entry(out: &mut Vec<u8>, entry: &Entry, previous_last: u64) {
    put_varint(out, entry.last - previous_last);
    entry.pointer.write(out);
    out.push(entry.count);
    out.push(entry.impacts.len() as u8);
    for &(frequency, length) in &entry.impacts {
        put_varint(out, u64::from(frequency));
        put_varint(out, u64::from(length));
    }
}

/// A directory entry as read: the block's last key, where it is, its count and impacts.
type EntryRead = (u64, Pointer, u8, Vec<(u32, u32)>);

/// Reads an entry `put_entry` wrote.
fn read_entry(reader: &mut Reader<'_>, previous_last: u64) -> Result<EntryRead, IndexError> {
    let last = previous_last
        .checked_add(reader.varint()?)
        .ok_or(IndexError::Corrupt("a block key overflows"))?;
    let pointer = Pointer::read(reader)?;
    let postings = reader.u8()?;
    let pairs = reader.u8()?;
    let mut impacts = Vec::with_capacity(usize::from(pairs));
    for _ in 0..pairs {
        impacts.push((reader.varint_u32()?, reader.varint_u32()?));
    }
    if postings == 0 {
        return Err(IndexError::Corrupt("an empty block"));
    }
    Ok((last, pointer, postings, impacts))
}

fn finish_chunk(entries: &[u8], count: u16) -> Vec<u8> {
    let mut chunk = Vec::with_capacity(entries.len() + 2 + Pointer::BYTES);
    put_u16(&mut chunk, count);
    chunk.extend_from_slice(entries);
    chunk
}

/// The number of documents a dictionary value lists.
pub fn document_frequency(value: &[u8]) -> Result<u64, IndexError> {
    Reader::new(value).varint()
}

/// Key ranges a search covers, ascending and disjoint: `[start, end)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRanges(Vec<(u64, u64)>);

impl KeyRanges {
    pub fn all() -> KeyRanges {
        KeyRanges(vec![(0, u64::MAX)])
    }

    /// The ranges of some projects (by their number in the segment).
    pub fn of_projects(mut projects: Vec<u32>) -> KeyRanges {
        projects.sort_unstable();
        projects.dedup();
        KeyRanges(projects.into_iter().map(project_range).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, key: u64) -> bool {
        let at = self.0.partition_point(|&(_, end)| end <= key);
        self.0.get(at).is_some_and(|&(start, _)| start <= key)
    }

    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.0
    }

    /// The first key at or after `key` inside a range, if any.
    pub fn next_inside(&self, key: u64) -> Option<u64> {
        let at = self.0.partition_point(|&(_, end)| end <= key);
        self.0.get(at).map(|&(start, _)| start.max(key))
    }
}

/// A block's directory entry, as a check of the index reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// `Pointer::NONE` for a list stored inline in its dictionary entry.
    pub pointer: Pointer,
    pub last: u64,
    /// The (frequency, length) pairs that are to dominate every posting of the block.
    pub impacts: Vec<(u32, u32)>,
}

/// A block as a cursor sees it.
#[derive(Debug, Clone)]
struct BlockRef {
    /// Every key of the block is above this (or at least 0 for the very first block).
    base: u64,
    first_block: bool,
    last: u64,
    /// `Pointer::NONE` for an inline list, whose postings are already decoded.
    pointer: Pointer,
    count: u8,
    impacts: Vec<(u32, u32)>,
    /// The best score of the block's impacts under the weights set.
    best: f64,
}

impl BlockRef {
    fn lowest_possible_key(&self) -> u64 {
        if self.first_block {
            self.base
        } else {
            self.base + 1
        }
    }
}

/// Reads one term's postings within some key ranges: block by block, reading the directory a
/// chunk at a time as the cursor moves on and decoding a block only when a posting in it is asked
/// for, so a search that needs a few blocks of a long list reads little of it.
pub struct PostingCursor {
    blocks: Vec<BlockRef>,
    ranges: KeyRanges,
    /// The next directory chunk to read (`Pointer::NONE` once all are read), and what reading it
    /// needs to know.
    next_chunk: Pointer,
    base: u64,
    seen: u64,
    expected: u64,
    total: u64,
    weights: Option<Box<dyn Fn(u32, u32) -> f64>>,
    block: usize,
    decoded: Vec<Posting>,
    decoded_block: usize,
    at: usize,
    buffer: Vec<u8>,
    inline: Vec<Posting>,
    /// The decoded block's record, and where its positions start in it.
    block_record: Vec<u8>,
    positions_offset: usize,
    /// The decoded block's positions, once asked for: all of them, and each posting's range.
    positions: Vec<u16>,
    position_ranges: Vec<(u32, u32)>,
    positions_block: usize,
    inline_positions: Vec<u16>,
    inline_ranges: Vec<(u32, u32)>,
}

impl PostingCursor {
    /// Opens the list a dictionary value describes, restricted to `ranges`.
    pub fn open<S: PageSource>(
        source: &S,
        value: &[u8],
        ranges: &KeyRanges,
    ) -> Result<PostingCursor, IndexError> {
        let _ = source;
        let mut reader = Reader::new(value);
        let total = reader.varint()?;
        let kind = reader.u8()?;
        let mut cursor = PostingCursor {
            blocks: Vec::new(),
            ranges: ranges.clone(),
            next_chunk: Pointer::NONE,
            base: 0,
            seen: 0,
            expected: 0,
            total,
            weights: None,
            block: 0,
            decoded: Vec::new(),
            decoded_block: usize::MAX,
            at: 0,
            buffer: Vec::new(),
            inline: Vec::new(),
            block_record: Vec::new(),
            positions_offset: 0,
            positions: Vec::new(),
            position_ranges: Vec::new(),
            positions_block: usize::MAX,
            inline_positions: Vec::new(),
            inline_ranges: Vec::new(),
        };
        match kind {
            KIND_INLINE => {
                let count = usize::try_from(total)
                    .ok()
                    .filter(|&count| count <= INLINE_POSTINGS);
                let count =
                    count.ok_or(IndexError::Corrupt("an inline posting list is too long"))?;
                let mut all = Vec::new();
                decode_postings(&mut reader, count, 0, &mut all)?;
                let (mut positions, mut position_ranges) = (Vec::new(), Vec::new());
                decode_positions(&mut reader, count, &mut positions, &mut position_ranges)?;
                let mut postings = Vec::new();
                for (posting, &(start, end)) in all.iter().zip(&position_ranges) {
                    if ranges.contains(posting.key) {
                        postings.push(*posting);
                        let from = cursor.inline_positions.len() as u32;
                        cursor
                            .inline_positions
                            .extend_from_slice(&positions[start as usize..end as usize]);
                        cursor
                            .inline_ranges
                            .push((from, cursor.inline_positions.len() as u32));
                    }
                }
                if let (Some(first), Some(last)) = (postings.first(), postings.last()) {
                    cursor.blocks.push(BlockRef {
                        base: first.key,
                        first_block: true,
                        last: last.key,
                        pointer: Pointer::NONE,
                        count: postings.len() as u8,
                        impacts: impacts(&postings),
                        best: 0.0,
                    });
                }
                cursor.inline = postings;
            }
            KIND_BLOCK => {
                let (last, pointer, postings, impacts) = read_entry(&mut reader, 0)?;
                if u64::from(postings) != total {
                    return Err(IndexError::Corrupt(
                        "a one-block list holds another count than it says",
                    ));
                }
                if ranges.contains(last) {
                    cursor.blocks.push(BlockRef {
                        base: 0,
                        first_block: true,
                        last,
                        pointer,
                        count: postings,
                        impacts,
                        best: 0.0,
                    });
                }
            }
            KIND_BLOCKS => {
                cursor.expected = reader.varint()?;
                cursor.next_chunk = Pointer::read(&mut reader)?;
            }
            _ => return Err(IndexError::Corrupt("an unknown kind of posting list")),
        }
        Ok(cursor)
    }

    /// Reads the next directory chunk; false when there is none.
    fn read_chunk<S: PageSource>(&mut self, source: &S) -> Result<bool, IndexError> {
        if self.next_chunk.is_none() {
            if self.expected > 0 && self.seen != self.expected {
                return Err(IndexError::Corrupt(
                    "a posting directory holds fewer blocks than it says",
                ));
            }
            return Ok(false);
        }
        let mut chunk = std::mem::take(&mut self.buffer);
        read_record(source, self.next_chunk, &mut chunk)?;
        let mut reader = Reader::new(&chunk);
        let count = reader.u16()?;
        for _ in 0..count {
            let (last, pointer, postings, impacts) = read_entry(&mut reader, self.base)?;
            if self.seen > 0 && last <= self.base {
                return Err(IndexError::Corrupt("a posting directory is out of order"));
            }
            // A block holds one project's postings: its last key says which.
            if self.ranges.contains(last) {
                let best = self.weights.as_ref().map_or(0.0, |score| {
                    impacts
                        .iter()
                        .map(|&(f, l)| score(f, l))
                        .fold(0.0, f64::max)
                });
                self.blocks.push(BlockRef {
                    base: self.base,
                    first_block: self.seen == 0,
                    last,
                    pointer,
                    count: postings,
                    impacts,
                    best,
                });
            }
            self.base = last;
            self.seen += 1;
        }
        self.next_chunk = Pointer::read(&mut reader)?;
        if self.seen > self.expected {
            return Err(IndexError::Corrupt(
                "a posting directory holds more blocks than it says",
            ));
        }
        self.buffer = chunk;
        Ok(true)
    }

    fn read_whole_directory<S: PageSource>(&mut self, source: &S) -> Result<(), IndexError> {
        while self.read_chunk(source)? {}
        Ok(())
    }

    /// Documents of the whole list (in every range).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Documents of this list within the cursor's ranges (reads the whole directory).
    pub fn frequency<S: PageSource>(&mut self, source: &S) -> Result<u64, IndexError> {
        self.read_whole_directory(source)?;
        Ok(self.blocks.iter().map(|block| u64::from(block.count)).sum())
    }

    /// Whether the list has a posting within the ranges (reads the directory up to the first).
    pub fn is_empty<S: PageSource>(&mut self, source: &S) -> Result<bool, IndexError> {
        while self.blocks.is_empty() {
            if !self.read_chunk(source)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sets each block's best possible score: `score(frequency, length)` over its impacts.
    pub fn set_weights(&mut self, score: impl Fn(u32, u32) -> f64 + 'static) {
        for block in &mut self.blocks {
            block.best = block
                .impacts
                .iter()
                .map(|&(frequency, length)| score(frequency, length))
                .fold(0.0, f64::max);
        }
        self.weights = Some(Box::new(score));
    }

    fn seek_block<S: PageSource>(&mut self, source: &S, key: u64) -> Result<(), IndexError> {
        loop {
            while self.block < self.blocks.len() && self.blocks[self.block].last < key {
                self.block += 1;
            }
            if self.block < self.blocks.len() || !self.read_chunk(source)? {
                return Ok(());
            }
        }
    }

    /// For the keys from `key` on: the last key up to which the answer holds, and the best score
    /// any document there can get. `(u64::MAX, 0)` once the list is exhausted.
    pub fn bound<S: PageSource>(&mut self, source: &S, key: u64) -> Result<(u64, f64), IndexError> {
        self.seek_block(source, key)?;
        Ok(match self.blocks.get(self.block) {
            None => (u64::MAX, 0.0),
            Some(block) => {
                let lowest = block.lowest_possible_key();
                if key < lowest {
                    (lowest - 1, 0.0)
                } else {
                    (block.last, block.best)
                }
            }
        })
    }

    fn decode<S: PageSource>(&mut self, source: &S) -> Result<(), IndexError> {
        if self.decoded_block == self.block {
            return Ok(());
        }
        let block = &self.blocks[self.block];
        if block.pointer.is_none() {
            self.decoded = self.inline.clone();
        } else {
            read_record(source, block.pointer, &mut self.block_record)?;
            let mut reader = Reader::new(&self.block_record);
            let count = reader.u8()?;
            if count != block.count {
                return Err(IndexError::Corrupt(
                    "a block holds another count than its directory says",
                ));
            }
            decode_postings(
                &mut reader,
                usize::from(count),
                block.base,
                &mut self.decoded,
            )?;
            if self.decoded.last().map(|p| p.key) != Some(block.last) {
                return Err(IndexError::Corrupt(
                    "a block ends at another key than its directory says",
                ));
            }
            self.positions_offset = reader.position();
        }
        self.decoded_block = self.block;
        self.at = 0;
        Ok(())
    }

    /// Moves to the first posting with a key of at least `key`; `None` when there is none.
    pub fn advance<S: PageSource>(
        &mut self,
        source: &S,
        key: u64,
    ) -> Result<Option<Posting>, IndexError> {
        self.seek_block(source, key)?;
        if self.block >= self.blocks.len() {
            return Ok(None);
        }
        self.decode(source)?;
        if self.at >= self.decoded.len() || self.decoded[self.at].key > key {
            // Postings before `at` are below an earlier target; search from there.
            self.at = 0;
        }
        let at = self.at + self.decoded[self.at..].partition_point(|posting| posting.key < key);
        self.at = at;
        Ok(self.decoded.get(at).copied())
    }

    /// Blocks of the list within the ranges (reads the whole directory).
    pub fn block_count<S: PageSource>(&mut self, source: &S) -> Result<usize, IndexError> {
        self.read_whole_directory(source)?;
        Ok(self.blocks.len())
    }

    /// The best score of a block under the weights set.
    pub fn block_best(&self, block: usize) -> f64 {
        self.blocks[block].best
    }

    /// The postings of one block.
    pub fn block_postings<S: PageSource>(
        &mut self,
        source: &S,
        block: usize,
    ) -> Result<&[Posting], IndexError> {
        self.block = block;
        self.decode(source)?;
        Ok(&self.decoded)
    }

    /// The word positions of the posting `advance` last returned (empty for a document stored
    /// without positions).
    pub fn positions(&mut self) -> Result<&[u16], IndexError> {
        if self.decoded_block >= self.blocks.len() || self.at >= self.decoded.len() {
            return Err(IndexError::Invalid(
                "positions asked for without a current posting",
            ));
        }
        if self.blocks[self.decoded_block].pointer.is_none() {
            let (start, end) = self.inline_ranges[self.at];
            return Ok(&self.inline_positions[start as usize..end as usize]);
        }
        if self.positions_block != self.decoded_block {
            let mut reader = Reader::new(&self.block_record[self.positions_offset..]);
            decode_positions(
                &mut reader,
                self.decoded.len(),
                &mut self.positions,
                &mut self.position_ranges,
            )?;
            self.positions_block = self.decoded_block;
        }
        let (start, end) = self.position_ranges[self.at];
        Ok(&self.positions[start as usize..end as usize])
    }

    /// Every posting within the ranges with its positions, in key order, appended to `into`
    /// after `keep` has had its say on each posting (for merges: dropping the deleted ones and
    /// renumbering the rest).
    pub fn collect_with_positions<S: PageSource>(
        &mut self,
        source: &S,
        into: &mut PositionedPostings,
        mut keep: impl FnMut(Posting) -> Option<Posting>,
    ) -> Result<(), IndexError> {
        self.read_whole_directory(source)?;
        for index in 0..self.blocks.len() {
            self.block = index;
            self.decode(source)?;
            for at in 0..self.decoded.len() {
                if let Some(posting) = keep(self.decoded[at]) {
                    self.at = at;
                    into.push(posting, self.positions()?);
                }
            }
        }
        self.block = 0;
        Ok(())
    }

    /// Reads the whole list as stored, block by block, for a check of the index: `visit` gets
    /// each block's directory entry and its postings with their positions.
    pub fn visit_blocks<S: PageSource>(
        &mut self,
        source: &S,
        mut visit: impl FnMut(&StoredBlock, &PositionedPostings) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        self.read_whole_directory(source)?;
        let mut postings = PositionedPostings::default();
        for index in 0..self.blocks.len() {
            self.block = index;
            self.decode(source)?;
            postings.clear();
            for at in 0..self.decoded.len() {
                self.at = at;
                let posting = self.decoded[at];
                postings.push(posting, self.positions()?);
            }
            let block = &self.blocks[index];
            let stored = StoredBlock {
                pointer: block.pointer,
                last: block.last,
                impacts: block.impacts.clone(),
            };
            visit(&stored, &postings)?;
        }
        self.block = 0;
        Ok(())
    }

    /// Every posting within the ranges, in key order.
    pub fn collect<S: PageSource>(&mut self, source: &S) -> Result<Vec<Posting>, IndexError> {
        self.read_whole_directory(source)?;
        let mut all = Vec::with_capacity(
            self.blocks
                .iter()
                .map(|block| usize::from(block.count))
                .sum(),
        );
        for index in 0..self.blocks.len() {
            self.block = index;
            self.decode(source)?;
            all.extend_from_slice(&self.decoded);
        }
        self.block = 0;
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::pages::MemoryPages;

    fn postings(keys: impl IntoIterator<Item = u64>) -> Vec<Posting> {
        keys.into_iter()
            .map(|key| Posting {
                key,
                frequency: (key % 7 + 1) as u32,
                length: (key % 113 + 5) as u32,
            })
            .collect()
    }

    fn write(pages: &MemoryPages, list: &[Posting]) -> Vec<u8> {
        let mut writer = RecordWriter::new(pages);
        let positions: Vec<Vec<u16>> = list
            .iter()
            .map(|p| {
                (0..p.frequency as u16)
                    .map(|i| i * 3 + (p.key % 5) as u16)
                    .collect()
            })
            .collect();
        let borrowed: Vec<&[u16]> = positions.iter().map(Vec::as_slice).collect();
        let value = write_postings(&mut writer, list, &borrowed).unwrap();
        writer.finish().unwrap();
        value
    }

    #[test]
    fn impacts_dominate_every_posting_and_stay_few() {
        let list = postings((0..128).map(|k| k * 31 % 1000));
        let pairs = impacts(&list);
        assert!(!pairs.is_empty() && pairs.len() <= MAX_IMPACTS);
        for posting in &list {
            assert!(
                pairs
                    .iter()
                    .any(|&(f, l)| f >= posting.frequency && l <= posting.length),
                "{posting:?} {pairs:?}"
            );
        }
    }

    #[test]
    fn lists_of_every_size_read_back_whole_and_by_range() {
        let pages = MemoryPages::new();
        for size in [1, 6, 7, 128, 129, 5_000] {
            // Three projects, so blocks are cut at project boundaries too.
            let keys: Vec<u64> = (0..size as u64)
                .map(|i| {
                    document_key(
                        (i % 3) as u32,
                        Tid {
                            block: (i / 3) as u32,
                            offset: (i % 5) as u16 + 1,
                        },
                    )
                })
                .collect();
            let mut list = postings(keys);
            list.sort_by_key(|p| p.key);
            let value = write(&pages, &list);
            assert_eq!(document_frequency(&value).unwrap(), size as u64);
            let mut cursor = PostingCursor::open(&pages, &value, &KeyRanges::all()).unwrap();
            assert_eq!(cursor.collect(&pages).unwrap(), list);
            let mut cursor = PostingCursor::open(&pages, &value, &KeyRanges::all()).unwrap();
            let mut collected = PositionedPostings::default();
            cursor
                .collect_with_positions(&pages, &mut collected, Some)
                .unwrap();
            assert_eq!(collected.postings, list);
            for (at, posting) in collected.postings.iter().enumerate() {
                let expected: Vec<u16> = (0..posting.frequency as u16)
                    .map(|i| i * 3 + (posting.key % 5) as u16)
                    .collect();
                assert_eq!(collected.positions(at), expected);
            }
            let only_second = KeyRanges::of_projects(vec![1]);
            let mut cursor = PostingCursor::open(&pages, &value, &only_second).unwrap();
            let expected: Vec<Posting> = list
                .iter()
                .copied()
                .filter(|p| key_project(p.key) == 1)
                .collect();
            assert_eq!(cursor.frequency(&pages).unwrap(), expected.len() as u64);
            assert_eq!(cursor.collect(&pages).unwrap(), expected);
        }
    }

    #[test]
    fn advance_finds_the_next_posting_and_bounds_cover_it() {
        let pages = MemoryPages::new();
        let list = postings((0..3_000).map(|i| i * 10 + 3));
        let value = write(&pages, &list);
        let mut cursor = PostingCursor::open(&pages, &value, &KeyRanges::all()).unwrap();
        cursor.set_weights(|frequency, length| f64::from(frequency) / f64::from(length));
        for target in [0u64, 3, 4, 13, 999, 1_000, 15_555, 29_993, 29_994] {
            let expected = list.iter().find(|p| p.key >= target).copied();
            let (last, best) = cursor.bound(&pages, target).unwrap();
            if let Some(posting) = expected {
                if posting.key <= last {
                    assert!(
                        f64::from(posting.frequency) / f64::from(posting.length) <= best + 1e-12
                    );
                }
            } else {
                assert_eq!(last, u64::MAX);
            }
            assert_eq!(
                cursor.advance(&pages, target).unwrap(),
                expected,
                "{target}"
            );
        }
    }

    #[test]
    fn keys_split_into_project_and_tuple() {
        let tid = Tid {
            block: u32::MAX,
            offset: 291,
        };
        let key = document_key(MAX_PROJECTS, tid);
        assert_eq!(key_project(key), MAX_PROJECTS);
        assert_eq!(key_tid(key), tid);
        let (start, end) = project_range(7);
        assert!(
            start
                <= document_key(
                    7,
                    Tid {
                        block: 0,
                        offset: 0
                    }
                )
                && document_key(7, tid) < end
        );
    }
}

/// Where a posting list's bytes go: postings inline in the dictionary, in blocks, in directories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListBytes {
    pub inline: u64,
    pub blocks: u64,
    pub directory: u64,
}

/// Measures a posting list (reads its directory and blocks).
pub fn list_bytes<S: PageSource>(source: &S, value: &[u8]) -> Result<ListBytes, IndexError> {
    let mut reader = Reader::new(value);
    let _total = reader.varint()?;
    let mut bytes = ListBytes::default();
    match reader.u8()? {
        KIND_INLINE => {
            bytes.inline = value.len() as u64;
            return Ok(bytes);
        }
        KIND_BLOCK => {
            let (_, pointer, _, _) = read_entry(&mut reader, 0)?;
            let mut block = Vec::new();
            read_record(source, pointer, &mut block)?;
            bytes.blocks = block.len() as u64 + 2;
            return Ok(bytes);
        }
        _ => {}
    }
    let _blocks = reader.varint()?;
    let mut chunk_pointer = Pointer::read(&mut reader)?;
    let mut chunk = Vec::new();
    let mut block = Vec::new();
    while !chunk_pointer.is_none() {
        read_record(source, chunk_pointer, &mut chunk)?;
        bytes.directory += chunk.len() as u64 + 2;
        let mut reader = Reader::new(&chunk);
        let count = reader.u16()?;
        for _ in 0..count {
            let (_, pointer, _, _) = read_entry(&mut reader, 0)?;
            read_record(source, pointer, &mut block)?;
            bytes.blocks += block.len() as u64 + 2;
        }
        chunk_pointer = Pointer::read(&mut reader)?;
    }
    Ok(bytes)
}
