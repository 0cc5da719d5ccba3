//! Active time: how long a conversation was really worked on. The gaps between consecutive
//! messages are summed, but a gap longer than the idle cut-off (30 minutes by default) counts as
//! nothing: the night between two days of work is not work.
//!
//! Timestamps may arrive in any order and partial states merge (parallel aggregation), so the
//! state keeps them and the final step sorts.

use super::codec::{put_signed, put_varint, DecodeError, Reader};

/// The idle cut-off used when none is given: 30 minutes, in microseconds.
pub const DEFAULT_IDLE_CUTOFF_MICROS: i64 = 30 * 60 * 1_000_000;
const FORMAT_VERSION: u8 = 1;
/// Most timestamps a state accepts when decoded (a safety bound against crafted bytes).
const MAX_DECODED: u64 = 1 << 28;

/// The timestamps (Unix microseconds) seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActiveTime {
    timestamps: Vec<i64>,
}

impl ActiveTime {
    pub fn new() -> ActiveTime {
        ActiveTime::default()
    }

    pub fn add(&mut self, micros: i64) {
        self.timestamps.push(micros);
    }

    pub fn merge(&mut self, other: &ActiveTime) {
        self.timestamps.extend_from_slice(&other.timestamps);
    }

    pub fn len(&self) -> usize {
        self.timestamps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps.is_empty()
    }

    /// Sum of the gaps between consecutive timestamps that are at most `idle_cutoff_micros` long.
    pub fn active_micros(&self, idle_cutoff_micros: i64) -> i64 {
        let mut sorted = self.timestamps.clone();
        sorted.sort_unstable();
        sorted
            .windows(2)
            .map(|pair| pair[1].saturating_sub(pair[0]))
            .filter(|&gap| gap <= idle_cutoff_micros)
            .fold(0i64, i64::saturating_add)
    }

    /// Sorted, delta-encoded timestamps.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut sorted = self.timestamps.clone();
        sorted.sort_unstable();
        let mut out = Vec::with_capacity(4 + 3 * sorted.len());
        out.push(FORMAT_VERSION);
        put_varint(&mut out, sorted.len() as u64);
        let mut previous = 0i64;
        for (index, &micros) in sorted.iter().enumerate() {
            if index == 0 {
                put_signed(&mut out, micros);
            } else {
                put_varint(&mut out, micros.wrapping_sub(previous) as u64);
            }
            previous = micros;
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ActiveTime, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.byte()? != FORMAT_VERSION {
            return Err(DecodeError("unknown version"));
        }
        let count = reader.varint()?;
        if count > MAX_DECODED || count > bytes.len() as u64 {
            return Err(DecodeError("more timestamps than bytes"));
        }
        let mut timestamps = Vec::with_capacity(count as usize);
        let mut previous = 0i64;
        for index in 0..count {
            let micros = if index == 0 {
                reader.signed()?
            } else {
                // Sorted timestamps never go down, and the gap between any two of them (even
                // -infinity and +infinity) fits 64 bits unsigned, as `to_bytes` wrote it.
                let delta = reader.varint()?;
                previous
                    .checked_add_unsigned(delta)
                    .ok_or(DecodeError("timestamp overflows"))?
            };
            timestamps.push(micros);
            previous = micros;
        }
        reader.finish()?;
        Ok(ActiveTime { timestamps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000_000;

    fn of(minutes: &[i64]) -> ActiveTime {
        let mut active = ActiveTime::new();
        minutes.iter().for_each(|&m| active.add(m * MINUTE));
        active
    }

    #[test]
    fn the_night_between_does_not_count() {
        // 09:00, 09:10, 09:25 then 08:00 next day and 08:05: 25 + 5 minutes of work
        let day = 24 * 60;
        let active = of(&[540, 550, 565, day + 480, day + 485]);
        assert_eq!(
            active.active_micros(DEFAULT_IDLE_CUTOFF_MICROS),
            30 * MINUTE
        );
    }

    #[test]
    fn order_duplicates_and_single_timestamps() {
        assert_eq!(
            of(&[30, 0, 10, 10]).active_micros(DEFAULT_IDLE_CUTOFF_MICROS),
            30 * MINUTE
        );
        assert_eq!(of(&[5]).active_micros(DEFAULT_IDLE_CUTOFF_MICROS), 0);
        assert_eq!(of(&[]).active_micros(DEFAULT_IDLE_CUTOFF_MICROS), 0);
        // a gap exactly at the cut-off counts
        assert_eq!(of(&[0, 30]).active_micros(30 * MINUTE), 30 * MINUTE);
    }

    #[test]
    fn merging_parts_equals_one_pass() {
        let whole = of(&[1, 7, 20, 90, 95, 300, 301]);
        let mut merged = of(&[95, 1, 300]);
        merged.merge(&of(&[20, 301, 7, 90]));
        assert_eq!(
            merged.active_micros(DEFAULT_IDLE_CUTOFF_MICROS),
            whole.active_micros(DEFAULT_IDLE_CUTOFF_MICROS)
        );
    }

    #[test]
    fn bytes_round_trip_and_garbage_is_rejected() {
        let active = of(&[-100_000, 5, 7, 7, 1_000_000]);
        let decoded = ActiveTime::from_bytes(&active.to_bytes()).unwrap();
        assert_eq!(
            decoded.active_micros(DEFAULT_IDLE_CUTOFF_MICROS),
            active.active_micros(DEFAULT_IDLE_CUTOFF_MICROS)
        );
        assert_eq!(decoded.len(), 5);
        for bad in [&[][..], &[2, 0], &[1, 0xff, 0xff, 0xff, 0x7f], &[1, 2, 0]] {
            assert!(ActiveTime::from_bytes(bad).is_err());
        }
    }
}
