//! PostgreSQL's `tsvector` binary layout, written and read in safe Rust.
//!
//! Building the value directly, instead of printing a literal for PostgreSQL to parse, is what
//! makes cco's search column cheap to maintain; reading it directly is what makes ranking cheap.
//! The layout (PostgreSQL's `tsvector.h`), after the 4-byte varlena header:
//!
//! ```text
//! int32      number of lexemes
//! WordEntry  one 32-bit entry per lexeme: haspos:1, len:11, pos:20
//!            (pos = byte offset of the lexeme in the string area, len = its length)
//! string area, per lexeme in order:
//!            the lexeme bytes, then (if haspos) padding to an even offset,
//!            uint16 npos and npos uint16 positions (weight:2 high bits, position:14)
//! ```
//!
//! Lexemes are sorted by their bytes (shorter first on a common prefix) and unique; positions
//! are ascending, unique and in 1..=16383. All integers are in the machine's byte order, like the
//! server writes them; the bit-field packing below is the one C compilers use on little-endian
//! targets, the only ones cco is built for.

use std::cmp::Ordering;
use std::fmt;

#[cfg(not(target_endian = "little"))]
compile_error!("the tsvector layout is implemented for little-endian targets only");

/// Longest lexeme PostgreSQL accepts, in bytes.
pub const MAX_LEXEME_BYTES: usize = (1 << 11) - 1;
/// Largest size of the string area (lexemes and positions), in bytes.
pub const MAX_STRING_AREA_BYTES: usize = (1 << 20) - 1;
/// Largest word position; later words share it.
pub const MAX_POSITION: u16 = (1 << 14) - 1;
/// Most positions kept per lexeme.
pub const MAX_POSITIONS_PER_LEXEME: usize = 256;

const HEADER_BYTES: usize = 4;
const ENTRY_BYTES: usize = 4;

/// Why a set of lexemes cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    EmptyLexeme,
    LexemeTooLong { bytes: usize },
    NotSorted { index: usize },
    TooManyPositions { index: usize },
    BadPosition { index: usize },
    TooLarge { bytes: usize },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::EmptyLexeme => write!(f, "a lexeme is empty"),
            EncodeError::LexemeTooLong { bytes } => {
                write!(f, "a lexeme of {bytes} bytes exceeds {MAX_LEXEME_BYTES}")
            }
            EncodeError::NotSorted { index } => {
                write!(f, "lexeme {index} is out of order or repeated")
            }
            EncodeError::TooManyPositions { index } => {
                write!(
                    f,
                    "lexeme {index} has more than {MAX_POSITIONS_PER_LEXEME} positions"
                )
            }
            EncodeError::BadPosition { index } => {
                write!(
                    f,
                    "lexeme {index} has a position outside 1..={MAX_POSITION} or out of order"
                )
            }
            EncodeError::TooLarge { bytes } => {
                write!(
                    f,
                    "{bytes} bytes of lexemes exceed the tsvector limit of {MAX_STRING_AREA_BYTES}"
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// The order PostgreSQL keeps lexemes in: bytewise, a prefix before the longer string.
pub fn compare_lexemes(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

fn even(offset: usize) -> usize {
    offset + (offset & 1)
}

/// Encodes lexemes with their positions as the payload of a tsvector (everything after the
/// 4-byte varlena header). Lexemes must be sorted and unique; positions ascending, unique and in
/// 1..=MAX_POSITION. A lexeme with no positions is stored without position data.
pub fn encode<'a, I>(lexemes: I) -> Result<Vec<u8>, EncodeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u16])>,
    I::IntoIter: ExactSizeIterator + Clone,
{
    let lexemes = lexemes.into_iter();
    let count = lexemes.len();

    // First pass: validate and size the string area.
    let mut string_area = 0usize;
    let mut previous: Option<&[u8]> = None;
    for (index, (text, positions)) in lexemes.clone().enumerate() {
        if text.is_empty() {
            return Err(EncodeError::EmptyLexeme);
        }
        if text.len() > MAX_LEXEME_BYTES {
            return Err(EncodeError::LexemeTooLong { bytes: text.len() });
        }
        if previous.is_some_and(|prev| compare_lexemes(prev, text) != Ordering::Less) {
            return Err(EncodeError::NotSorted { index });
        }
        previous = Some(text);
        if positions.len() > MAX_POSITIONS_PER_LEXEME {
            return Err(EncodeError::TooManyPositions { index });
        }
        let ascending = positions.windows(2).all(|pair| pair[0] < pair[1]);
        if !ascending || positions.iter().any(|&p| p == 0 || p > MAX_POSITION) {
            return Err(EncodeError::BadPosition { index });
        }
        string_area += text.len();
        if !positions.is_empty() {
            string_area = even(string_area) + 2 + 2 * positions.len();
        }
    }
    if string_area > MAX_STRING_AREA_BYTES {
        return Err(EncodeError::TooLarge { bytes: string_area });
    }

    // Second pass: write the header, the entries and the string area.
    let entries_end = HEADER_BYTES + ENTRY_BYTES * count;
    let mut payload = vec![0u8; entries_end + string_area];
    payload[..HEADER_BYTES].copy_from_slice(&(count as i32).to_ne_bytes());
    let mut offset = 0usize;
    for (index, (text, positions)) in lexemes.enumerate() {
        let has_positions = !positions.is_empty() as u32;
        let entry = has_positions | ((text.len() as u32) << 1) | ((offset as u32) << 12);
        let entry_at = HEADER_BYTES + ENTRY_BYTES * index;
        payload[entry_at..entry_at + ENTRY_BYTES].copy_from_slice(&entry.to_ne_bytes());

        let start = entries_end + offset;
        payload[start..start + text.len()].copy_from_slice(text);
        offset += text.len();
        if !positions.is_empty() {
            offset = even(offset);
            let at = entries_end + offset;
            payload[at..at + 2].copy_from_slice(&(positions.len() as u16).to_ne_bytes());
            for (k, &position) in positions.iter().enumerate() {
                let slot = at + 2 + 2 * k;
                payload[slot..slot + 2].copy_from_slice(&position.to_ne_bytes());
            }
            offset += 2 + 2 * positions.len();
        }
    }
    Ok(payload)
}

/// Why bytes are not a valid tsvector payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(&'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed tsvector: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A read-only view of a tsvector payload, for ranking without copying it.
#[derive(Clone, Copy)]
pub struct TsVectorView<'a> {
    payload: &'a [u8],
    count: usize,
}

/// One lexeme of a tsvector and its positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexemeView<'a> {
    pub text: &'a [u8],
    positions: &'a [u8],
}

impl<'a> LexemeView<'a> {
    /// How many times the lexeme occurs (its stored positions; at least 1 for a lexeme stored
    /// without positions).
    pub fn frequency(&self) -> u32 {
        ((self.positions.len() / 2) as u32).max(1)
    }

    /// Word positions without their weight bits.
    pub fn positions(&self) -> impl Iterator<Item = u16> + 'a {
        self.positions
            .chunks_exact(2)
            .map(|pair| u16::from_ne_bytes([pair[0], pair[1]]) & MAX_POSITION)
    }
}

impl<'a> TsVectorView<'a> {
    /// Checks the header and entry table; lexeme data is bounds-checked as it is read.
    pub fn new(payload: &'a [u8]) -> Result<TsVectorView<'a>, DecodeError> {
        let header: [u8; 4] = payload
            .get(..HEADER_BYTES)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(DecodeError("shorter than its header"))?;
        let count = usize::try_from(i32::from_ne_bytes(header))
            .map_err(|_| DecodeError("negative size"))?;
        let entries_end = count
            .checked_mul(ENTRY_BYTES)
            .and_then(|bytes| bytes.checked_add(HEADER_BYTES))
            .ok_or(DecodeError("size overflows"))?;
        if entries_end > payload.len() {
            return Err(DecodeError("entry table runs past the end"));
        }
        Ok(TsVectorView { payload, count })
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn string_area(&self) -> &'a [u8] {
        &self.payload[HEADER_BYTES + ENTRY_BYTES * self.count..]
    }

    /// The lexeme at `index`, or an error when its entry points outside the value.
    pub fn lexeme(&self, index: usize) -> Result<LexemeView<'a>, DecodeError> {
        if index >= self.count {
            return Err(DecodeError("lexeme index out of range"));
        }
        let at = HEADER_BYTES + ENTRY_BYTES * index;
        let entry = u32::from_ne_bytes([
            self.payload[at],
            self.payload[at + 1],
            self.payload[at + 2],
            self.payload[at + 3],
        ]);
        let has_positions = entry & 1 == 1;
        let length = ((entry >> 1) & 0x7ff) as usize;
        let offset = (entry >> 12) as usize;
        let strings = self.string_area();
        let text = strings
            .get(offset..offset + length)
            .ok_or(DecodeError("lexeme outside the value"))?;
        if !has_positions {
            return Ok(LexemeView {
                text,
                positions: &[],
            });
        }
        let vector_at = even(offset + length);
        let npos_bytes = strings
            .get(vector_at..vector_at + 2)
            .ok_or(DecodeError("positions outside the value"))?;
        let npos = u16::from_ne_bytes([npos_bytes[0], npos_bytes[1]]) as usize;
        let positions = strings
            .get(vector_at + 2..vector_at + 2 + 2 * npos)
            .ok_or(DecodeError("positions outside the value"))?;
        Ok(LexemeView { text, positions })
    }

    /// Every lexeme in stored order.
    pub fn lexemes(&self) -> impl Iterator<Item = Result<LexemeView<'a>, DecodeError>> + '_ {
        (0..self.count).map(|index| self.lexeme(index))
    }

    /// Finds a lexeme by binary search over the sorted entries.
    pub fn find(&self, wanted: &[u8]) -> Result<Option<LexemeView<'a>>, DecodeError> {
        let (mut low, mut high) = (0usize, self.count);
        while low < high {
            let middle = low + (high - low) / 2;
            let lexeme = self.lexeme(middle)?;
            match compare_lexemes(lexeme.text, wanted) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return Ok(Some(lexeme)),
            }
        }
        Ok(None)
    }

    /// Number of word occurrences stored: the document length used for ranking.
    pub fn occurrences(&self) -> Result<u32, DecodeError> {
        self.lexemes().try_fold(0u32, |total, lexeme| {
            Ok(total.saturating_add(lexeme?.frequency()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode_owned(lexemes: &[(&str, &[u16])]) -> Result<Vec<u8>, EncodeError> {
        encode(
            lexemes
                .iter()
                .map(|(text, positions)| (text.as_bytes(), *positions)),
        )
    }

    #[test]
    fn matches_the_bytes_postgresql_writes() {
        // select 'a:1 bc:2,3'::tsvector; the server's payload after the varlena header:
        // size 2; entries (haspos|len<<1|pos<<12): a -> 1|2|0 = 3, bc -> 1|4|(6<<12);
        // strings: "a", pad, npos 1, pos 1, "bc", npos 2, pos 2, pos 3
        let payload = encode_owned(&[("a", &[1]), ("bc", &[2, 3])]).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(&2i32.to_ne_bytes());
        expected.extend_from_slice(&3u32.to_ne_bytes());
        expected.extend_from_slice(&(1u32 | (2 << 1) | (6 << 12)).to_ne_bytes());
        expected.extend_from_slice(b"a\0");
        expected.extend_from_slice(&1u16.to_ne_bytes());
        expected.extend_from_slice(&1u16.to_ne_bytes());
        expected.extend_from_slice(b"bc");
        expected.extend_from_slice(&2u16.to_ne_bytes());
        expected.extend_from_slice(&2u16.to_ne_bytes());
        expected.extend_from_slice(&3u16.to_ne_bytes());
        assert_eq!(payload, expected);
    }

    #[test]
    fn round_trips_through_the_view() {
        let lexemes: &[(&str, &[u16])] = &[
            ("api", &[2]),
            ("handler", &[3, 9]),
            ("rs", &[4]),
            ("src", &[1]),
            ("stop", &[]),
        ];
        let payload = encode_owned(lexemes).unwrap();
        let view = TsVectorView::new(&payload).unwrap();
        assert_eq!(view.len(), 5);
        let decoded: Vec<(Vec<u8>, Vec<u16>)> = view
            .lexemes()
            .map(|lexeme| {
                let lexeme = lexeme.unwrap();
                (lexeme.text.to_vec(), lexeme.positions().collect())
            })
            .collect();
        let expected: Vec<(Vec<u8>, Vec<u16>)> = lexemes
            .iter()
            .map(|(t, p)| (t.as_bytes().to_vec(), p.to_vec()))
            .collect();
        assert_eq!(decoded, expected);
        assert_eq!(view.find(b"handler").unwrap().unwrap().frequency(), 2);
        assert_eq!(view.find(b"stop").unwrap().unwrap().frequency(), 1);
        assert!(view.find(b"handle").unwrap().is_none());
        assert!(view.find(b"zzz").unwrap().is_none());
        assert_eq!(view.occurrences().unwrap(), 6);
    }

    #[test]
    fn rejects_what_postgresql_would_reject() {
        assert_eq!(
            encode_owned(&[("b", &[1]), ("a", &[1])]),
            Err(EncodeError::NotSorted { index: 1 })
        );
        assert_eq!(
            encode_owned(&[("a", &[1]), ("a", &[2])]),
            Err(EncodeError::NotSorted { index: 1 })
        );
        assert_eq!(encode_owned(&[("", &[1])]), Err(EncodeError::EmptyLexeme));
        assert_eq!(
            encode_owned(&[("a", &[0])]),
            Err(EncodeError::BadPosition { index: 0 })
        );
        assert_eq!(
            encode_owned(&[("a", &[3, 2])]),
            Err(EncodeError::BadPosition { index: 0 })
        );
        assert_eq!(
            encode_owned(&[("a", &[16384])]),
            Err(EncodeError::BadPosition { index: 0 })
        );
        let long = "x".repeat(MAX_LEXEME_BYTES + 1);
        assert!(matches!(
            encode_owned(&[(&long, &[1])]),
            Err(EncodeError::LexemeTooLong { .. })
        ));
        let many: Vec<u16> = (1..=257).collect();
        assert_eq!(
            encode_owned(&[("a", &many)]),
            Err(EncodeError::TooManyPositions { index: 0 })
        );
    }

    #[test]
    fn the_size_limit_is_enforced() {
        let words: Vec<String> = (0..600)
            .map(|i| format!("{i:04}{}", "w".repeat(2000)))
            .collect();
        let lexemes: Vec<(&[u8], &[u16])> = words.iter().map(|w| (w.as_bytes(), &[][..])).collect();
        assert!(matches!(encode(lexemes), Err(EncodeError::TooLarge { .. })));
    }

    #[test]
    fn an_empty_vector_is_just_a_count() {
        let payload = encode(std::iter::empty::<(&[u8], &[u16])>()).unwrap();
        assert_eq!(payload, 0i32.to_ne_bytes());
        assert!(TsVectorView::new(&payload).unwrap().is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [
            &[][..],
            &[1, 0, 0],
            &[5, 0, 0, 0],
            &[255, 255, 255, 255],
            &[1, 0, 0, 0, 255, 255, 255, 255],
        ] {
            if let Ok(view) = TsVectorView::new(bytes) {
                for lexeme in view.lexemes() {
                    let _ = lexeme.map(|l| l.positions().count());
                }
                let _ = view.find(b"x");
            }
        }
    }
}
