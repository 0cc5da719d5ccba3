//! Throughput of the transcript parser on a synthetic session, printed as figures.
//! Run: `cargo bench -p cco-core --bench transcript_throughput`

use std::hint::black_box;
use std::time::Instant;

use cco_core::transcript::parse;

fn session(lines: usize) -> String {
    let mut text = String::new();
    let mut parent = "null".to_owned();
    for i in 0..lines {
        let uuid = format!("00000000-0000-4000-8000-{i:012}");
        let line = match i % 4 {
            0 => format!(
                r#"{{"type":"user","uuid":"{uuid}","parentUuid":{parent},"sessionId":"s","cwd":"/src/app","timestamp":"2025-01-01T10:00:00.000Z","message":{{"role":"user","content":"Please look at the failing handler test in src/api/handler.rs and fix the timeout"}}}}"#
            ),
            1 => format!(
                r#"{{"type":"assistant","uuid":"{uuid}","parentUuid":{parent},"requestId":"req_{i}","timestamp":"2025-01-01T10:00:01.000Z","message":{{"id":"msg_{i}","model":"claude-sonnet-4-5","role":"assistant","content":[{{"type":"thinking","thinking":"The timeout is set in the config loader, let me read it first."}},{{"type":"text","text":"I'll read the handler first."}}],"usage":{{"input_tokens":12,"output_tokens":240,"cache_creation_input_tokens":1500,"cache_read_input_tokens":22000}}}}}}"#
            ),
            2 => format!(
                r#"{{"type":"assistant","uuid":"{uuid}","parentUuid":{parent},"requestId":"req_{i}","timestamp":"2025-01-01T10:00:02.000Z","message":{{"id":"msg_{i}","model":"claude-sonnet-4-5","role":"assistant","content":[{{"type":"tool_use","id":"toolu_{i}","name":"Bash","input":{{"command":"cargo test handler -- --nocapture","description":"Run handler tests"}}}}],"usage":{{"input_tokens":12,"output_tokens":80}}}}}}"#
            ),
            _ => format!(
                r#"{{"type":"user","uuid":"{uuid}","parentUuid":{parent},"timestamp":"2025-01-01T10:00:09.000Z","message":{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_{}","content":"running 3 tests\ntest api::handler::times_out ... FAILED\nerror: test failed, to rerun pass --lib"}}]}},"toolUseResult":{{"stdout":"..."}}}}"#,
                i - 1
            ),
        };
        text.push_str(&line);
        text.push('\n');
        parent = format!("\"{uuid}\"");
    }
    text
}

fn main() {
    let text = session(50_000);
    black_box(parse(&text));
    let rounds = 5;
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(parse(&text));
    }
    let seconds = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "transcript parse: {:.0} lines/s, {:.1} MB/s (50,000 lines, {:.1} MB)",
        50_000.0 / seconds,
        text.len() as f64 / seconds / 1e6,
        text.len() as f64 / 1e6
    );
}
