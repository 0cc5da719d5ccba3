//! Segments: immutable inverted indexes over a set of documents.
//!
//! A segment numbers the projects of its documents in uuid order and keys each document by
//! (project number, tuple id), so one project's documents are adjacent in every posting list.
//! It holds a term dictionary (a B+tree from term to posting list), a project table (a B+tree from
//! project uuid to number, documents and total length), the list of all its documents with their
//! lengths (for vacuum and merges), and the list of its pages (to free it as a whole). Its header
//! record ties them together.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::btree::{self, TreeBuilder, TreeCursor};
use super::encoding::{put_u32, put_varint, Reader};
use super::pages::{read_record, PageSink, PageSource, Pointer, RecordWriter};
use super::postings::{document_key, write_postings, Posting, Tid, MAX_PROJECTS};
use super::IndexError;
use crate::search::tokenizer::FxHasher;

const SEGMENT_MAGIC: u32 = 0x4343_4f53; // "CCOS"
const SEGMENT_VERSION: u8 = 2;
const PAGE_LIST_CHUNK: usize = 1500;

pub type ProjectId = [u8; 16];

/// A document as the index sees it: where it is, whose it is, how long it is, and its distinct
/// terms with their frequencies and word positions, in ascending byte order (kept in two buffers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub tid: Tid,
    pub project: ProjectId,
    pub length: u32,
    text: Vec<u8>,
    positions: Vec<u16>,
    /// Per term: its bytes in `text`, its frequency, its positions in `positions`.
    terms: Vec<TermSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TermSpan {
    start: u32,
    end: u32,
    frequency: u32,
    positions_start: u32,
    positions_end: u32,
}

impl Document {
    pub fn new(tid: Tid, project: ProjectId, length: u32) -> Document {
        Document::with_capacity(tid, project, length, 0, 0)
    }

    /// An empty document with room for `terms` terms and `bytes` bytes of their text and
    /// positions together.
    pub fn with_capacity(
        tid: Tid,
        project: ProjectId,
        length: u32,
        terms: usize,
        bytes: usize,
    ) -> Document {
        Document {
            tid,
            project,
            length,
            text: Vec::with_capacity(bytes),
            positions: Vec::with_capacity(bytes / 2),
            terms: Vec::with_capacity(terms),
        }
    }

    /// Adds a term without positions; terms must come in strictly ascending byte order.
    pub fn push_term(&mut self, term: &[u8], frequency: u32) -> Result<(), IndexError> {
        self.push_term_at(term, frequency, &[])
    }

    /// Adds a term with its word positions (ascending, as a tsvector stores them); terms must
    /// come in strictly ascending byte order.
    pub fn push_term_at(
        &mut self,
        term: &[u8],
        frequency: u32,
        positions: &[u16],
    ) -> Result<(), IndexError> {
        if self
            .terms
            .last()
            .is_some_and(|span| &self.text[span.start as usize..span.end as usize] >= term)
        {
            return Err(IndexError::Invalid("document terms must ascend"));
        }
        let start = self.text.len() as u32;
        self.text.extend_from_slice(term);
        let positions_start = self.positions.len() as u32;
        self.positions.extend_from_slice(positions);
        self.terms.push(TermSpan {
            start,
            end: self.text.len() as u32,
            frequency: frequency.max(1),
            positions_start,
            positions_end: self.positions.len() as u32,
        });
        Ok(())
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    fn text_of(&self, span: &TermSpan) -> &[u8] {
        &self.text[span.start as usize..span.end as usize]
    }

    /// A term, its frequency and its positions.
    pub fn term(&self, index: usize) -> (&[u8], u32, &[u16]) {
        let span = &self.terms[index];
        (
            self.text_of(span),
            span.frequency,
            &self.positions[span.positions_start as usize..span.positions_end as usize],
        )
    }

    pub fn terms(&self) -> impl Iterator<Item = (&[u8], u32, &[u16])> + '_ {
        (0..self.terms.len()).map(|index| self.term(index))
    }

    fn find(&self, term: &[u8]) -> Option<usize> {
        let at = self.terms.partition_point(|span| self.text_of(span) < term);
        self.terms
            .get(at)
            .filter(|span| self.text_of(span) == term)
            .map(|_| at)
    }

    /// The frequency of `term` in the document (0 when absent).
    pub fn frequency(&self, term: &[u8]) -> u32 {
        self.find(term).map_or(0, |at| self.terms[at].frequency)
    }

    /// The positions of `term`: `None` when absent, empty when stored without positions.
    pub fn positions(&self, term: &[u8]) -> Option<&[u16]> {
        self.find(term).map(|at| self.term(at).2)
    }

    /// True when some term starts with `prefix`.
    pub fn has_prefix(&self, prefix: &[u8]) -> bool {
        let at = self
            .terms
            .partition_point(|span| self.text_of(span) < prefix);
        self.terms
            .get(at)
            .is_some_and(|span| self.text_of(span).starts_with(prefix))
    }
}

/// Where a written segment is, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentLocation {
    pub header: Pointer,
    pub pages: Pointer,
    pub documents: u64,
}

/// A project's entry in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectEntry {
    pub number: u32,
    pub documents: u64,
    pub length: u64,
}

fn encode_project(entry: &ProjectEntry) -> Vec<u8> {
    let mut value = Vec::new();
    put_varint(&mut value, u64::from(entry.number));
    put_varint(&mut value, entry.documents);
    put_varint(&mut value, entry.length);
    value
}

fn decode_project(value: &[u8]) -> Result<ProjectEntry, IndexError> {
    let mut reader = Reader::new(value);
    Ok(ProjectEntry {
        number: reader.varint_u32()?,
        documents: reader.varint()?,
        length: reader.varint()?,
    })
}

fn project_id(key: &[u8]) -> Result<ProjectId, IndexError> {
    key.try_into()
        .map_err(|_| IndexError::Corrupt("a project id is not 16 bytes"))
}

/// Writes the parts of a segment the builder and the merger share, once its postings and
/// dictionary are written.
pub(crate) struct SegmentParts {
    pub dictionary: Pointer,
    pub terms: u64,
    pub projects: Vec<(ProjectId, ProjectEntry)>,
    /// All documents: key, frequency 1, length.
    pub documents: Vec<Posting>,
}

pub(crate) fn finish_segment<S: PageSink>(
    mut writer: RecordWriter<'_, S>,
    parts: SegmentParts,
) -> Result<SegmentLocation, IndexError> {
    let no_positions = vec![&[][..]; parts.documents.len()];
    let all_documents = write_postings(&mut writer, &parts.documents, &no_positions)?;
    let mut project_tree = TreeBuilder::new();
    for (id, entry) in &parts.projects {
        project_tree.push(&mut writer, id, &encode_project(entry))?;
    }
    let project_root = project_tree.finish(&mut writer)?;
    let total_length: u64 = parts.projects.iter().map(|(_, entry)| entry.length).sum();

    let mut header = Vec::new();
    put_u32(&mut header, SEGMENT_MAGIC);
    header.push(SEGMENT_VERSION);
    put_varint(&mut header, parts.documents.len() as u64);
    put_varint(&mut header, total_length);
    put_varint(&mut header, parts.projects.len() as u64);
    put_varint(&mut header, parts.terms);
    parts.dictionary.write(&mut header);
    project_root.write(&mut header);
    put_varint(&mut header, all_documents.len() as u64);
    header.extend_from_slice(&all_documents);
    let header = writer.append(&header)?;

    let listed = writer.pages().to_vec();
    let pages = write_block_list(&mut writer, &listed)?;
    writer.finish()?;
    Ok(SegmentLocation {
        header,
        pages,
        documents: parts.documents.len() as u64,
    })
}

/// Writes a list of block numbers as a chain of records.
pub fn write_block_list<S: PageSink>(
    writer: &mut RecordWriter<'_, S>,
    blocks: &[u32],
) -> Result<Pointer, IndexError> {
    let mut next = Pointer::NONE;
    for chunk in blocks.chunks(PAGE_LIST_CHUNK).rev() {
        let mut record = Vec::with_capacity(2 + 4 * chunk.len() + Pointer::BYTES);
        record.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
        for &block in chunk {
            put_u32(&mut record, block);
        }
        next.write(&mut record);
        next = writer.append(&record)?;
    }
    Ok(next)
}

/// Every block a block list names, and the blocks holding the list itself.
pub fn read_block_list<S: PageSource>(
    source: &S,
    mut pointer: Pointer,
) -> Result<Vec<u32>, IndexError> {
    let mut blocks = Vec::new();
    let mut record = Vec::new();
    let mut hops = 0usize;
    while !pointer.is_none() {
        hops += 1;
        if hops > 1 << 24 {
            return Err(IndexError::Corrupt("a block list never ends"));
        }
        blocks.push(pointer.block);
        read_record(source, pointer, &mut record)?;
        let mut reader = Reader::new(&record);
        let count = reader.u16()?;
        for _ in 0..count {
            blocks.push(reader.u32()?);
        }
        pointer = Pointer::read(&mut reader)?;
    }
    blocks.sort_unstable();
    blocks.dedup();
    Ok(blocks)
}

/// Each term's postings, and the positions of each posting, while a segment is built. Keyed by
/// the terms of the documents being indexed: the tokenizer's fast hasher (see there why it is safe
/// for term-keyed maps).
type TermPostings<'a> =
    HashMap<&'a [u8], (Vec<Posting>, Vec<&'a [u16]>), BuildHasherDefault<FxHasher>>;

/// Writes a segment holding `documents`; `None` when there are none. A tuple id given twice keeps
/// its last document.
pub fn build_segment<S: PageSink>(
    sink: &S,
    documents: Vec<Document>,
) -> Result<Option<SegmentLocation>, IndexError> {
    if documents.is_empty() {
        return Ok(None);
    }
    let mut project_ids: Vec<ProjectId> =
        documents.iter().map(|document| document.project).collect();
    project_ids.sort_unstable();
    project_ids.dedup();
    if project_ids.len() > MAX_PROJECTS as usize + 1 {
        return Err(IndexError::TooLarge("too many projects for one segment"));
    }
    let numbers: HashMap<ProjectId, u32> = project_ids
        .iter()
        .enumerate()
        .map(|(number, id)| (*id, number as u32))
        .collect();

    let mut keyed: Vec<(u64, Document)> = documents
        .into_iter()
        .map(|document| {
            (
                document_key(numbers[&document.project], document.tid),
                document,
            )
        })
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    // Keep the last of equal keys: the stable sort left them in insertion order.
    let mut unique: Vec<(u64, Document)> = Vec::with_capacity(keyed.len());
    for (key, document) in keyed {
        match unique.last_mut() {
            Some(last) if last.0 == key => *last = (key, document),
            _ => unique.push((key, document)),
        }
    }

    let mut projects: Vec<(ProjectId, ProjectEntry)> = project_ids
        .iter()
        .enumerate()
        .map(|(number, id)| {
            (
                *id,
                ProjectEntry {
                    number: number as u32,
                    documents: 0,
                    length: 0,
                },
            )
        })
        .collect();
    let mut postings: TermPostings = HashMap::default();
    let mut all_documents = Vec::with_capacity(unique.len());
    for (key, document) in &unique {
        crate::interrupts::check();
        let entry = &mut projects[numbers[&document.project] as usize].1;
        entry.documents += 1;
        entry.length += u64::from(document.length);
        all_documents.push(Posting {
            key: *key,
            frequency: 1,
            length: document.length,
        });
        for (term, frequency, positions) in document.terms() {
            let (list, at) = postings.entry(term).or_default();
            list.push(Posting {
                key: *key,
                frequency,
                length: document.length,
            });
            at.push(positions);
        }
    }
    let mut terms: Vec<&[u8]> = postings.keys().copied().collect();
    terms.sort_unstable();

    let mut writer = RecordWriter::new(sink);
    let mut dictionary = TreeBuilder::new();
    for term in &terms {
        crate::interrupts::check();
        let (list, positions) = &postings[term];
        let value = write_postings(&mut writer, list, positions)?;
        dictionary.push(&mut writer, term, &value)?;
    }
    let term_count = dictionary.len();
    let dictionary = dictionary.finish(&mut writer)?;
    finish_segment(
        writer,
        SegmentParts {
            dictionary,
            terms: term_count,
            projects,
            documents: all_documents,
        },
    )
    .map(Some)
}

/// An open segment.
pub struct Segment<'s, S: PageSource> {
    source: &'s S,
    pub documents: u64,
    pub total_length: u64,
    pub project_count: u64,
    pub terms: u64,
    dictionary: Pointer,
    project_tree: Pointer,
    all_documents: Vec<u8>,
}

impl<'s, S: PageSource> Segment<'s, S> {
    pub fn open(source: &'s S, header: Pointer) -> Result<Segment<'s, S>, IndexError> {
        let mut record = Vec::new();
        read_record(source, header, &mut record)?;
        let mut reader = Reader::new(&record);
        if reader.u32()? != SEGMENT_MAGIC {
            return Err(IndexError::Corrupt(
                "a segment header is not where its pointer says",
            ));
        }
        if reader.u8()? != SEGMENT_VERSION {
            return Err(IndexError::Corrupt("a segment of an unknown version"));
        }
        let documents = reader.varint()?;
        let total_length = reader.varint()?;
        let project_count = reader.varint()?;
        let terms = reader.varint()?;
        let dictionary = Pointer::read(&mut reader)?;
        let project_tree = Pointer::read(&mut reader)?;
        let length = reader.varint()? as usize;
        let all_documents = reader.bytes(length)?.to_vec();
        Ok(Segment {
            source,
            documents,
            total_length,
            project_count,
            terms,
            dictionary,
            project_tree,
            all_documents,
        })
    }

    pub fn source(&self) -> &'s S {
        self.source
    }

    pub fn project(&self, id: &ProjectId) -> Result<Option<ProjectEntry>, IndexError> {
        let mut buffer = Vec::new();
        btree::get(self.source, self.project_tree, id, &mut buffer)?
            .map(|value| decode_project(&value))
            .transpose()
    }

    /// Every project, in uuid (and so number) order.
    pub fn projects(&self) -> Result<Vec<(ProjectId, ProjectEntry)>, IndexError> {
        let mut cursor = TreeCursor::seek(self.source, self.project_tree, b"")?;
        let mut projects = Vec::with_capacity(self.project_count as usize);
        while let Some((key, value)) = cursor.next()? {
            projects.push((project_id(&key)?, decode_project(&value)?));
        }
        Ok(projects)
    }

    /// The dictionary value of a term: its posting list's frequency and whereabouts.
    pub fn term(&self, term: &[u8]) -> Result<Option<Vec<u8>>, IndexError> {
        let mut buffer = Vec::new();
        btree::get(self.source, self.dictionary, term, &mut buffer)
    }

    /// The dictionary from `from` on, in term order.
    pub fn terms_from(&self, from: &[u8]) -> Result<TreeCursor<'s, S>, IndexError> {
        TreeCursor::seek(self.source, self.dictionary, from)
    }

    /// The posting list of all documents (frequency 1, with their lengths).
    pub fn all_documents(&self) -> &[u8] {
        &self.all_documents
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::search_index::pages::MemoryPages;
    use crate::search_index::postings::{KeyRanges, PostingCursor};

    pub fn project(n: u8) -> ProjectId {
        [n; 16]
    }

    pub fn document(block: u32, project_number: u8, text: &str) -> Document {
        let mut words: Vec<(&str, u16)> = text.split_whitespace().zip(1..).collect();
        let length = words.len() as u32;
        words.sort_unstable();
        let mut terms: Vec<(&str, Vec<u16>)> = Vec::new();
        for (word, position) in words {
            match terms.last_mut() {
                Some((last, positions)) if *last == word => positions.push(position),
                _ => terms.push((word, vec![position])),
            }
        }
        let mut document = Document::new(Tid { block, offset: 1 }, project(project_number), length);
        for (term, positions) in terms {
            document
                .push_term_at(term.as_bytes(), positions.len() as u32, &positions)
                .unwrap();
        }
        document
    }

    #[test]
    fn documents_look_terms_up_by_bytes_and_prefix() {
        let document = document(1, 1, "beta alpha gamma alpha");
        assert_eq!(
            (
                document.frequency(b"alpha"),
                document.frequency(b"beta"),
                document.frequency(b"alp")
            ),
            (2, 1, 0)
        );
        assert!(
            document.has_prefix(b"alp")
                && document.has_prefix(b"gamma")
                && !document.has_prefix(b"gammas")
        );
        assert_eq!(document.positions(b"alpha"), Some(&[2u16, 4][..]));
        assert_eq!(document.positions(b"delta"), None);
        let mut out_of_order = Document::new(
            Tid {
                block: 0,
                offset: 1,
            },
            project(0),
            2,
        );
        out_of_order.push_term(b"b", 1).unwrap();
        assert!(out_of_order.push_term(b"a", 1).is_err());
    }

    #[test]
    fn a_segment_finds_its_terms_projects_and_documents() {
        let pages = MemoryPages::new();
        let documents = vec![
            document(3, 2, "error in handler handler"),
            document(1, 1, "timeout error"),
            document(2, 2, "config"),
        ];
        let location = build_segment(&pages, documents).unwrap().unwrap();
        assert_eq!(location.documents, 3);
        let segment = Segment::open(&pages, location.header).unwrap();
        assert_eq!(
            (
                segment.documents,
                segment.total_length,
                segment.project_count,
                segment.terms
            ),
            (3, 7, 2, 5)
        );
        let second = segment.project(&project(2)).unwrap().unwrap();
        assert_eq!(
            second,
            ProjectEntry {
                number: 1,
                documents: 2,
                length: 5
            }
        );
        assert_eq!(segment.project(&project(9)).unwrap(), None);

        let value = segment.term(b"error").unwrap().unwrap();
        let mut cursor = PostingCursor::open(&pages, &value, &KeyRanges::all()).unwrap();
        let postings = cursor.collect(&pages).unwrap();
        assert_eq!(postings.len(), 2);
        assert_eq!(
            postings[0].key,
            document_key(
                0,
                Tid {
                    block: 1,
                    offset: 1
                }
            )
        );
        let value = segment.term(b"handler").unwrap().unwrap();
        let mut cursor =
            PostingCursor::open(&pages, &value, &KeyRanges::of_projects(vec![1])).unwrap();
        assert_eq!(cursor.collect(&pages).unwrap()[0].frequency, 2);
        assert!(segment.term(b"missing").unwrap().is_none());

        let mut all =
            PostingCursor::open(&pages, segment.all_documents(), &KeyRanges::all()).unwrap();
        assert_eq!(
            all.collect(&pages)
                .unwrap()
                .iter()
                .map(|p| p.length)
                .collect::<Vec<_>>(),
            [2, 1, 4]
        );
    }

    #[test]
    fn a_segments_page_list_names_every_page_it_wrote() {
        let pages = MemoryPages::new();
        let documents: Vec<Document> = (0..3_000)
            .map(|i| {
                document(
                    i,
                    (i % 7) as u8,
                    &format!("word{} common shared{}", i, i % 13),
                )
            })
            .collect();
        let location = build_segment(&pages, documents).unwrap().unwrap();
        let listed = read_block_list(&pages, location.pages).unwrap();
        assert_eq!(listed.len(), pages.pages_in_use());
        pages.release(&listed);
        assert_eq!(pages.pages_in_use(), 0);
    }

    #[test]
    fn nothing_to_index_writes_nothing() {
        let pages = MemoryPages::new();
        assert!(build_segment(&pages, Vec::new()).unwrap().is_none());
        assert_eq!(pages.pages_in_use(), 0);
    }
}

/// What a segment holds and where its bytes go, for operators sizing an index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    pub terms: u64,
    pub inline_terms: u64,
    pub postings: u64,
    pub inline_bytes: u64,
    pub block_bytes: u64,
    pub directory_bytes: u64,
    pub dictionary_bytes: u64,
}

/// Walks a segment's whole dictionary: as slow as reading the segment.
pub fn census<S: PageSource>(segment: &Segment<'_, S>) -> Result<Census, IndexError> {
    let mut census = Census::default();
    let mut cursor = segment.terms_from(b"")?;
    while let Some((term, value)) = cursor.next()? {
        crate::interrupts::check();
        census.terms += 1;
        census.postings += super::postings::document_frequency(&value)?;
        let bytes = super::postings::list_bytes(segment.source(), &value)?;
        if bytes.inline > 0 {
            census.inline_terms += 1;
        }
        census.inline_bytes += bytes.inline;
        census.block_bytes += bytes.blocks;
        census.directory_bytes += bytes.directory;
        census.dictionary_bytes += (term.len() + value.len() + 2) as u64;
    }
    Ok(census)
}
