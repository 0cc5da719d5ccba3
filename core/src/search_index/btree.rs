//! A static B+tree of byte-string keys and values, built bottom-up from keys in ascending order
//! and never modified afterwards. The term dictionary and the project table of a segment are such
//! trees.
//!
//! Each node is one record: `[level u8][count u16]` then `count` entries of
//! `[key length varint][key][payload length varint][payload]`, where the payload is the value in
//! a leaf (level 0) and the 6-byte pointer to a child in an inner node, whose key is the child's
//! first key.

use super::encoding::{put_u16, put_varint, varint_len, Reader};
use super::pages::{read_record, PageSink, PageSource, Pointer, RecordWriter, MAX_RECORD_BYTES};
use super::IndexError;

/// Nodes are cut at about this size: small enough to scan quickly, large enough to keep trees
/// shallow (a few hundred entries per node).
const TARGET_NODE_BYTES: usize = 4000;
const NODE_HEADER_BYTES: usize = 3;
/// Deeper than any tree the index can build (fan-out is at least 2).
const MAX_DEPTH: usize = 32;

#[derive(Default)]
struct Level {
    entries: Vec<u8>,
    count: u16,
    first_key: Vec<u8>,
}

/// Builds a tree from entries pushed in strictly ascending key order.
#[derive(Default)]
pub struct TreeBuilder {
    levels: Vec<Level>,
    last_key: Option<Vec<u8>>,
    entries: u64,
}

fn entry_bytes(key: &[u8], payload: &[u8]) -> usize {
    varint_len(key.len() as u64) + key.len() + varint_len(payload.len() as u64) + payload.len()
}

impl TreeBuilder {
    pub fn new() -> TreeBuilder {
        TreeBuilder::default()
    }

    /// Number of entries pushed so far.
    pub fn len(&self) -> u64 {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn push<S: PageSink>(
        &mut self,
        writer: &mut RecordWriter<'_, S>,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), IndexError> {
        if self.last_key.as_deref().is_some_and(|last| last >= key) {
            return Err(IndexError::Invalid(
                "tree keys must be pushed in ascending order",
            ));
        }
        if NODE_HEADER_BYTES + entry_bytes(key, value) > MAX_RECORD_BYTES {
            return Err(IndexError::TooLarge("a tree entry is larger than a page"));
        }
        self.add(writer, 0, key, value)?;
        self.last_key = Some(key.to_vec());
        self.entries += 1;
        Ok(())
    }

    fn add<S: PageSink>(
        &mut self,
        writer: &mut RecordWriter<'_, S>,
        level: usize,
        key: &[u8],
        payload: &[u8],
    ) -> Result<(), IndexError> {
        if self.levels.len() == level {
            self.levels.push(Level::default());
        }
        let size = entry_bytes(key, payload);
        let full = {
            let node = &self.levels[level];
            node.count > 0
                && (NODE_HEADER_BYTES + node.entries.len() + size > TARGET_NODE_BYTES
                    || node.count == u16::MAX)
        };
        if full {
            self.flush(writer, level)?;
        }
        let node = &mut self.levels[level];
        if node.count == 0 {
            node.first_key.clear();
            node.first_key.extend_from_slice(key);
        }
        put_varint(&mut node.entries, key.len() as u64);
        node.entries.extend_from_slice(key);
        put_varint(&mut node.entries, payload.len() as u64);
        node.entries.extend_from_slice(payload);
        node.count += 1;
        Ok(())
    }

    fn write_node<S: PageSink>(
        &mut self,
        writer: &mut RecordWriter<'_, S>,
        level: usize,
    ) -> Result<Pointer, IndexError> {
        let node = &mut self.levels[level];
        let mut record = Vec::with_capacity(NODE_HEADER_BYTES + node.entries.len());
        record.push(level as u8);
        put_u16(&mut record, node.count);
        record.extend_from_slice(&node.entries);
        node.entries.clear();
        node.count = 0;
        writer.append(&record)
    }

    fn flush<S: PageSink>(
        &mut self,
        writer: &mut RecordWriter<'_, S>,
        level: usize,
    ) -> Result<(), IndexError> {
        let first_key = std::mem::take(&mut self.levels[level].first_key);
        let pointer = self.write_node(writer, level)?;
        let mut payload = Vec::with_capacity(Pointer::BYTES);
        pointer.write(&mut payload);
        self.add(writer, level + 1, &first_key, &payload)
    }

    /// Writes the nodes still open; returns the root (`Pointer::NONE` for an empty tree).
    pub fn finish<S: PageSink>(
        mut self,
        writer: &mut RecordWriter<'_, S>,
    ) -> Result<Pointer, IndexError> {
        if self.entries == 0 {
            return Ok(Pointer::NONE);
        }
        let mut level = 0;
        loop {
            let top = level + 1 == self.levels.len();
            if top {
                return self.write_node(writer, level);
            }
            if self.levels[level].count > 0 {
                self.flush(writer, level)?;
            }
            level += 1;
        }
    }
}

/// A key and its value.
pub type TreeEntry = (Vec<u8>, Vec<u8>);

/// One decoded node.
struct Node {
    level: u8,
    entries: Vec<TreeEntry>,
}

fn read_node<S: PageSource>(
    source: &S,
    pointer: Pointer,
    buffer: &mut Vec<u8>,
) -> Result<Node, IndexError> {
    read_record(source, pointer, buffer)?;
    let mut reader = Reader::new(buffer);
    let level = reader.u8()?;
    let count = reader.u16()?;
    let mut entries = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let key_length = reader.varint()? as usize;
        let key = reader.bytes(key_length)?.to_vec();
        let payload_length = reader.varint()? as usize;
        let payload = reader.bytes(payload_length)?.to_vec();
        entries.push((key, payload));
    }
    if entries.is_empty() {
        return Err(IndexError::Corrupt("an empty tree node"));
    }
    Ok(Node { level, entries })
}

fn child_pointer(payload: &[u8]) -> Result<Pointer, IndexError> {
    Pointer::read(&mut Reader::new(payload))
}

/// The value stored under `key`, if any. Scans each node on the way without decoding it whole.
pub fn get<S: PageSource>(
    source: &S,
    root: Pointer,
    key: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<Option<Vec<u8>>, IndexError> {
    if root.is_none() {
        return Ok(None);
    }
    let mut pointer = root;
    let mut previous_level = u8::MAX;
    for _ in 0..MAX_DEPTH {
        read_record(source, pointer, buffer)?;
        let mut reader = Reader::new(buffer);
        let level = reader.u8()?;
        if level >= previous_level {
            return Err(IndexError::Corrupt("a tree node is not below its parent"));
        }
        previous_level = level;
        let count = reader.u16()?;
        let mut chosen: Option<Pointer> = None;
        for _ in 0..count {
            let key_length = reader.varint()? as usize;
            let entry_key = reader.bytes(key_length)?;
            let payload_length = reader.varint()? as usize;
            let payload = reader.bytes(payload_length)?;
            match entry_key.cmp(key) {
                std::cmp::Ordering::Less => {
                    if level > 0 {
                        chosen = Some(child_pointer(payload)?);
                    }
                }
                std::cmp::Ordering::Equal => {
                    if level == 0 {
                        return Ok(Some(payload.to_vec()));
                    }
                    chosen = Some(child_pointer(payload)?);
                    break;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        if level == 0 {
            return Ok(None);
        }
        match chosen {
            Some(child) => pointer = child,
            None => return Ok(None),
        }
    }
    Err(IndexError::Corrupt(
        "a tree is deeper than any the index builds",
    ))
}

/// Walks a tree's entries in key order from a starting key.
pub struct TreeCursor<'s, S: PageSource> {
    source: &'s S,
    stack: Vec<(Node, usize)>,
    buffer: Vec<u8>,
}

impl<'s, S: PageSource> TreeCursor<'s, S> {
    /// Positions at the first entry whose key is at least `from` (every entry for an empty `from`).
    pub fn seek(
        source: &'s S,
        root: Pointer,
        from: &[u8],
    ) -> Result<TreeCursor<'s, S>, IndexError> {
        let mut cursor = TreeCursor {
            source,
            stack: Vec::new(),
            buffer: Vec::new(),
        };
        if root.is_none() {
            return Ok(cursor);
        }
        let mut pointer = root;
        loop {
            if cursor.stack.len() >= MAX_DEPTH {
                return Err(IndexError::Corrupt(
                    "a tree is deeper than any the index builds",
                ));
            }
            let node = read_node(source, pointer, &mut cursor.buffer)?;
            if let Some((parent, _)) = cursor.stack.last() {
                if node.level >= parent.level {
                    return Err(IndexError::Corrupt("a tree node is not below its parent"));
                }
            }
            if node.level == 0 {
                let at = node
                    .entries
                    .partition_point(|(key, _)| key.as_slice() < from);
                cursor.stack.push((node, at));
                break;
            }
            // The last child whose first key is not after `from`; the first child otherwise.
            let at = node
                .entries
                .partition_point(|(key, _)| key.as_slice() <= from)
                .saturating_sub(1);
            pointer = child_pointer(&node.entries[at].1)?;
            cursor.stack.push((node, at));
        }
        Ok(cursor)
    }

    /// The next entry, or `None` after the last.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<TreeEntry>, IndexError> {
        loop {
            let Some((node, at)) = self.stack.last_mut() else {
                return Ok(None);
            };
            if *at < node.entries.len() {
                if node.level == 0 {
                    let entry = std::mem::take(&mut node.entries[*at]);
                    *at += 1;
                    return Ok(Some(entry));
                }
                let pointer = child_pointer(&node.entries[*at].1)?;
                let level = node.level;
                let child = read_node(self.source, pointer, &mut self.buffer)?;
                if child.level >= level || self.stack.len() >= MAX_DEPTH {
                    return Err(IndexError::Corrupt("a tree node is not below its parent"));
                }
                self.stack.push((child, 0));
                continue;
            }
            self.stack.pop();
            if let Some((_, at)) = self.stack.last_mut() {
                *at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::pages::MemoryPages;

    fn build(pages: &MemoryPages, entries: &[(Vec<u8>, Vec<u8>)]) -> Pointer {
        let mut writer = RecordWriter::new(pages);
        let mut builder = TreeBuilder::new();
        for (key, value) in entries {
            builder.push(&mut writer, key, value).unwrap();
        }
        let root = builder.finish(&mut writer).unwrap();
        writer.finish().unwrap();
        root
    }

    fn entries(count: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
        (0..count)
            .map(|i| {
                (
                    format!("term{:07}", i * 3).into_bytes(),
                    format!("value of {i}").into_bytes(),
                )
            })
            .collect()
    }

    #[test]
    fn finds_every_key_and_nothing_else() {
        for count in [0, 1, 2, 150, 5_000, 60_000] {
            let pages = MemoryPages::new();
            let entries = entries(count);
            let root = build(&pages, &entries);
            let mut buffer = Vec::new();
            for (key, value) in entries.iter().step_by(97) {
                assert_eq!(
                    get(&pages, root, key, &mut buffer).unwrap().as_ref(),
                    Some(value)
                );
            }
            for missing in ["", "term", "term0000001", "zzz", "term9999999"] {
                assert_eq!(
                    get(&pages, root, missing.as_bytes(), &mut buffer).unwrap(),
                    None,
                    "{missing}"
                );
            }
        }
    }

    #[test]
    fn cursors_walk_in_order_from_any_key() {
        let pages = MemoryPages::new();
        let entries = entries(20_000);
        let root = build(&pages, &entries);
        let mut cursor = TreeCursor::seek(&pages, root, b"").unwrap();
        let mut seen = Vec::new();
        while let Some(entry) = cursor.next().unwrap() {
            seen.push(entry);
        }
        assert_eq!(seen, entries);
        for from in [
            "term0003000",
            "term0003001",
            "term0059997",
            "term0059998",
            "a",
            "z",
        ] {
            let mut cursor = TreeCursor::seek(&pages, root, from.as_bytes()).unwrap();
            let expected = entries
                .iter()
                .find(|(key, _)| key.as_slice() >= from.as_bytes());
            assert_eq!(cursor.next().unwrap().as_ref(), expected, "{from}");
        }
    }

    #[test]
    fn keys_out_of_order_are_refused() {
        let pages = MemoryPages::new();
        let mut writer = RecordWriter::new(&pages);
        let mut builder = TreeBuilder::new();
        builder.push(&mut writer, b"b", b"1").unwrap();
        assert!(builder.push(&mut writer, b"b", b"2").is_err());
        assert!(builder.push(&mut writer, b"a", b"2").is_err());
    }
}
