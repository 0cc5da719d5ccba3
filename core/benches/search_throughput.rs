//! Throughput of the search core on realistic technical text, printed as figures.
//! Run: `cargo bench -p cco-core --bench search_throughput`

use std::hint::black_box;
use std::time::{Duration, Instant};

use cco_core::search::{highlight, index_document, parse_query, tokenize, HighlightOptions};

/// A deterministic mix of prose, identifiers, paths, stack traces, commands and JSON.
fn corpus(bytes: usize) -> Vec<String> {
    let prose = [
        "The failing test suggests the handler returns before the connection is closed,",
        "so I changed the retry logic and added a timeout to the request.",
        "Let me check whether the cache is invalidated when the configuration reloads.",
        "This looks like a race between the writer and the background compaction.",
    ];
    let code = [
        "fn getUserData(user_id: &str) -> Result<UserData, ApiError> {",
        "error[E0382]: borrow of moved value: `config` at src/api/handler.rs:42:17",
        "Traceback (most recent call last): File \"/app/services/payment_service.py\", line 88",
        "$ cargo test --release -- --nocapture tests::integration::retry_backoff",
        "{\"status\": 502, \"message\": \"upstream timed out\", \"retryAfterMs\": 1500}",
        "TypeError: Cannot read properties of undefined (reading 'mapStateToProps') TS2345",
        "std::collections::HashMap<String, Vec<SessionToken>> at v2.0.27 https://docs.rs/tokio",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut messages = Vec::new();
    let mut total = 0;
    while total < bytes {
        let mut message = String::new();
        for _ in 0..(4 + next() % 12) {
            let line = if next() % 3 == 0 {
                code[(next() % code.len() as u64) as usize]
            } else {
                prose[(next() % prose.len() as u64) as usize]
            };
            message.push_str(line);
            message.push('\n');
        }
        total += message.len();
        messages.push(message);
    }
    messages
}

fn measure(label: &str, bytes: usize, mut work: impl FnMut()) {
    work(); // warm-up
    let started = Instant::now();
    let mut rounds = 0u32;
    while started.elapsed() < Duration::from_millis(1500) {
        work();
        rounds += 1;
    }
    let seconds = started.elapsed().as_secs_f64() / f64::from(rounds);
    println!("{label:<34} {:>8.1} MB/s", bytes as f64 / seconds / 1e6);
}

fn main() {
    let messages = corpus(4_000_000);
    let bytes: usize = messages.iter().map(String::len).sum();
    println!(
        "search core throughput on {} messages, {:.1} MB of mixed technical text",
        messages.len(),
        bytes as f64 / 1e6
    );

    measure("tokenize", bytes, || {
        for message in &messages {
            black_box(tokenize(message));
        }
    });
    measure("index_document + tsvector payload", bytes, || {
        for message in &messages {
            black_box(index_document(message).to_tsvector_payload().ok());
        }
    });
    let query = parse_query("handler timeout");
    let options = HighlightOptions::default();
    measure("highlight (2-term query)", bytes, || {
        for message in &messages {
            black_box(highlight(message, &query, &options));
        }
    });

    let queries = [
        "handler timeout",
        "\"connection refused\" -staging",
        "getUserData or E0382",
        "src/api/handler.rs",
    ];
    let started = Instant::now();
    let rounds = 100_000;
    for round in 0..rounds {
        black_box(parse_query(queries[round % queries.len()]).to_tsquery_text());
    }
    println!(
        "{:<34} {:>8.2} µs per query",
        "parse_query + to_tsquery_text",
        started.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
}
