//! Byte-level encoding shared by every structure of the index: little-endian fixed-width
//! integers, LEB128 varints, and a bounds-checked reader that turns truncated or corrupt bytes
//! into an error instead of a panic.

use super::IndexError;

pub fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Seven bits a byte, low bits first; the high bit says another byte follows.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// How many bytes `put_varint` writes for `value`.
pub fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Reads what the `put_*` functions wrote, failing cleanly on short or malformed input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    pub fn position(&self) -> usize {
        self.at
    }

    pub fn bytes(&mut self, count: usize) -> Result<&'a [u8], IndexError> {
        let end = self
            .at
            .checked_add(count)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(IndexError::Corrupt("a record ends early"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, IndexError> {
        let bytes = self.bytes(2)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, IndexError> {
        let bytes = self.bytes(4)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("four bytes")))
    }

    pub fn u64(&mut self) -> Result<u64, IndexError> {
        let bytes = self.bytes(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("eight bytes")))
    }

    pub fn varint(&mut self) -> Result<u64, IndexError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                if shift == 63 && byte > 1 {
                    break;
                }
                return Ok(value);
            }
        }
        Err(IndexError::Corrupt("a number is longer than 64 bits"))
    }

    /// A varint that must fit in 32 bits.
    pub fn varint_u32(&mut self) -> Result<u32, IndexError> {
        u32::try_from(self.varint()?)
            .map_err(|_| IndexError::Corrupt("a count is larger than 32 bits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let values = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ];
        let mut out = Vec::new();
        for &value in &values {
            let before = out.len();
            put_varint(&mut out, value);
            assert_eq!(out.len() - before, varint_len(value), "{value}");
        }
        let mut reader = Reader::new(&out);
        for &value in &values {
            assert_eq!(reader.varint().unwrap(), value);
        }
        assert!(reader.is_empty());
    }

    #[test]
    fn truncated_and_overlong_input_is_an_error() {
        assert!(Reader::new(&[0x80]).varint().is_err());
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[1, 2, 3]).u32().is_err());
        assert!(Reader::new(&[]).u8().is_err());
        let mut tenth_too_large = [0xff; 10];
        tenth_too_large[9] = 2;
        assert!(Reader::new(&tenth_too_large).varint().is_err());
    }

    /// Byte-at-a-time decoding written out independently: the reader must agree, error for error.
    fn reference_varint(bytes: &[u8]) -> Option<(u64, usize)> {
        let mut value = 0u64;
        for (index, &byte) in bytes.iter().enumerate().take(10) {
            if index == 9 && byte & 0x7f > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Some((value, index + 1));
            }
        }
        None
    }

    #[test]
    fn varints_decode_as_byte_at_a_time_decoding_does() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = (state % 12) as usize;
            // bytes with the continuation bit set more often than not, to reach every width
            let bytes: Vec<u8> = (0..length)
                .map(|i| ((state >> (i * 5)) as u8) | if i % 4 == 3 { 0 } else { 0x80 })
                .collect();
            let mut reader = Reader::new(&bytes);
            let decoded = reader.varint().ok().map(|value| (value, reader.position()));
            assert_eq!(decoded, reference_varint(&bytes), "{bytes:?}");
        }
    }
}
