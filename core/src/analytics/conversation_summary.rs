//! What `cco.conversation_analytics` reports of a conversation, folded in one pass: one state
//! for its messages and one for its tool calls. A dozen built-in aggregates over the same rows
//! cost a dozen transition calls per row, with a sort per group for `count(distinct ...)`; these
//! states take each row once.
//!
//! Averages are kept as exact sums and counts, so SQL divides them as `avg` would (in numeric,
//! rounded the same way), and partial states merge (parallel aggregation) to what one pass gives.

use super::active_time::ActiveTime;
use super::codec::{put_f64, put_signed, put_varint, DecodeError, Reader};

const FORMAT_VERSION: u8 = 1;
/// Most distinct tool names a decoded state may hold (a safety bound against crafted bytes).
const MAX_DECODED_TOOLS: u64 = 1 << 20;

/// Sum, count and maximum of the non-null values of an integer column.
///
/// The sum is exact, whatever the values and the order they come in: 128 bits hold the sum of
/// any number of 64-bit values a table can have, so partial sums merged in any order (a parallel
/// plan) give the one-pass sum. Whether it fits the reported type is the caller's question.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntegerStats {
    pub sum: i128,
    pub count: i64,
    pub max: Option<i64>,
}

impl IntegerStats {
    pub fn add(&mut self, value: Option<i64>) {
        if let Some(value) = value {
            self.sum += i128::from(value);
            self.count += 1;
            self.max = Some(self.max.map_or(value, |max| max.max(value)));
        }
    }

    pub fn merge(&mut self, other: &IntegerStats) {
        self.sum += other.sum;
        self.count += other.count;
        self.max = match (self.max, other.max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    fn encode(&self, out: &mut Vec<u8>) {
        // The sum's high and low 64 bits: the high half is 0 or -1 (one byte) for any sum that
        // fits 64 bits.
        put_signed(out, (self.sum >> 64) as i64);
        put_varint(out, self.sum as u64);
        put_signed(out, self.count);
        put_optional(out, self.max);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<IntegerStats, DecodeError> {
        let high = reader.signed()?;
        let low = reader.varint()?;
        let sum = (i128::from(high) << 64) | i128::from(low);
        Ok(IntegerStats {
            sum,
            count: reader.signed()?,
            max: optional(reader)?,
        })
    }
}

/// One message as the summary reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MessageFacts<'a> {
    pub role: &'a str,
    pub content_length: Option<i64>,
    /// Unix microseconds.
    pub at_micros: Option<i64>,
    /// Whether the message starts a thread (has no parent).
    pub is_root: bool,
    pub depth: Option<i64>,
    /// What the message's API response cost; None for messages that were not a priced response.
    pub cost: Option<f64>,
}

/// A conversation's messages: counts by role, content length, first and last message, active
/// time, thread shape and cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageSummary {
    pub messages: i64,
    pub user_messages: i64,
    pub assistant_messages: i64,
    pub content_length: IntegerStats,
    pub depth: IntegerStats,
    pub root_messages: i64,
    pub first_micros: Option<i64>,
    pub last_micros: Option<i64>,
    /// Sum of the priced responses' costs; None when no response was priced (as SQL's `sum`).
    pub cost: Option<f64>,
    timestamps: ActiveTime,
}

impl MessageSummary {
    pub fn new() -> MessageSummary {
        MessageSummary::default()
    }

    pub fn add(&mut self, message: MessageFacts<'_>) {
        self.messages += 1;
        match message.role {
            "user" => self.user_messages += 1,
            "assistant" => self.assistant_messages += 1,
            _ => {}
        }
        self.content_length.add(message.content_length);
        self.depth.add(message.depth);
        self.root_messages += i64::from(message.is_root);
        if let Some(at) = message.at_micros {
            self.first_micros = Some(self.first_micros.map_or(at, |first| first.min(at)));
            self.last_micros = Some(self.last_micros.map_or(at, |last| last.max(at)));
            self.timestamps.add(at);
        }
        if let Some(cost) = message.cost {
            self.cost = Some(self.cost.map_or(cost, |sum| sum + cost));
        }
    }

    pub fn merge(&mut self, other: &MessageSummary) {
        self.messages += other.messages;
        self.user_messages += other.user_messages;
        self.assistant_messages += other.assistant_messages;
        self.content_length.merge(&other.content_length);
        self.depth.merge(&other.depth);
        self.root_messages += other.root_messages;
        self.first_micros = min_of(self.first_micros, other.first_micros);
        self.last_micros = max_of(self.last_micros, other.last_micros);
        self.timestamps.merge(&other.timestamps);
        self.cost = match (self.cost, other.cost) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    /// Sum of the gaps between consecutive messages up to the idle cut-off (see `ActiveTime`).
    pub fn active_micros(&self, idle_cutoff_micros: i64) -> i64 {
        self.timestamps.active_micros(idle_cutoff_micros)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION];
        for count in [
            self.messages,
            self.user_messages,
            self.assistant_messages,
            self.root_messages,
        ] {
            put_signed(&mut out, count);
        }
        self.content_length.encode(&mut out);
        self.depth.encode(&mut out);
        put_optional(&mut out, self.first_micros);
        put_optional(&mut out, self.last_micros);
        match self.cost {
            Some(cost) => {
                out.push(1);
                put_f64(&mut out, cost);
            }
            None => out.push(0),
        }
        let timestamps = self.timestamps.to_bytes();
        put_varint(&mut out, timestamps.len() as u64);
        out.extend(timestamps);
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<MessageSummary, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.byte()? != FORMAT_VERSION {
            return Err(DecodeError("unknown version"));
        }
        let [messages, user_messages, assistant_messages, root_messages] = [
            reader.signed()?,
            reader.signed()?,
            reader.signed()?,
            reader.signed()?,
        ];
        let content_length = IntegerStats::decode(&mut reader)?;
        let depth = IntegerStats::decode(&mut reader)?;
        let first_micros = optional(&mut reader)?;
        let last_micros = optional(&mut reader)?;
        let cost = match reader.byte()? {
            0 => None,
            1 => Some(reader.f64()?),
            _ => return Err(DecodeError("bad cost flag")),
        };
        let length = reader.varint()?;
        let timestamps = ActiveTime::from_bytes(reader.take(length)?)?;
        reader.finish()?;
        Ok(MessageSummary {
            messages,
            user_messages,
            assistant_messages,
            content_length,
            depth,
            root_messages,
            first_micros,
            last_micros,
            cost,
            timestamps,
        })
    }
}

/// A conversation's tool calls: how many, how they ended, which tools, how long they took.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCallSummary {
    pub calls: i64,
    pub successful: i64,
    /// Calls that ended in an error or a timeout.
    pub failed: i64,
    pub execution_ms: IntegerStats,
    /// The distinct tool names, sorted.
    tools: Vec<String>,
}

impl ToolCallSummary {
    pub fn new() -> ToolCallSummary {
        ToolCallSummary::default()
    }

    pub fn add(
        &mut self,
        tool_name: Option<&str>,
        status: Option<&str>,
        execution_ms: Option<i64>,
    ) {
        self.calls += 1;
        match status {
            Some("success") => self.successful += 1,
            Some("error" | "timeout") => self.failed += 1,
            _ => {}
        }
        self.execution_ms.add(execution_ms);
        if let Some(name) = tool_name {
            self.add_tool(name);
        }
    }

    fn add_tool(&mut self, name: &str) {
        if let Err(at) = self.tools.binary_search_by(|tool| tool.as_str().cmp(name)) {
            self.tools.insert(at, name.to_owned());
        }
    }

    pub fn distinct_tools(&self) -> i64 {
        self.tools.len() as i64
    }

    pub fn merge(&mut self, other: &ToolCallSummary) {
        self.calls += other.calls;
        self.successful += other.successful;
        self.failed += other.failed;
        self.execution_ms.merge(&other.execution_ms);
        for tool in &other.tools {
            self.add_tool(tool);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION];
        for count in [self.calls, self.successful, self.failed] {
            put_signed(&mut out, count);
        }
        self.execution_ms.encode(&mut out);
        put_varint(&mut out, self.tools.len() as u64);
        for tool in &self.tools {
            put_varint(&mut out, tool.len() as u64);
            out.extend_from_slice(tool.as_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<ToolCallSummary, DecodeError> {
        let mut reader = Reader::new(bytes);
        if reader.byte()? != FORMAT_VERSION {
            return Err(DecodeError("unknown version"));
        }
        let [calls, successful, failed] = [reader.signed()?, reader.signed()?, reader.signed()?];
        let execution_ms = IntegerStats::decode(&mut reader)?;
        let count = reader.varint()?;
        if count > MAX_DECODED_TOOLS || count > bytes.len() as u64 {
            return Err(DecodeError("more tool names than bytes"));
        }
        let mut summary = ToolCallSummary {
            calls,
            successful,
            failed,
            execution_ms,
            tools: Vec::with_capacity(count as usize),
        };
        for _ in 0..count {
            let length = reader.varint()?;
            let name = std::str::from_utf8(reader.take(length)?)
                .map_err(|_| DecodeError("tool name is not UTF-8"))?;
            summary.add_tool(name);
        }
        reader.finish()?;
        Ok(summary)
    }
}

fn put_optional(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(value) => {
            out.push(1);
            put_signed(out, value);
        }
        None => out.push(0),
    }
}

fn optional(reader: &mut Reader<'_>) -> Result<Option<i64>, DecodeError> {
    match reader.byte()? {
        0 => Ok(None),
        1 => Ok(Some(reader.signed()?)),
        _ => Err(DecodeError("bad optional flag")),
    }
}

fn min_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_of(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::DEFAULT_IDLE_CUTOFF_MICROS;

    const MINUTE: i64 = 60_000_000;

    fn message(role: &str, minute: i64, depth: i64, cost: Option<f64>) -> MessageFacts<'_> {
        MessageFacts {
            role,
            content_length: Some(10 * (minute + 1)),
            at_micros: Some(minute * MINUTE),
            is_root: depth == 0,
            depth: Some(depth),
            cost,
        }
    }

    fn conversation() -> Vec<MessageFacts<'static>> {
        vec![
            message("user", 0, 0, None),
            message("assistant", 2, 1, Some(0.25)),
            message("user", 5, 2, None),
            message("assistant", 9, 3, Some(0.5)),
            message("system", 200, 0, None),
            message("assistant", 203, 1, Some(0.125)),
        ]
    }

    fn summarize(messages: &[MessageFacts<'_>]) -> MessageSummary {
        let mut summary = MessageSummary::new();
        messages.iter().for_each(|&m| summary.add(m));
        summary
    }

    #[test]
    fn one_pass_counts_what_the_view_reports() {
        let summary = summarize(&conversation());
        assert_eq!(
            (
                summary.messages,
                summary.user_messages,
                summary.assistant_messages
            ),
            (6, 2, 3)
        );
        assert_eq!(
            summary.content_length,
            IntegerStats {
                sum: 10 * (1 + 3 + 6 + 10 + 201 + 204),
                count: 6,
                max: Some(2040)
            }
        );
        assert_eq!(
            summary.depth,
            IntegerStats {
                sum: 7,
                count: 6,
                max: Some(3)
            }
        );
        assert_eq!(summary.root_messages, 2);
        assert_eq!(
            (summary.first_micros, summary.last_micros),
            (Some(0), Some(203 * MINUTE))
        );
        assert_eq!(summary.cost, Some(0.875));
        // 9 minutes, then a gap of over three hours, then 3 minutes
        assert_eq!(
            summary.active_micros(DEFAULT_IDLE_CUTOFF_MICROS),
            12 * MINUTE
        );
    }

    #[test]
    fn nulls_count_as_sql_aggregates_count_them() {
        let mut summary = MessageSummary::new();
        summary.add(MessageFacts {
            role: "user",
            content_length: None,
            at_micros: None,
            is_root: false,
            depth: None,
            cost: None,
        });
        assert_eq!(summary.messages, 1);
        assert_eq!(summary.content_length, IntegerStats::default());
        assert_eq!((summary.first_micros, summary.cost), (None, None));
        assert_eq!(summary.active_micros(DEFAULT_IDLE_CUTOFF_MICROS), 0);
    }

    #[test]
    fn merged_parts_equal_one_pass_and_survive_bytes() {
        let messages = conversation();
        let whole = summarize(&messages);
        for split in 0..=messages.len() {
            let (left, right) = messages.split_at(split);
            let mut merged = MessageSummary::from_bytes(&summarize(right).to_bytes()).unwrap();
            merged.merge(&MessageSummary::from_bytes(&summarize(left).to_bytes()).unwrap());
            assert_eq!(merged.messages, whole.messages);
            assert_eq!(
                (
                    merged.user_messages,
                    merged.assistant_messages,
                    merged.root_messages
                ),
                (
                    whole.user_messages,
                    whole.assistant_messages,
                    whole.root_messages
                )
            );
            assert_eq!(
                (merged.content_length, merged.depth),
                (whole.content_length, whole.depth)
            );
            assert_eq!(
                (merged.first_micros, merged.last_micros, merged.cost),
                (whole.first_micros, whole.last_micros, whole.cost)
            );
            assert_eq!(
                merged.active_micros(DEFAULT_IDLE_CUTOFF_MICROS),
                whole.active_micros(DEFAULT_IDLE_CUTOFF_MICROS)
            );
        }
    }

    #[test]
    fn tool_calls_count_outcomes_and_distinct_tools() {
        let mut summary = ToolCallSummary::new();
        for (tool, status, ms) in [
            ("Read", "success", Some(10)),
            ("Bash", "error", Some(200)),
            ("Read", "success", None),
            ("Edit", "timeout", Some(30_000)),
            ("Bash", "pending", Some(5)),
        ] {
            summary.add(Some(tool), Some(status), ms);
        }
        assert_eq!(
            (
                summary.calls,
                summary.successful,
                summary.failed,
                summary.distinct_tools()
            ),
            (5, 2, 2, 3)
        );
        assert_eq!(
            summary.execution_ms,
            IntegerStats {
                sum: 30_215,
                count: 4,
                max: Some(30_000)
            }
        );

        let mut left = ToolCallSummary::new();
        left.add(Some("Read"), Some("success"), Some(10));
        left.add(Some("Bash"), Some("error"), Some(200));
        let mut right = ToolCallSummary::new();
        right.add(Some("Read"), Some("success"), None);
        right.add(Some("Edit"), Some("timeout"), Some(30_000));
        right.add(Some("Bash"), Some("pending"), Some(5));
        let mut merged = ToolCallSummary::from_bytes(&left.to_bytes()).unwrap();
        merged.merge(&ToolCallSummary::from_bytes(&right.to_bytes()).unwrap());
        assert_eq!(merged, summary);
    }

    #[test]
    fn garbage_bytes_are_errors() {
        let messages = summarize(&conversation()).to_bytes();
        let mut tools = ToolCallSummary::new();
        tools.add(Some("Read"), None, None);
        let tools = tools.to_bytes();
        for cut in 0..messages.len() {
            assert!(MessageSummary::from_bytes(&messages[..cut]).is_err());
        }
        for cut in 0..tools.len() {
            assert!(ToolCallSummary::from_bytes(&tools[..cut]).is_err());
        }
        assert!(MessageSummary::from_bytes(&[2]).is_err());
        assert!(ToolCallSummary::from_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0xff, 0xfe]).is_err());
        let mut trailing = tools.clone();
        trailing.push(0);
        assert!(ToolCallSummary::from_bytes(&trailing).is_err());
    }
}
