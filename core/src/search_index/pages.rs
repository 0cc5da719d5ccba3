//! Records in pages. Every structure of the index is a set of records: byte strings of up to
//! `MAX_RECORD_BYTES`, packed into pages and never split across two, addressed by a `Pointer`
//! (block number and offset). A record is written once and never changed; structures point from
//! the records written later (parents) to those written earlier (children).
//!
//! The core sees a page as its data area only. The extension maps `PageSource` and `PageSink` onto
//! PostgreSQL buffers, page headers and write-ahead logging; `MemoryPages` keeps them in memory for
//! tests and benchmarks.

use std::cell::RefCell;

use super::encoding::{put_u16, put_u32, Reader};
use super::IndexError;

/// What an 8 KB PostgreSQL page leaves for data after its 24-byte header and the 16-byte trailer
/// the extension keeps at its end.
pub const PAGE_DATA_BYTES: usize = 8192 - 24 - 16;

/// The largest record: a page less its 2-byte length prefix.
pub const MAX_RECORD_BYTES: usize = PAGE_DATA_BYTES - 2;

/// Where a record starts: a block of the index and an offset into its data area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pointer {
    pub block: u32,
    pub offset: u16,
}

impl Pointer {
    /// Points nowhere: an empty structure or the end of a chain.
    pub const NONE: Pointer = Pointer {
        block: u32::MAX,
        offset: u16::MAX,
    };
    pub const BYTES: usize = 6;

    pub fn is_none(&self) -> bool {
        *self == Pointer::NONE
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        put_u32(out, self.block);
        put_u16(out, self.offset);
    }

    pub fn read(reader: &mut Reader<'_>) -> Result<Pointer, IndexError> {
        Ok(Pointer {
            block: reader.u32()?,
            offset: reader.u16()?,
        })
    }
}

/// Pages to read from.
pub trait PageSource {
    /// Calls `read` with the data area of `block` (PAGE_DATA_BYTES long).
    fn with_page<R>(&self, block: u32, read: impl FnOnce(&[u8]) -> R) -> Result<R, IndexError>;
}

/// Copies the record at `pointer` into `into` (replacing its contents).
pub fn read_record<S: PageSource>(
    source: &S,
    pointer: Pointer,
    into: &mut Vec<u8>,
) -> Result<(), IndexError> {
    if pointer.is_none() {
        return Err(IndexError::Corrupt("a pointer leads nowhere"));
    }
    source.with_page(pointer.block, |data| {
        let at = usize::from(pointer.offset);
        let length = data
            .get(at..at + 2)
            .map(|bytes| usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
            .ok_or(IndexError::Corrupt("a pointer lies outside its page"))?;
        let record = data
            .get(at + 2..at + 2 + length)
            .ok_or(IndexError::Corrupt("a record runs past its page"))?;
        into.clear();
        into.extend_from_slice(record);
        Ok(())
    })?
}

/// Pages to write to.
pub trait PageSink {
    /// A block that is free to be written: a recycled page or a new one at the end.
    fn allocate(&self) -> Result<u32, IndexError>;
    /// Stores the data area of an allocated block (at most PAGE_DATA_BYTES; the rest is zero).
    fn write(&self, block: u32, data: &[u8]) -> Result<(), IndexError>;
}

/// Packs records into pages, allocating them as needed; remembers every page it wrote so the
/// structure can be freed as a whole.
pub struct RecordWriter<'s, S: PageSink> {
    sink: &'s S,
    block: Option<u32>,
    page: Vec<u8>,
    pages: Vec<u32>,
}

impl<'s, S: PageSink> RecordWriter<'s, S> {
    pub fn new(sink: &'s S) -> RecordWriter<'s, S> {
        RecordWriter {
            sink,
            block: None,
            page: Vec::with_capacity(PAGE_DATA_BYTES),
            pages: Vec::new(),
        }
    }

    /// Writes a record and says where it is.
    pub fn append(&mut self, record: &[u8]) -> Result<Pointer, IndexError> {
        if record.len() > MAX_RECORD_BYTES {
            return Err(IndexError::TooLarge("a record is larger than a page"));
        }
        if self.block.is_none() || self.page.len() + 2 + record.len() > PAGE_DATA_BYTES {
            self.flush()?;
            let block = self.sink.allocate()?;
            self.block = Some(block);
            self.pages.push(block);
        }
        let pointer = Pointer {
            block: self.block.expect("a page is open"),
            offset: self.page.len() as u16,
        };
        put_u16(&mut self.page, record.len() as u16);
        self.page.extend_from_slice(record);
        Ok(pointer)
    }

    fn flush(&mut self) -> Result<(), IndexError> {
        if let Some(block) = self.block.take() {
            self.sink.write(block, &self.page)?;
            self.page.clear();
        }
        Ok(())
    }

    /// The pages written or being written so far.
    pub fn pages(&self) -> &[u32] {
        &self.pages
    }

    /// Writes the last page; returns every page written, in order.
    pub fn finish(mut self) -> Result<Vec<u32>, IndexError> {
        self.flush()?;
        Ok(std::mem::take(&mut self.pages))
    }
}

/// Pages in memory: for tests and benchmarks of the core.
#[derive(Debug, Default)]
pub struct MemoryPages {
    pages: RefCell<Vec<Option<Vec<u8>>>>,
    free: RefCell<Vec<u32>>,
}

impl MemoryPages {
    pub fn new() -> MemoryPages {
        MemoryPages::default()
    }

    /// Gives pages back for reuse.
    pub fn release(&self, blocks: &[u32]) {
        for &block in blocks {
            self.pages.borrow_mut()[block as usize] = None;
            self.free.borrow_mut().push(block);
        }
    }

    /// Pages holding data.
    pub fn pages_in_use(&self) -> usize {
        self.pages
            .borrow()
            .iter()
            .filter(|page| page.is_some())
            .count()
    }
}

impl PageSource for MemoryPages {
    fn with_page<R>(&self, block: u32, read: impl FnOnce(&[u8]) -> R) -> Result<R, IndexError> {
        let pages = self.pages.borrow();
        let page = pages
            .get(block as usize)
            .and_then(Option::as_ref)
            .ok_or(IndexError::Corrupt("a page is missing"))?;
        Ok(read(page))
    }
}

impl PageSink for MemoryPages {
    fn allocate(&self) -> Result<u32, IndexError> {
        let mut pages = self.pages.borrow_mut();
        let block = match self.free.borrow_mut().pop() {
            Some(block) => block,
            None => {
                pages.push(None);
                (pages.len() - 1) as u32
            }
        };
        pages[block as usize] = Some(vec![0; PAGE_DATA_BYTES]);
        Ok(block)
    }

    fn write(&self, block: u32, data: &[u8]) -> Result<(), IndexError> {
        let mut pages = self.pages.borrow_mut();
        let page = pages.get_mut(block as usize).and_then(Option::as_mut);
        let page = page.ok_or(IndexError::Corrupt("writing a page that was not allocated"))?;
        page.fill(0);
        page[..data.len()].copy_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_pack_into_pages_and_read_back() {
        let pages = MemoryPages::new();
        let mut writer = RecordWriter::new(&pages);
        let records: Vec<Vec<u8>> = (0..200)
            .map(|i| vec![i as u8; (i * 37) % 3000 + 1])
            .collect();
        let pointers: Vec<Pointer> = records
            .iter()
            .map(|record| writer.append(record).unwrap())
            .collect();
        let written = writer.finish().unwrap();
        assert!(written.len() > 1 && written.len() < 100);
        let mut buffer = Vec::new();
        for (record, pointer) in records.iter().zip(&pointers) {
            read_record(&pages, *pointer, &mut buffer).unwrap();
            assert_eq!(&buffer, record);
        }
    }

    #[test]
    fn an_oversized_record_is_refused() {
        let pages = MemoryPages::new();
        let mut writer = RecordWriter::new(&pages);
        assert!(writer.append(&vec![0; MAX_RECORD_BYTES]).is_ok());
        assert!(matches!(
            writer.append(&vec![0; MAX_RECORD_BYTES + 1]),
            Err(IndexError::TooLarge(_))
        ));
    }

    #[test]
    fn bad_pointers_are_errors() {
        let pages = MemoryPages::new();
        let mut writer = RecordWriter::new(&pages);
        writer.append(b"abc").unwrap();
        writer.finish().unwrap();
        let mut buffer = Vec::new();
        assert!(read_record(
            &pages,
            Pointer {
                block: 0,
                offset: (PAGE_DATA_BYTES - 1) as u16
            },
            &mut buffer
        )
        .is_err());
        assert!(read_record(
            &pages,
            Pointer {
                block: 7,
                offset: 0
            },
            &mut buffer
        )
        .is_err());
        assert!(read_record(&pages, Pointer::NONE, &mut buffer).is_err());
    }
}
