//! A compact byte encoding for aggregate states that PostgreSQL moves between parallel workers:
//! unsigned LEB128 varints, zigzag for signed values, raw little-endian for floats. Decoding
//! checks every bound, because bytes handed to a deserialize function may be anything.

use std::fmt;

/// Why bytes could not be decoded into an aggregate state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed aggregate state: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub fn put_signed(out: &mut Vec<u8>, value: i64) {
    put_varint(out, ((value << 1) ^ (value >> 63)) as u64);
}

pub fn put_f64(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Reads values back in the order they were put.
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    pub fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.bytes.split_first().ok_or(DecodeError("ends early"))?;
        self.bytes = rest;
        Ok(first)
    }

    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .ok_or(DecodeError("varint overflows"))?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("varint too long"))
    }

    pub fn signed(&mut self) -> Result<i64, DecodeError> {
        let zigzag = self.varint()?;
        Ok(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
    }

    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        let bytes = self.bytes.get(..8).ok_or(DecodeError("ends early"))?;
        self.bytes = &self.bytes[8..];
        Ok(f64::from_le_bytes(
            bytes.try_into().map_err(|_| DecodeError("ends early"))?,
        ))
    }

    /// The next `length` bytes, as they are.
    pub fn take(&mut self, length: u64) -> Result<&'a [u8], DecodeError> {
        let length = usize::try_from(length).map_err(|_| DecodeError("length too large"))?;
        let taken = self.bytes.get(..length).ok_or(DecodeError("ends early"))?;
        self.bytes = &self.bytes[length..];
        Ok(taken)
    }

    pub fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("trailing bytes"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let mut out = Vec::new();
        for value in [0u64, 1, 127, 128, 300, u64::MAX] {
            put_varint(&mut out, value);
        }
        for value in [0i64, -1, 1, i64::MIN, i64::MAX] {
            put_signed(&mut out, value);
        }
        put_f64(&mut out, -2.5);
        let mut reader = Reader::new(&out);
        for value in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(reader.varint().unwrap(), value);
        }
        for value in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(reader.signed().unwrap(), value);
        }
        assert_eq!(reader.f64().unwrap(), -2.5);
        reader.finish().unwrap();
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[0x80]).varint().is_err());
        assert!(Reader::new(&[1, 2]).f64().is_err());
        assert!(Reader::new(&[1]).finish().is_err());
    }
}
