//! The core on hostile input: arbitrary Unicode (multi-byte whitespace, combining marks, control
//! characters, scripts whose lowercase changes length) and large sizes, for the tokenizer, the
//! query parser, the highlighter, the suggestion splitter, the transcript parser and the aggregate
//! states. Nothing may panic, every slice stays on character boundaries, states round-trip every
//! value their transitions accept, and merged partial states equal one pass.
//! `PROPTEST_CASES=20000 cargo test --release -p cco-core --test hostile_input_properties` is the
//! long run.

use std::sync::atomic::{AtomicUsize, Ordering};

use cco_core::analytics::{
    IntegerStats, LatencySketch, MessageFacts, MessageSummary, ToolCallSummary,
};
use cco_core::search::highlight::reference_highlight;
use cco_core::search::{
    completions, highlight, parse_query, suggestion_query, tokenize, HighlightOptions,
};
use cco_core::{interrupts, transcript};
use proptest::prelude::*;

fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

/// Text built from what breaks byte arithmetic and case folding, mixed with arbitrary characters.
fn hostile_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        Just("\u{a0}".to_owned()),          // no-break space
        Just("\u{2009}".to_owned()),        // thin space
        Just("\u{3000}".to_owned()),        // ideographic space
        Just("\u{2028}".to_owned()),        // line separator
        Just("e\u{301}\u{301}".to_owned()), // combining marks
        Just("\u{0}\u{1}\u{7}\u{1b}[0m\t\r\n".to_owned()),
        Just("\u{202e}\u{feff}\u{200b}".to_owned()),
        Just("K\u{212a}İıßǅΣς".to_owned()),
        Just("😀中文한국어".to_owned()),
        Just("\"-()|or".to_owned()),
        "[a-zA-Z_]{1,10}",
        "[a-z]+([A-Z][a-z]+){1,3}",
        "(/[a-z]{1,6}){1,3}\\.rs",
        any::<String>(),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_or(256)))]

    #[test]
    fn tokens_lie_on_character_boundaries(text in hostile_text()) {
        for token in tokenize(&text) {
            prop_assert!(text.is_char_boundary(token.span.start) && text.is_char_boundary(token.span.end));
            prop_assert!(token.span.start < token.span.end && token.span.end <= text.len());
            prop_assert!(!token.term.is_empty());
        }
    }

    #[test]
    fn any_query_parses_into_a_bounded_query(text in hostile_text(), repeat in 1usize..200) {
        let query = parse_query(&text.repeat(repeat));
        prop_assert!(query.positive_terms().len() <= 64 * cco_core::search::query::MAX_PHRASE_TERMS);
        let _ = query.to_tsquery_text();
    }

    #[test]
    fn highlighting_hostile_text_equals_the_reference(
        content in hostile_text(),
        query in hostile_text(),
        max_words in prop_oneof![1usize..8, Just(i32::MAX as usize)],
        max_fragments in prop_oneof![0usize..4, Just(i32::MAX as usize)],
    ) {
        let query = parse_query(&query);
        let options = HighlightOptions { max_words, max_fragments, ..HighlightOptions::default() };
        prop_assert_eq!(highlight(&content, &query, &options), reference_highlight(&content, &query, &options));
    }

    #[test]
    fn suggestions_split_any_partial_query_on_a_boundary(partial in hostile_text(), limit in 0usize..50) {
        let split = suggestion_query(&partial);
        let trimmed = partial.trim_start();
        prop_assert!(trimmed.starts_with(&split.head));
        prop_assert_eq!(split.prefix.clone(), trimmed[split.head.len()..].trim().to_lowercase());
        let found = completions(&partial, &split.prefix, limit);
        prop_assert!(found.len() <= limit);
    }

    #[test]
    fn any_transcript_line_is_stored_or_reported(
        texts in prop::collection::vec(hostile_text(), 0..6),
        counts in prop::collection::vec(prop_oneof![Just(-1i64), Just(0), Just(i64::from(i32::MAX)), any::<i64>(), 0i64..100_000], 4),
    ) {
        let mut lines: Vec<String> = texts.iter().enumerate().map(|(index, text)| {
            serde_json::json!({"type": if index % 2 == 0 { "user" } else { "assistant" }, "uuid": format!("u{index}"),
                "sessionId": "s", "timestamp": "2025-01-01T00:00:00Z",
                "message": {"role": "assistant", "id": format!("m{index}"), "content": text,
                    "usage": {"input_tokens": counts[0], "output_tokens": counts[1],
                              "cache_creation_input_tokens": counts[2], "cache_read_input_tokens": counts[3]}}})
            .to_string()
        }).collect();
        lines.extend(texts.iter().cloned()); // the texts themselves as lines: mostly not JSON
        let parsed = transcript::parse(&lines.join("\n"));
        for message in &parsed.messages {
            if let Some(usage) = &message.usage {
                prop_assert!(usage.total() <= i64::from(i32::MAX));
                prop_assert!(usage.input_tokens >= 0 && usage.output_tokens >= 0);
            }
        }
        let reported: Vec<usize> = parsed.skipped.iter().map(|note| note.line).collect();
        for message in &parsed.messages {
            prop_assert!(!reported.contains(&message.line));
        }
    }

    #[test]
    fn latency_states_round_trip_and_merge_for_any_double(
        values in prop::collection::vec(prop_oneof![any::<f64>(), Just(1e308), Just(f64::MAX), Just(f64::INFINITY), Just(f64::NAN), Just(5e-324), 0.0f64..1e4], 0..200),
        cut in 0usize..200,
    ) {
        let cut = cut.min(values.len());
        let sketch_of = |values: &[f64]| { let mut sketch = LatencySketch::new(); values.iter().for_each(|&v| sketch.add(v)); sketch };
        let whole = sketch_of(&values);
        let read = LatencySketch::from_bytes(&whole.to_bytes());
        prop_assert_eq!(read.as_ref().ok(), Some(&whole));
        let mut merged = LatencySketch::from_bytes(&sketch_of(&values[..cut]).to_bytes()).unwrap();
        merged.merge(&LatencySketch::from_bytes(&sketch_of(&values[cut..]).to_bytes()).unwrap());
        let (a, b) = (merged.summary(), whole.summary());
        prop_assert_eq!((a.count, a.min, a.max, a.p50, a.p90, a.p99), (b.count, b.min, b.max, b.p50, b.p90, b.p99));
        // The mean may differ in the last bits (addition order), never in kind.
        prop_assert_eq!(a.mean.map(f64::is_finite), b.mean.map(f64::is_finite));
    }

    #[test]
    fn integer_sums_are_exact_in_any_order(values in prop::collection::vec(prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN)], 0..100), cut in 0usize..100) {
        let cut = cut.min(values.len());
        let stats_of = |values: &[i64]| { let mut stats = IntegerStats::default(); values.iter().for_each(|&v| stats.add(Some(v))); stats };
        let mut merged = stats_of(&values[cut..]);
        merged.merge(&stats_of(&values[..cut]));
        prop_assert_eq!(merged, stats_of(&values));
        prop_assert_eq!(merged.sum, values.iter().map(|&v| i128::from(v)).sum::<i128>());
        let mut summary = ToolCallSummary::new();
        values.iter().for_each(|&v| summary.add(Some("Bash"), Some("success"), Some(v)));
        prop_assert_eq!(ToolCallSummary::from_bytes(&summary.to_bytes()).unwrap(), summary);
    }

    #[test]
    fn message_summaries_round_trip_extreme_times(stamps in prop::collection::vec(prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN)], 0..50)) {
        let mut summary = MessageSummary::new();
        for &at in &stamps {
            summary.add(MessageFacts { role: "user", content_length: Some(i64::MAX), at_micros: Some(at), is_root: true, depth: Some(i64::MIN), cost: Some(f64::MAX) });
        }
        let read = MessageSummary::from_bytes(&summary.to_bytes()).unwrap();
        prop_assert_eq!(read.active_micros(1_800_000_000), summary.active_micros(1_800_000_000));
        prop_assert_eq!((read.messages, read.content_length, read.first_micros, read.last_micros), (summary.messages, summary.content_length, summary.first_micros, summary.last_micros));
    }
}

static CHECKS: AtomicUsize = AtomicUsize::new(0);

fn count_check() {
    CHECKS.fetch_add(1, Ordering::Relaxed);
}

/// The long loops give the host its chance to stop them, often: here the hook counts the checks
/// (in PostgreSQL it processes interrupts, and a cancel raises out of the loop).
#[test]
fn long_loops_check_for_interrupts() {
    interrupts::install(count_check);
    let text = "handler foo getUserData ".repeat(50_000);
    let checks = |work: &dyn Fn()| {
        let before = CHECKS.load(Ordering::Relaxed);
        work();
        CHECKS.load(Ordering::Relaxed) - before
    };
    assert!(checks(&|| drop(tokenize(&text))) >= 100, "tokenizing");
    let query = parse_query("handler");
    let everything = HighlightOptions {
        max_words: i32::MAX as usize,
        max_fragments: i32::MAX as usize,
        ..HighlightOptions::default()
    };
    assert!(
        checks(&|| drop(highlight(&text, &query, &everything))) >= 100,
        "highlighting"
    );
    assert!(
        checks(&|| drop(completions(&text, "zz", usize::MAX))) >= 100,
        "completions"
    );
    let jsonl = (0..5_000)
        .map(|i| format!(r#"{{"type":"user","uuid":"u{i}","sessionId":"s","message":{{"role":"user","content":"x"}}}}"#))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        checks(&|| drop(transcript::parse(&jsonl))) >= 5_000,
        "transcript parsing"
    );
}
