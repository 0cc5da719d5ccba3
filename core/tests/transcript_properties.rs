//! The transcript parser on random and mutilated input: it never panics, and every non-blank line
//! is either stored or reported. Long run:
//! `PROPTEST_CASES=100000 cargo test --release -p cco-core --test transcript_properties`

use cco_core::transcript::parse;
use proptest::prelude::*;

const VALID_LINES: &[&str] = &[
    r#"{"type":"user","uuid":"u1","parentUuid":null,"sessionId":"s","timestamp":"2025-01-01T00:00:00Z","message":{"role":"user","content":"Fix src/main.rs"}}"#,
    r#"{"type":"assistant","uuid":"a1","parentUuid":"u1","requestId":"r","timestamp":"2025-01-01T00:00:01.5Z","message":{"id":"m","model":"claude","content":[{"type":"tool_use","id":"t1","name":"Read","input":{"file_path":"/x"}}],"usage":{"output_tokens":3}}}"#,
    r#"{"type":"user","uuid":"u2","parentUuid":"a1","timestamp":"2025-01-01T00:00:02Z","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok","is_error":false}]}}"#,
    r#"{"type":"summary","summary":"Fixing main","leafUuid":"u2"}"#,
    r#"{"type":"file-history-snapshot","messageId":"u1","snapshot":{}}"#,
    r#"{"type":"system","uuid":"s1","subtype":"compact_boundary","content":"Conversation compacted","timestamp":"2025-01-01T00:00:03Z"}"#,
];

fn accounted(text: &str) -> bool {
    let transcript = parse(text);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let non_blank = text
        .split('\n')
        .filter(|line| !line.trim_end_matches('\r').trim().is_empty())
        .count();
    let stored = transcript.messages.len() + transcript.summaries.len() + transcript.snapshot_lines;
    stored + transcript.skipped.len() == non_blank
}

/// The number of cases: PROPTEST_CASES when set (the long run), else a CI-sized default.
fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_or(512)))]

    #[test]
    fn arbitrary_text_never_panics_and_every_line_is_accounted_for(text in "\\PC{0,400}|[\\x00-\\x7f]{0,400}") {
        prop_assert!(accounted(&text));
    }

    #[test]
    fn unicode_escapes_of_any_code_unit_are_stored_or_reported(units in prop::collection::vec(any::<u16>(), 0..8), backslashes in 0usize..3) {
        let escapes: String = units.iter().map(|unit| format!("{}u{unit:04x}", "\\".repeat(backslashes * 2 + 1))).collect();
        let line = format!(r#"{{"type":"user","uuid":"e","timestamp":"2025-01-01T00:00:00Z","message":{{"content":"a{escapes}b"}}}}"#);
        prop_assert!(accounted(&line));
        let transcript = parse(&line);
        prop_assert_eq!(transcript.messages.len(), 1, "{:?}", transcript.skipped);
    }

    #[test]
    fn cut_and_corrupted_valid_lines(picks in prop::collection::vec((0..VALID_LINES.len(), any::<u16>(), any::<u8>(), any::<bool>()), 1..20)) {
        let lines: Vec<String> = picks
            .iter()
            .map(|&(which, at, byte, cut)| {
                let line = VALID_LINES[which];
                let at = usize::from(at) % line.len();
                if cut {
                    line[..at].to_owned()
                } else {
                    let mut bytes = line.as_bytes().to_vec();
                    bytes[at] = byte;
                    String::from_utf8_lossy(&bytes).into_owned()
                }
            })
            .collect();
        let text = lines.join("\n");
        prop_assert!(accounted(&text));
        let transcript = parse(&text);
        for message in &transcript.messages {
            prop_assert!(!message.content.is_empty() && !message.content.contains('\0'));
        }
        let _ = transcript.messages_in_parent_order();
        let _ = transcript.counts_usage();
        let _ = transcript.first_prompt_title();
    }
}

#[test]
fn a_100k_line_transcript_parses() {
    let text: String = (0..100_000)
        .map(|i| format!(
            "{{\"type\":\"user\",\"uuid\":\"u{i}\",\"parentUuid\":{},\"timestamp\":\"2025-01-01T00:00:00Z\",\"message\":{{\"content\":\"line {i}\"}}}}\n",
            if i == 0 { "null".to_owned() } else { format!("\"u{}\"", i - 1) }))
        .collect();
    let transcript = parse(&text);
    assert_eq!(transcript.messages.len(), 100_000);
    assert_eq!(transcript.messages_in_parent_order().len(), 100_000);
}
