//! Usage blocks: the 5-hour windows Claude Code subscriptions are metered in, computed by the
//! same rules as the ccusage CLI's `blocks` report, so both tools show the same blocks for the
//! same transcripts:
//!
//! - entries are taken in time order; the first starts a block at its time floored to the UTC
//!   hour, and the block ends 5 hours later;
//! - an entry more than 5 hours after the block's start, or more than 5 hours after the previous
//!   entry, closes the block and starts a new one (floored to its hour);
//! - when the pause between two entries is longer than 5 hours, a gap block covers it, from
//!   5 hours after the last entry to the next entry;
//! - a block is active while the last entry is less than 5 hours old and the block has not ended;
//! - burn rate: input plus output tokens per minute, and cost per hour, over the time from the
//!   block's first to its last entry (none when that is zero);
//! - projection (active blocks only): current input plus output tokens and cost, plus the burn
//!   rate over the minutes left until the block ends.

/// One usage entry: an API response, counted once, with its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageEntry {
    pub timestamp_micros: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    pub cost: f64,
    pub model: Option<String>,
}

/// A usage block or a gap between blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageBlock {
    pub start_micros: i64,
    pub end_micros: i64,
    pub first_entry_micros: Option<i64>,
    pub last_entry_micros: Option<i64>,
    pub is_active: bool,
    pub is_gap: bool,
    pub entries: u64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_creation_tokens: i64,
    pub cache_read_tokens: i64,
    pub total_tokens: i64,
    pub cost: f64,
    /// Models in the order they first appear.
    pub models: Vec<String>,
    pub burn_tokens_per_minute: Option<f64>,
    pub burn_cost_per_hour: Option<f64>,
    pub projected_total_tokens: Option<i64>,
    pub projected_cost: Option<f64>,
    pub remaining_minutes: Option<i64>,
}

/// The default block length: 5 hours, in microseconds.
pub const BLOCK_MICROS: i64 = 5 * 3600 * 1_000_000;
const HOUR_MICROS: i64 = 3600 * 1_000_000;
const MINUTE_MICROS: f64 = 60_000_000.0;

/// Groups usage entries (in any order) into blocks and gaps, as of `now_micros`.
pub fn compute_blocks(
    entries: &[UsageEntry],
    now_micros: i64,
    block_micros: i64,
) -> Vec<UsageBlock> {
    let block_micros = block_micros.max(1);
    let mut sorted: Vec<&UsageEntry> = entries.iter().collect();
    sorted.sort_by_key(|entry| entry.timestamp_micros);

    let mut blocks = Vec::new();
    let mut current: Vec<&UsageEntry> = Vec::new();
    let mut start = 0i64;
    for entry in sorted {
        if let Some(last) = current.last() {
            let since_start = entry.timestamp_micros.saturating_sub(start);
            let since_last = entry.timestamp_micros.saturating_sub(last.timestamp_micros);
            if since_start > block_micros || since_last > block_micros {
                blocks.push(block(start, &current, now_micros, block_micros));
                if since_last > block_micros {
                    blocks.push(gap(
                        last.timestamp_micros.saturating_add(block_micros),
                        entry.timestamp_micros,
                    ));
                }
                current.clear();
            }
        }
        if current.is_empty() {
            start = entry.timestamp_micros.div_euclid(HOUR_MICROS) * HOUR_MICROS;
        }
        current.push(entry);
    }
    if !current.is_empty() {
        blocks.push(block(start, &current, now_micros, block_micros));
    }
    blocks
}

fn block(start: i64, entries: &[&UsageEntry], now: i64, length: i64) -> UsageBlock {
    let end = start.saturating_add(length);
    let first = entries.first().map(|e| e.timestamp_micros);
    let last = entries.last().map(|e| e.timestamp_micros);
    let is_active = last.is_some_and(|last| now.saturating_sub(last) < length) && now < end;
    let mut models: Vec<String> = Vec::new();
    for model in entries.iter().filter_map(|e| e.model.as_ref()) {
        if !models.contains(model) {
            models.push(model.clone());
        }
    }
    let sum = |field: fn(&UsageEntry) -> i64| entries.iter().map(|e| field(e)).sum::<i64>();
    let (input, output) = (sum(|e| e.input_tokens), sum(|e| e.output_tokens));
    let (cache_creation, cache_read) = (
        sum(|e| e.cache_creation_tokens),
        sum(|e| e.cache_read_tokens),
    );
    let cost: f64 = entries.iter().map(|e| e.cost).sum();

    let span_minutes = match (first, last) {
        (Some(first), Some(last)) => last.saturating_sub(first) as f64 / MINUTE_MICROS,
        _ => 0.0,
    };
    let burn = (span_minutes > 0.0).then(|| {
        (
            (input + output) as f64 / span_minutes,
            cost / span_minutes * 60.0,
        )
    });
    let projection = match (is_active, burn) {
        (true, Some((tokens_per_minute, cost_per_hour))) => {
            let remaining = (end.saturating_sub(now) as f64 / MINUTE_MICROS).max(0.0);
            Some((
                ((input + output) as f64 + tokens_per_minute * remaining).round() as i64,
                ((cost + cost_per_hour / 60.0 * remaining) * 100.0).round() / 100.0,
                remaining.round() as i64,
            ))
        }
        _ => None,
    };

    UsageBlock {
        start_micros: start,
        end_micros: end,
        first_entry_micros: first,
        last_entry_micros: last,
        is_active,
        is_gap: false,
        entries: entries.len() as u64,
        input_tokens: input,
        output_tokens: output,
        cache_creation_tokens: cache_creation,
        cache_read_tokens: cache_read,
        total_tokens: input + output + cache_creation + cache_read,
        cost,
        models,
        burn_tokens_per_minute: burn.map(|(tokens, _)| tokens),
        burn_cost_per_hour: burn.map(|(_, cost)| cost),
        projected_total_tokens: projection.map(|p| p.0),
        projected_cost: projection.map(|p| p.1),
        remaining_minutes: projection.map(|p| p.2),
    }
}

fn gap(start: i64, end: i64) -> UsageBlock {
    UsageBlock {
        start_micros: start,
        end_micros: end,
        first_entry_micros: None,
        last_entry_micros: None,
        is_active: false,
        is_gap: true,
        entries: 0,
        input_tokens: 0,
        output_tokens: 0,
        cache_creation_tokens: 0,
        cache_read_tokens: 0,
        total_tokens: 0,
        cost: 0.0,
        models: Vec::new(),
        burn_tokens_per_minute: None,
        burn_cost_per_hour: None,
        projected_total_tokens: None,
        projected_cost: None,
        remaining_minutes: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = HOUR_MICROS;
    const MINUTE: i64 = 60_000_000;
    /// 2024-01-01T10:00:00Z
    const TEN: i64 = 1_704_103_200_000_000;

    fn entry(at: i64, input: i64, output: i64, model: &str) -> UsageEntry {
        UsageEntry {
            timestamp_micros: at,
            input_tokens: input,
            output_tokens: output,
            cache_creation_tokens: 0,
            cache_read_tokens: 0,
            cost: 0.01,
            model: Some(model.into()),
        }
    }

    #[test]
    fn extreme_lengths_and_times_saturate_instead_of_overflowing() {
        let entries = [
            entry(i64::MIN / 2, 1, 1, "a"),
            entry(TEN, 1, 1, "a"),
            entry(i64::MAX / 2, 1, 1, "a"),
        ];
        for length in [1, BLOCK_MICROS, i64::MAX / 3, i64::MAX] {
            for now in [i64::MIN, TEN, i64::MAX] {
                let blocks = compute_blocks(&entries, now, length);
                let counted: u64 = blocks.iter().map(|block| block.entries).sum();
                assert_eq!(counted, 3, "length {length}, now {now}");
                assert!(blocks
                    .iter()
                    .all(|block| block.start_micros <= block.end_micros));
            }
        }
    }

    #[test]
    fn entries_within_five_hours_make_one_block_floored_to_the_hour() {
        let entries = [
            entry(TEN + 55 * MINUTE, 1000, 500, "sonnet"),
            entry(TEN + 2 * HOUR, 1000, 500, "opus"),
        ];
        let blocks = compute_blocks(&entries, TEN + 100 * HOUR, BLOCK_MICROS);
        assert_eq!(blocks.len(), 1);
        assert_eq!(
            (blocks[0].start_micros, blocks[0].end_micros),
            (TEN, TEN + 5 * HOUR)
        );
        assert_eq!(
            (
                blocks[0].entries,
                blocks[0].input_tokens,
                blocks[0].output_tokens
            ),
            (2, 2000, 1000)
        );
        assert_eq!(blocks[0].models, ["sonnet", "opus"]);
        assert!((blocks[0].cost - 0.02).abs() < 1e-12);
        assert!(!blocks[0].is_active);
    }

    #[test]
    fn a_long_pause_gives_a_gap_block_between_two_blocks() {
        let entries = [
            entry(TEN, 1, 1, "m"),
            entry(TEN + 2 * HOUR, 1, 1, "m"),
            entry(TEN + 8 * HOUR, 1, 1, "m"),
        ];
        let blocks = compute_blocks(&entries, TEN + 100 * HOUR, BLOCK_MICROS);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].entries, 2);
        assert!(blocks[1].is_gap);
        assert_eq!(
            (blocks[1].start_micros, blocks[1].end_micros),
            (TEN + 7 * HOUR, TEN + 8 * HOUR)
        );
        assert_eq!(blocks[2].start_micros, TEN + 8 * HOUR);
    }

    #[test]
    fn passing_the_block_end_starts_a_new_block_without_a_gap() {
        // 10:30, 13:00, 15:30: the third is 5 h 30 after the block start (10:00) but only 2 h 30
        // after the previous entry, so a new block starts at 15:00 and there is no gap.
        let entries = [
            entry(TEN + 30 * MINUTE, 1, 1, "m"),
            entry(TEN + 3 * HOUR, 1, 1, "m"),
            entry(TEN + 5 * HOUR + 30 * MINUTE, 1, 1, "m"),
        ];
        let blocks = compute_blocks(&entries, TEN + 100 * HOUR, BLOCK_MICROS);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[1].start_micros, TEN + 5 * HOUR);
        assert!(!blocks.iter().any(|b| b.is_gap));
    }

    #[test]
    fn exactly_five_hours_stays_in_the_block() {
        let entries = [entry(TEN, 1, 1, "m"), entry(TEN + 5 * HOUR, 1, 1, "m")];
        assert_eq!(compute_blocks(&entries, TEN, BLOCK_MICROS).len(), 1);
    }

    #[test]
    fn the_active_block_has_a_burn_rate_and_a_projection() {
        let entries = [
            entry(TEN, 1000, 500, "m"),
            entry(TEN + 30 * MINUTE, 1000, 500, "m"),
        ];
        let now = TEN + HOUR;
        let block = &compute_blocks(&entries, now, BLOCK_MICROS)[0];
        assert!(block.is_active);
        assert_eq!(block.burn_tokens_per_minute, Some(100.0)); // 3000 tokens over 30 minutes
        assert!((block.burn_cost_per_hour.unwrap() - 0.04).abs() < 1e-12);
        assert_eq!(block.remaining_minutes, Some(240));
        assert_eq!(block.projected_total_tokens, Some(3000 + 100 * 240));
        assert_eq!(block.projected_cost, Some(0.18));
    }

    #[test]
    fn unsorted_input_and_single_entries() {
        let entries = [entry(TEN + 2 * HOUR, 1, 1, "m"), entry(TEN, 1, 1, "m")];
        let blocks = compute_blocks(&entries, TEN + 2 * HOUR, BLOCK_MICROS);
        assert_eq!(blocks[0].first_entry_micros, Some(TEN));
        let single = compute_blocks(&[entry(TEN, 1, 1, "m")], TEN, BLOCK_MICROS);
        assert!(
            single[0].is_active
                && single[0].burn_tokens_per_minute.is_none()
                && single[0].projected_total_tokens.is_none()
        );
        assert!(compute_blocks(&[], TEN, BLOCK_MICROS).is_empty());
    }
}
