//! PostgreSQL's `tsquery` binary layout, read in safe Rust: the search index evaluates the query a
//! scan is given without going back to SQL.
//!
//! The payload (after the varlena header) is `[size i32]`, then `size` items of 12 bytes in prefix
//! order, then the operand strings. An operand item is `[type 1][weight u8][prefix bool][pad]
//! [crc i32][length:12 | distance:20]` (the string's length and offset); an operator item is
//! `[type 2][operator i8][phrase distance i16][left u32]`, its right argument the next item and
//! its left one `left` items further.

use std::fmt;

const ITEM_BYTES: usize = 12;
const OPERAND: u8 = 1;
const OPERATOR: u8 = 2;
const NOT: i8 = 1;
const AND: i8 = 2;
const OR: i8 = 3;
const PHRASE: i8 = 4;
/// Items read at most; a larger query is answered as "anything may match" (still correct where
/// the caller rechecks every row, just slower).
const MAX_ITEMS: usize = 1 << 16;
/// Deepest nesting taken apart, for the same reason; it also bounds every recursion over the tree.
pub const MAX_DEPTH: u32 = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsQueryNode {
    Operand {
        lexeme: Vec<u8>,
        prefix: bool,
        weights: u8,
    },
    Not(Box<TsQueryNode>),
    And(Box<TsQueryNode>, Box<TsQueryNode>),
    Or(Box<TsQueryNode>, Box<TsQueryNode>),
    Phrase(Box<TsQueryNode>, Box<TsQueryNode>, u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(&'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a valid tsquery: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// What a tsquery holds: nothing (the empty query, which matches nothing), a tree, or more than
/// this reader takes apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsQuery {
    Empty,
    Tree(TsQueryNode),
    TooComplex,
}

pub fn decode(payload: &[u8]) -> Result<TsQuery, DecodeError> {
    let size = payload
        .get(..4)
        .ok_or(DecodeError("shorter than its header"))?;
    let size = i32::from_ne_bytes(size.try_into().expect("four bytes"));
    let size = usize::try_from(size).map_err(|_| DecodeError("negative size"))?;
    if size == 0 {
        return Ok(TsQuery::Empty);
    }
    if size > MAX_ITEMS {
        return Ok(TsQuery::TooComplex);
    }
    let items_end = 4 + size * ITEM_BYTES;
    let items = payload
        .get(4..items_end)
        .ok_or(DecodeError("items run past the end"))?;
    let operands = &payload[items_end..];
    // Iterative, so no query can exhaust the stack: build children before parents by walking the
    // items from last to first (an operator's arguments always follow it). Depth is capped so the
    // tree, and dropping it, stays shallow.
    let mut built: Vec<Option<TsQueryNode>> = vec![None; size];
    let mut depths: Vec<u32> = vec![0; size];
    for index in (0..size).rev() {
        let item = &items[index * ITEM_BYTES..(index + 1) * ITEM_BYTES];
        let node = match item[0] {
            OPERAND => {
                let bits = u32::from_ne_bytes(item[8..12].try_into().expect("four bytes"));
                let (length, distance) = ((bits & 0xfff) as usize, (bits >> 12) as usize);
                let lexeme = operands
                    .get(distance..distance + length)
                    .ok_or(DecodeError("an operand lies outside the value"))?;
                TsQueryNode::Operand {
                    lexeme: lexeme.to_vec(),
                    prefix: item[2] != 0,
                    weights: item[1],
                }
            }
            OPERATOR => {
                let operator = item[1] as i8;
                let mut take = |at: usize| -> Result<Box<TsQueryNode>, DecodeError> {
                    let child = built
                        .get_mut(at)
                        .and_then(Option::take)
                        .ok_or(DecodeError("an operator's argument is missing or shared"))?;
                    Ok(Box::new(child))
                };
                let right = index + 1;
                let depth_of = |at: usize| depths.get(at).copied().unwrap_or(0);
                let depth = 1 + if operator == NOT {
                    depth_of(right)
                } else {
                    let left =
                        u32::from_ne_bytes(item[4..8].try_into().expect("four bytes")) as usize;
                    depth_of(right).max(depth_of(index.saturating_add(left)))
                };
                if depth > MAX_DEPTH {
                    return Ok(TsQuery::TooComplex);
                }
                depths[index] = depth;
                if operator == NOT {
                    TsQueryNode::Not(take(right)?)
                } else {
                    let left =
                        u32::from_ne_bytes(item[4..8].try_into().expect("four bytes")) as usize;
                    if left <= 1 {
                        return Err(DecodeError(
                            "an operator's left argument overlaps its right",
                        ));
                    }
                    let right_node = take(right)?;
                    let left_node = take(index + left)?;
                    match operator {
                        AND => TsQueryNode::And(left_node, right_node),
                        OR => TsQueryNode::Or(left_node, right_node),
                        PHRASE => {
                            let distance = i16::from_ne_bytes([item[2], item[3]]);
                            TsQueryNode::Phrase(left_node, right_node, distance.max(0) as u16)
                        }
                        _ => return Err(DecodeError("an unknown operator")),
                    }
                }
            }
            _ => return Err(DecodeError("an unknown item type")),
        };
        built[index] = Some(node);
    }
    if built.iter().skip(1).any(Option::is_some) {
        return Err(DecodeError("an item belongs to no operator"));
    }
    built[0]
        .take()
        .map(TsQuery::Tree)
        .ok_or(DecodeError("the root is missing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operand(out: &mut Vec<u8>, strings: &mut Vec<u8>, lexeme: &str, prefix: bool) {
        let bits = (lexeme.len() as u32) | ((strings.len() as u32) << 12);
        out.extend_from_slice(&[OPERAND, 0, prefix as u8, 0]);
        out.extend_from_slice(&0i32.to_ne_bytes());
        out.extend_from_slice(&bits.to_ne_bytes());
        strings.extend_from_slice(lexeme.as_bytes());
        strings.push(0);
    }

    fn operator(out: &mut Vec<u8>, operator: i8, distance: i16, left: u32) {
        out.push(OPERATOR);
        out.push(operator as u8);
        out.extend_from_slice(&distance.to_ne_bytes());
        out.extend_from_slice(&left.to_ne_bytes());
        out.extend_from_slice(&[0; 4]);
    }

    fn payload(items: &[u8], strings: &[u8]) -> Vec<u8> {
        let mut out = ((items.len() / ITEM_BYTES) as i32).to_ne_bytes().to_vec();
        out.extend_from_slice(items);
        out.extend_from_slice(strings);
        out
    }

    #[test]
    fn reads_what_postgresql_writes() {
        // 'error' & !('retry' <-> 'later':*) in prefix order: & [! [<-> later retry]] error
        let (mut items, mut strings) = (Vec::new(), Vec::new());
        operator(&mut items, AND, 0, 5);
        operator(&mut items, NOT, 0, 0);
        operator(&mut items, PHRASE, 1, 2);
        operand(&mut items, &mut strings, "later", true);
        operand(&mut items, &mut strings, "retry", false);
        operand(&mut items, &mut strings, "error", false);
        let decoded = decode(&payload(&items, &strings)).unwrap();
        let word = |text: &str, prefix| {
            Box::new(TsQueryNode::Operand {
                lexeme: text.as_bytes().to_vec(),
                prefix,
                weights: 0,
            })
        };
        let expected = TsQueryNode::And(
            word("error", false),
            Box::new(TsQueryNode::Not(Box::new(TsQueryNode::Phrase(
                word("retry", false),
                word("later", true),
                1,
            )))),
        );
        assert_eq!(decoded, TsQuery::Tree(expected));
    }

    #[test]
    fn the_empty_query_and_garbage() {
        assert_eq!(decode(&0i32.to_ne_bytes()).unwrap(), TsQuery::Empty);
        assert!(decode(&[1, 2]).is_err());
        assert!(decode(&(-1i32).to_ne_bytes()).is_err());
        assert!(decode(&payload(&[7; 12], &[])).is_err());
        let (mut items, mut strings) = (Vec::new(), Vec::new());
        operator(&mut items, AND, 0, 1);
        operand(&mut items, &mut strings, "a", false);
        assert!(
            decode(&payload(&items, &strings)).is_err(),
            "left overlapping right"
        );
        let (mut items, mut strings) = (Vec::new(), Vec::new());
        operand(&mut items, &mut strings, "a", false);
        operand(&mut items, &mut strings, "b", false);
        assert!(
            decode(&payload(&items, &strings)).is_err(),
            "an orphan item"
        );
    }

    #[test]
    fn deep_queries_are_refused_before_they_can_exhaust_the_stack() {
        // 'w' & ('w' & ('w' & ...)) nested 50,000 deep.
        let depth = 50_000;
        let (mut items, mut strings) = (Vec::new(), Vec::new());
        for _ in 0..depth {
            operator(&mut items, AND, 0, 2);
            operand(&mut items, &mut strings, "w", false);
        }
        operand(&mut items, &mut strings, "w", false);
        // Left-deep: item 2k is an AND whose right argument is the operand after it and whose
        // left argument is the next AND (or the last operand).
        assert_eq!(
            decode(&payload(&items, &strings)).unwrap(),
            TsQuery::TooComplex
        );
        let (mut items, mut strings) = (Vec::new(), Vec::new());
        for _ in 0..100 {
            operator(&mut items, AND, 0, 2);
            operand(&mut items, &mut strings, "w", false);
        }
        operand(&mut items, &mut strings, "w", false);
        assert!(matches!(
            decode(&payload(&items, &strings)).unwrap(),
            TsQuery::Tree(_)
        ));
    }
}
