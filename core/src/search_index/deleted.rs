//! The documents of a segment that vacuum found gone: their keys and lengths, ascending, as a
//! chain of records. Searches skip them and leave them out of the statistics; a merge drops them.

use super::encoding::{put_u16, put_varint, Reader};
use super::pages::{read_record, PageSink, PageSource, Pointer, RecordWriter};
use super::IndexError;

const CHUNK_BYTES: usize = 4000;

/// Writes the list; `Pointer::NONE` for an empty one.
pub fn write_deleted<S: PageSink>(
    writer: &mut RecordWriter<'_, S>,
    deleted: &[(u64, u32)],
) -> Result<Pointer, IndexError> {
    if deleted.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(IndexError::Invalid("deleted keys must ascend"));
    }
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut count = 0u16;
    let mut previous = 0u64;
    for &(key, length) in deleted {
        if chunk.len() > CHUNK_BYTES || count == u16::MAX {
            chunks.push((std::mem::take(&mut chunk), count));
            count = 0;
            previous = 0;
        }
        put_varint(&mut chunk, key - previous);
        put_varint(&mut chunk, u64::from(length));
        previous = key;
        count += 1;
    }
    if count > 0 {
        chunks.push((chunk, count));
    }
    let mut next = Pointer::NONE;
    for (entries, count) in chunks.into_iter().rev() {
        let mut record = Vec::with_capacity(entries.len() + 2 + Pointer::BYTES);
        put_u16(&mut record, count);
        record.extend_from_slice(&entries);
        next.write(&mut record);
        next = writer.append(&record)?;
    }
    Ok(next)
}

/// Deleted documents: key and length, keys ascending.
pub type Deleted = Vec<(u64, u32)>;

/// The list, and the blocks holding it.
pub fn read_deleted<S: PageSource>(
    source: &S,
    mut pointer: Pointer,
) -> Result<(Deleted, Vec<u32>), IndexError> {
    let mut deleted = Vec::new();
    let mut blocks = Vec::new();
    let mut record = Vec::new();
    while !pointer.is_none() {
        if blocks.len() > 1 << 24 {
            return Err(IndexError::Corrupt("a deleted list never ends"));
        }
        blocks.push(pointer.block);
        read_record(source, pointer, &mut record)?;
        let mut reader = Reader::new(&record);
        let count = reader.u16()?;
        let mut key = 0u64;
        for _ in 0..count {
            key = key
                .checked_add(reader.varint()?)
                .ok_or(IndexError::Corrupt("a deleted key overflows"))?;
            deleted.push((key, reader.varint_u32()?));
        }
        pointer = Pointer::read(&mut reader)?;
    }
    if deleted.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(IndexError::Corrupt("deleted keys are out of order"));
    }
    blocks.sort_unstable();
    blocks.dedup();
    Ok((deleted, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::pages::MemoryPages;

    #[test]
    fn deleted_lists_round_trip() {
        let pages = MemoryPages::new();
        for size in [0usize, 1, 10_000] {
            let deleted: Vec<(u64, u32)> = (0..size as u64)
                .map(|i| (i * 977 + (i << 43), (i % 300) as u32))
                .collect();
            let mut writer = RecordWriter::new(&pages);
            let pointer = write_deleted(&mut writer, &deleted).unwrap();
            writer.finish().unwrap();
            assert_eq!(pointer.is_none(), size == 0);
            let (read, blocks) = read_deleted(&pages, pointer).unwrap();
            assert_eq!(read, deleted);
            assert_eq!(blocks.is_empty(), size == 0);
        }
    }
}
