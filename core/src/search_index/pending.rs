//! The pending list: documents inserted since the last flush, appended to a chain of pages in
//! insertion order. A page's data area starts with `[next block u32][records u16][bytes used u16]`
//! and holds length-prefixed records. A document is one record, or a first record and
//! continuations when its terms do not fit in one; a reader that reaches the end of the chain in
//! the middle of a document (one being appended right now) leaves it out.

use super::encoding::{put_u16, put_u32, put_varint, Reader};
use super::pages::PAGE_DATA_BYTES;
use super::postings::Tid;
use super::segment::{Document, ProjectId};
use super::IndexError;

pub const NO_BLOCK: u32 = u32::MAX;
const HEADER_BYTES: usize = 8;
/// The largest record a pending page holds.
pub const MAX_PENDING_RECORD: usize = PAGE_DATA_BYTES - HEADER_BYTES - 2;

const FIRST: u8 = 1;
const CONTINUED: u8 = 2;

/// A new, empty pending page (as many bytes as it uses).
pub fn empty_page() -> Vec<u8> {
    let mut page = Vec::with_capacity(PAGE_DATA_BYTES);
    put_u32(&mut page, NO_BLOCK);
    put_u16(&mut page, 0);
    put_u16(&mut page, HEADER_BYTES as u16);
    page
}

fn header(data: &[u8]) -> Result<(u32, u16, usize), IndexError> {
    let mut reader = Reader::new(data);
    let next = reader.u32()?;
    let records = reader.u16()?;
    let used = usize::from(reader.u16()?);
    if !(HEADER_BYTES..=PAGE_DATA_BYTES.min(data.len())).contains(&used) {
        return Err(IndexError::Corrupt(
            "a pending page says it uses more than it has",
        ));
    }
    Ok((next, records, used))
}

/// The page after this one in the chain (`NO_BLOCK` at the end).
pub fn next_page(data: &[u8]) -> Result<u32, IndexError> {
    Ok(header(data)?.0)
}

pub fn set_next_page(data: &mut [u8], next: u32) {
    data[..4].copy_from_slice(&next.to_le_bytes());
}

/// Bytes of the page in use.
pub fn used_bytes(data: &[u8]) -> Result<usize, IndexError> {
    Ok(header(data)?.2)
}

/// Appends a record if it fits; `data` is the whole data area.
pub fn append(data: &mut [u8], record: &[u8]) -> Result<bool, IndexError> {
    let (_, records, used) = header(data)?;
    if used + 2 + record.len() > PAGE_DATA_BYTES || records == u16::MAX {
        return Ok(false);
    }
    data[used..used + 2].copy_from_slice(&(record.len() as u16).to_le_bytes());
    data[used + 2..used + 2 + record.len()].copy_from_slice(record);
    data[4..6].copy_from_slice(&(records + 1).to_le_bytes());
    data[6..8].copy_from_slice(&((used + 2 + record.len()) as u16).to_le_bytes());
    Ok(true)
}

/// The records of a page, in order.
pub fn records(data: &[u8]) -> Result<Vec<&[u8]>, IndexError> {
    let (_, count, used) = header(data)?;
    let mut reader = Reader::new(&data[HEADER_BYTES..used]);
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let length = usize::from(reader.u16()?);
        out.push(reader.bytes(length)?);
    }
    Ok(out)
}

fn put_term(out: &mut Vec<u8>, term: &[u8], frequency: u32, positions: &[u16]) {
    put_varint(out, term.len() as u64);
    out.extend_from_slice(term);
    put_varint(out, u64::from(frequency));
    put_varint(out, positions.len() as u64);
    let mut previous = 0u16;
    for &position in positions {
        put_varint(out, u64::from(position.wrapping_sub(previous)));
        previous = position;
    }
}

/// The records that store a document, each at most `MAX_PENDING_RECORD` bytes.
pub fn encode_document(document: &Document) -> Result<Vec<Vec<u8>>, IndexError> {
    let mut records = Vec::new();
    let mut record = vec![FIRST];
    put_u32(&mut record, document.tid.block);
    put_u16(&mut record, document.tid.offset);
    record.extend_from_slice(&document.project);
    put_varint(&mut record, u64::from(document.length));
    put_varint(&mut record, document.term_count() as u64);
    for (term, frequency, positions) in document.terms() {
        let size = 3 * 5 + term.len() + 3 * positions.len();
        if size + 1 > MAX_PENDING_RECORD {
            return Err(IndexError::TooLarge("a term is longer than a page"));
        }
        if record.len() + size > MAX_PENDING_RECORD {
            records.push(std::mem::replace(&mut record, vec![CONTINUED]));
        }
        put_term(&mut record, term, frequency, positions);
    }
    records.push(record);
    Ok(records)
}

/// Rebuilds documents from the records of a chain, fed in order.
#[derive(Default)]
pub struct Assembler {
    partial: Option<(Document, u64)>,
    /// Inside a document `feed_kept` leaves out: its continuations are passed over too.
    skipping: bool,
    abandoned: u64,
    /// One term's positions, reused from term to term: a search reads every pending document.
    positions: Vec<u16>,
}

impl Assembler {
    pub fn new() -> Assembler {
        Assembler::default()
    }

    fn take_terms(
        document: &mut Document,
        remaining: &mut u64,
        reader: &mut Reader<'_>,
        positions: &mut Vec<u16>,
    ) -> Result<(), IndexError> {
        while !reader.is_empty() {
            if *remaining == 0 {
                return Err(IndexError::Corrupt(
                    "a pending document holds more terms than it says",
                ));
            }
            let length = reader.varint()? as usize;
            let term = reader.bytes(length)?;
            let frequency = reader.varint_u32()?;
            let count = reader.varint()? as usize;
            if count > 1 << 16 {
                return Err(IndexError::Corrupt(
                    "a pending term has more positions than a tsvector holds",
                ));
            }
            positions.clear();
            let mut position = 0u16;
            for _ in 0..count {
                let gap = u16::try_from(reader.varint()?)
                    .map_err(|_| IndexError::Corrupt("a position gap is too large"))?;
                position = position.wrapping_add(gap);
                positions.push(position);
            }
            document
                .push_term_at(term, frequency, positions)
                .map_err(|_| IndexError::Corrupt("pending terms are out of order"))?;
            *remaining -= 1;
        }
        Ok(())
    }

    /// Adds a record's terms to `document`; returns it when they were its last, keeps it
    /// for the next record otherwise.
    fn read_terms(
        &mut self,
        mut document: Document,
        mut remaining: u64,
        reader: &mut Reader<'_>,
    ) -> Result<Option<Document>, IndexError> {
        Self::take_terms(&mut document, &mut remaining, reader, &mut self.positions)?;
        if remaining == 0 {
            return Ok(Some(document));
        }
        self.partial = Some((document, remaining));
        Ok(None)
    }

    /// Documents whose first records were followed by another document's: appends a crash or
    /// an error interrupted.
    pub fn abandoned(&self) -> u64 {
        self.abandoned
    }

    /// Whether the records fed so far end in the middle of a document.
    pub fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes the next record; returns a document once its last record is in.
    pub fn feed(&mut self, record: &[u8]) -> Result<Option<Document>, IndexError> {
        self.feed_kept(record, |_| true)
    }

    /// As `feed`, but documents of projects `keep` refuses are passed over undecoded: a search
    /// of some projects reads the whole list, and decoding is most of what that costs.
    pub fn feed_kept(
        &mut self,
        record: &[u8],
        keep: impl Fn(&ProjectId) -> bool,
    ) -> Result<Option<Document>, IndexError> {
        let mut reader = Reader::new(record);
        match record.first() {
            Some(&FIRST) => {
                let project = record
                    .get(1 + 4 + 2..1 + 4 + 2 + 16)
                    .ok_or(IndexError::Corrupt(
                        "a pending record ends inside its header",
                    ))?;
                let project: &ProjectId = project.try_into().expect("16 bytes");
                self.skipping = !keep(project);
                if self.skipping {
                    if self.partial.take().is_some() {
                        self.abandoned += 1;
                    }
                    return Ok(None);
                }
            }
            Some(&CONTINUED) if self.skipping => return Ok(None),
            _ => {}
        }
        match reader.u8()? {
            FIRST => {
                // A document begun and never finished: its insert stopped between two records (the
                // server crashed, or the statement failed), so its transaction did not commit.
                // Appends hold the root page exclusively, so nothing else explains it; the next
                // document starts clean.
                if self.partial.take().is_some() {
                    self.abandoned += 1;
                }
                let tid = Tid {
                    block: reader.u32()?,
                    offset: reader.u16()?,
                };
                let project: ProjectId = reader.bytes(16)?.try_into().expect("16 bytes");
                let length = reader.varint_u32()?;
                let remaining = reader.varint()?;
                // Room for the terms this record holds (a record is at most a page): one
                // allocation per vector instead of one per growth.
                let document = Document::with_capacity(
                    tid,
                    project,
                    length,
                    (remaining as usize).min(record.len() / 3),
                    record.len(),
                );
                self.read_terms(document, remaining, &mut reader)
            }
            CONTINUED => {
                let (document, remaining) = self.partial.take().ok_or(IndexError::Corrupt(
                    "a pending continuation without its start",
                ))?;
                self.read_terms(document, remaining, &mut reader)
            }
            _ => Err(IndexError::Corrupt("an unknown pending record")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::segment::tests::document;

    #[test]
    fn documents_round_trip_through_pages_even_when_larger_than_one() {
        let text: String = (0..3_000).map(|i| format!("term{i:05} ")).collect();
        let documents = vec![
            document(1, 1, "small one"),
            document(2, 2, &text),
            document(3, 1, "after"),
        ];
        let mut pages = vec![empty_page()];
        pages[0].resize(PAGE_DATA_BYTES, 0);
        for document in &documents {
            for record in encode_document(document).unwrap() {
                assert!(record.len() <= MAX_PENDING_RECORD);
                if !append(pages.last_mut().unwrap(), &record).unwrap() {
                    let mut page = empty_page();
                    page.resize(PAGE_DATA_BYTES, 0);
                    assert!(append(&mut page, &record).unwrap());
                    pages.push(page);
                }
            }
        }
        assert!(pages.len() > 3);
        let mut assembler = Assembler::new();
        let mut read = Vec::new();
        for page in &pages {
            for record in records(page).unwrap() {
                read.extend(assembler.feed(record).unwrap());
            }
        }
        assert_eq!(read, documents);
    }

    #[test]
    fn a_document_cut_off_at_the_end_is_left_out() {
        let text: String = (0..3_000).map(|i| format!("term{i:05} ")).collect();
        let records = encode_document(&document(2, 2, &text)).unwrap();
        let mut assembler = Assembler::new();
        for record in &records[..records.len() - 1] {
            assert_eq!(assembler.feed(record).unwrap(), None);
        }
    }

    #[test]
    fn a_document_an_interrupted_insert_left_unfinished_is_skipped_by_the_next() {
        // An insert that crashed after the first of its records; the next insert starts anew.
        let text: String = (0..3_000).map(|i| format!("term{i:05} ")).collect();
        let interrupted = encode_document(&document(2, 2, &text)).unwrap();
        let next = document(3, 1, "after the crash");
        let mut assembler = Assembler::new();
        assert_eq!(assembler.feed(&interrupted[0]).unwrap(), None);
        assert!(assembler.is_partial());
        let records = encode_document(&next).unwrap();
        assert_eq!(assembler.feed(&records[0]).unwrap(), Some(next));
        assert_eq!(assembler.abandoned(), 1);
        assert!(!assembler.is_partial());
    }

    #[test]
    fn a_filtered_read_decodes_exactly_the_kept_projects_documents() {
        // Long documents span several records: the continuations of a passed-over document must
        // be passed over with it, and those of a kept one read.
        let long = |n: usize| (0..n).map(|i| format!("term{i:05} ")).collect::<String>();
        let documents = [
            document(1, 1, "small one"),
            document(2, 2, &long(3_000)),
            document(3, 1, &long(2_500)),
            document(4, 2, "short and passed over"),
            document(5, 3, "a third project"),
            document(6, 1, "last kept"),
        ];
        let records: Vec<Vec<u8>> = documents
            .iter()
            .flat_map(|document| encode_document(document).unwrap())
            .collect();
        assert!(records.len() > documents.len() + 2);
        for kept in [vec![1u8], vec![2], vec![1, 3], vec![], vec![1, 2, 3]] {
            let projects: Vec<ProjectId> = kept
                .iter()
                .map(|&n| crate::search_index::segment::tests::project(n))
                .collect();
            let mut assembler = Assembler::new();
            let mut read = Vec::new();
            for record in &records {
                read.extend(
                    assembler
                        .feed_kept(record, |project| projects.contains(project))
                        .unwrap(),
                );
            }
            let expected: Vec<Document> = documents
                .iter()
                .filter(|document| projects.contains(&document.project))
                .cloned()
                .collect();
            assert_eq!(read, expected, "kept projects {kept:?}");
            assert_eq!(assembler.abandoned(), 0);
            assert!(!assembler.is_partial());
        }
    }

    #[test]
    fn a_filtered_read_still_refuses_damage() {
        let keep_none = |_: &ProjectId| false;
        assert!(Assembler::new()
            .feed_kept(&[FIRST, 0, 0], keep_none)
            .is_err());
        assert!(Assembler::new().feed_kept(&[CONTINUED], keep_none).is_err());
        assert!(Assembler::new().feed_kept(&[9], keep_none).is_err());
    }

    #[test]
    fn damaged_pages_are_errors() {
        let mut page = empty_page();
        page.resize(PAGE_DATA_BYTES, 0);
        page[6..8].copy_from_slice(&9000u16.to_le_bytes());
        assert!(records(&page).is_err());
        assert!(Assembler::new().feed(&[9]).is_err());
        assert!(Assembler::new().feed(&[CONTINUED]).is_err());
    }
}
