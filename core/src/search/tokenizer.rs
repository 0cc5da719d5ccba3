//! The technical tokenizer: words of prose, and identifiers, paths, URLs, versions and error codes
//! with their parts.
//!
//! Text is read as a sequence of *compounds*: runs of word characters joined by connectors
//! (`.`, `/`, `\`, `-`, `@`, `::`, `://`) with a word character on both sides. A compound is split
//! into *segments* at its connectors and each segment into *parts* at underscores and case changes:
//!
//! ```text
//! std::collections::HashMap   compound  std::collections::hashmap
//!                             segment   hashmap
//!                             parts     std  collections  hash  map
//! ```
//!
//! A compound of one part is a plain *word*. Everything is lowercased. Positions count parts: a
//! compound and its segments sit at the position of their first part, parts take consecutive
//! positions, and the next compound follows the last part. So the phrase `user data` matches
//! `getUserData`, and a query tokenized by the same function reproduces the same distances.
//!
//! Words and parts made only of letters are stemmed (English); compounds and segments are kept as
//! written, so exact identifiers never get mangled. Stop words are dropped when they stand alone
//! (their position still counts, so phrases stay exact) but kept as parts (`my_variable` keeps
//! `my`). Han, kana and Hangul characters are words of their own, since those scripts do not
//! separate words with spaces.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

use super::stopwords::is_stop_word;
use crate::interrupts;

/// Parts longer than this are taken for blobs (base64, minified code) and not indexed.
pub const MAX_PART_BYTES: usize = 64;
/// Compounds longer than this are indexed by their parts only.
pub const MAX_COMPOUND_BYTES: usize = 256;

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A standalone word: a compound of one part.
    Word,
    /// A whole compound of several parts, or one of its multi-part segments.
    Compound,
    /// One part of a compound.
    Part,
    /// A standalone stop word: not indexed or searched, but a word the highlighter shows.
    StopWord,
}

/// One term of the text, where it sits, and which bytes of the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub term: String,
    /// Word position, 1-based.
    pub position: u32,
    /// Byte range in the source text.
    pub span: Range<usize>,
    pub kind: TokenKind,
}

impl Token {
    /// Whether the index holds this token (stop words only occupy their position).
    pub fn is_indexed(&self) -> bool {
        self.kind != TokenKind::StopWord
    }
}

/// Tokenizes `text` into terms with positions and source spans, in text order.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(text.len() / 5);
    let mut lowered = String::new();
    scan(text, |found| tokens.push(found.into_token(&mut lowered)));
    tokens
}

/// A token as [`scan`] finds it: its place, and the text its term is made from, before the term
/// is worked out.
#[derive(Debug, Clone)]
pub struct FoundToken<'a> {
    /// Word position, 1-based.
    pub position: u32,
    /// Byte range in the source text.
    pub span: Range<usize>,
    /// The text the term is made from: the compound for a compound, else the part (a word's span
    /// can hold more, such as the underscores of `__init__`).
    pub source: &'a str,
    form: Form,
}

/// How a found token's term is made from its source.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// A Han, kana or Hangul character: the term is the character itself.
    Ideograph,
    /// A standalone word: lowercased, then a stop word or stemmed.
    Word,
    /// A compound or segment: lowercased only.
    Compound,
    /// A part of a compound: lowercased and stemmed.
    Part,
}

impl FoundToken<'_> {
    /// The token with its term. `lowered` is a buffer the caller keeps between calls.
    pub fn into_token(self, lowered: &mut String) -> Token {
        let (term, kind) = match self.form {
            Form::Ideograph => (self.source.to_owned(), TokenKind::Word),
            Form::Compound => {
                lowercase_into(self.source, lowered);
                (lowered.clone(), TokenKind::Compound)
            }
            Form::Word => {
                lowercase_into(self.source, lowered);
                if is_stop_word(lowered) {
                    (lowered.clone(), TokenKind::StopWord)
                } else {
                    (normalize_part(lowered), TokenKind::Word)
                }
            }
            Form::Part => {
                lowercase_into(self.source, lowered);
                (normalize_part(lowered), TokenKind::Part)
            }
        };
        Token {
            term,
            position: self.position,
            span: self.span,
            kind,
        }
    }
}

/// Finds the tokens of `text` in text order, as [`tokenize`] does, without working out their
/// terms: that (lowercasing, stemming) is most of the cost of tokenizing, and the highlighter
/// needs the terms of a few tokens only.
pub fn scan<'a>(text: &'a str, mut visit: impl FnMut(FoundToken<'a>)) {
    let mut scratch = Scratch::default();
    let mut position = 1u32;
    let bytes = text.as_bytes();
    let mut at = 0usize;
    let mut steps = interrupts::Every::new(4096);
    while at < bytes.len() {
        steps.step();
        let byte = bytes[at];
        // ASCII separators are by far the most common thing to skip: no char decoding for them.
        if byte.is_ascii() && !(byte.is_ascii_alphanumeric() || byte == b'_') {
            at += 1;
            continue;
        }
        let c = char_at(text, at);
        if is_ideograph(c) {
            let span = at..at + c.len_utf8();
            visit(FoundToken {
                position,
                span: span.clone(),
                source: &text[span.clone()],
                form: Form::Ideograph,
            });
            position += 1;
            at = span.end;
        } else if is_word_char(c) {
            let end = scan_compound(text, at, &mut scratch);
            position = visit_compound(text, at..end, &scratch, position, &mut visit);
            at = end;
        } else {
            at += c.len_utf8();
        }
    }
}

/// The indexed terms of `text` in order, as `cco.tokenize` returns them.
pub fn terms(text: &str) -> Vec<String> {
    tokenize(text)
        .into_iter()
        .filter(Token::is_indexed)
        .map(|token| token.term)
        .collect()
}

/// Buffers reused across the compounds of one text, so that scanning allocates nothing per
/// compound.
#[derive(Default)]
struct Scratch {
    /// Segments of the current compound: each one's span and its range in `parts`.
    segments: Vec<(Range<usize>, Range<usize>)>,
    /// Parts of the current compound, segment after segment.
    parts: Vec<Range<usize>>,
}

/// The character starting at byte `at`, which must be a character boundary.
fn char_at(text: &str, at: usize) -> char {
    match text.as_bytes().get(at) {
        Some(&byte) if byte.is_ascii() => char::from(byte), // no decoding for the common case
        _ => text[at..]
            .chars()
            .next()
            .unwrap_or(char::REPLACEMENT_CHARACTER),
    }
}

fn is_ideograph(c: char) -> bool {
    !c.is_ascii()
        && matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xF900..=0xFAFF    // Han compatibility
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x20000..=0x2FFFF) // Han extensions B and later
}

fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        c.is_alphanumeric() && !is_ideograph(c)
    }
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Reads one compound starting at a word character into `scratch` and returns where it ends.
fn scan_compound(text: &str, start: usize, scratch: &mut Scratch) -> usize {
    scratch.segments.clear();
    scratch.parts.clear();
    let mut at = start;
    loop {
        interrupts::check(); // a compound can be the whole text (`a.a.a.a…`)
        let (segment_end, single_part) = scan_segment(text, at);
        let first_part = scratch.parts.len();
        if single_part {
            scratch.parts.push(at..segment_end);
        } else {
            split_parts(text, at..segment_end, &mut scratch.parts);
        }
        scratch
            .segments
            .push((at..segment_end, first_part..scratch.parts.len()));
        at = segment_end;
        match connector_len(&text.as_bytes()[at..]) {
            Some(length) if starts_with_word_char(&text[at + length..]) => at += length,
            _ => return at,
        }
    }
}

/// End of a run of word characters (apostrophes count when letters are on both sides), and
/// whether the run is surely a single part: ASCII, with no underscore and no capital after its
/// first character. Most words are, and this spares splitting them.
fn scan_segment(text: &str, start: usize) -> (usize, bool) {
    let bytes = text.as_bytes();
    let mut at = start;
    let mut single_part = true;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() {
            at += 1;
            continue;
        }
        if byte.is_ascii_uppercase() || byte == b'_' {
            single_part &= at == start && byte != b'_';
            at += 1;
            continue;
        }
        if byte.is_ascii() && byte != b'\'' {
            break; // ASCII punctuation or space
        }
        let c = char_at(text, at);
        let apostrophe_inside_word = is_apostrophe(c)
            && at > start
            && text[at + c.len_utf8()..]
                .chars()
                .next()
                .is_some_and(|next| next.is_alphabetic() && !is_ideograph(next));
        if (!byte.is_ascii() && is_word_char(c)) || apostrophe_inside_word {
            single_part &= byte.is_ascii();
            at += c.len_utf8();
        } else {
            break;
        }
    }
    (at, single_part)
}

fn connector_len(rest: &[u8]) -> Option<usize> {
    match rest {
        [b':', b'/', b'/', ..] => Some(3),
        [b':', b':', ..] => Some(2),
        [b'.' | b'/' | b'\\' | b'-' | b'@', ..] => Some(1),
        _ => None,
    }
}

fn starts_with_word_char(rest: &str) -> bool {
    rest.chars().next().is_some_and(is_word_char)
}

/// Splits a segment into parts at underscores and case changes (`getUserData`, `HTTPServer`,
/// `parseJSONResponse`); digits stay with the letters before them (`utf8`, `base64Encode`).
fn split_parts(text: &str, segment: Range<usize>, parts: &mut Vec<Range<usize>>) {
    if text[segment.clone()].is_ascii() {
        return split_ascii_parts(text.as_bytes(), segment, parts);
    }
    let mut part_start: Option<usize> = None;
    let mut previous: Option<char> = None;
    let mut chars = text[segment.clone()].char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        let at = segment.start + offset;
        if c == '_' {
            if let Some(start) = part_start.take() {
                parts.push(start..at);
            }
            previous = Some(c);
            continue;
        }
        let next = chars.peek().map(|&(_, next)| next);
        let hump = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        match part_start {
            Some(start) if hump => {
                parts.push(start..at);
                part_start = Some(at);
            }
            None => part_start = Some(at),
            _ => {}
        }
        previous = Some(c);
    }
    if let Some(start) = part_start {
        parts.push(start..segment.end);
    }
}

/// `split_parts` for ASCII segments, byte by byte (the common case by far).
fn split_ascii_parts(bytes: &[u8], segment: Range<usize>, parts: &mut Vec<Range<usize>>) {
    let mut part_start: Option<usize> = None;
    for at in segment.clone() {
        let c = bytes[at];
        if c == b'_' {
            if let Some(start) = part_start.take() {
                parts.push(start..at);
            }
            continue;
        }
        let previous = (at > segment.start).then(|| bytes[at - 1]);
        let next = (at + 1 < segment.end).then(|| bytes[at + 1]);
        let hump = c.is_ascii_uppercase()
            && previous.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        match part_start {
            Some(start) if hump => {
                parts.push(start..at);
                part_start = Some(at);
            }
            None => part_start = Some(at),
            _ => {}
        }
    }
    if let Some(start) = part_start {
        parts.push(start..segment.end);
    }
}

/// Lowercases `text` into `into` (replacing what it held).
fn lowercase_into(text: &str, into: &mut String) {
    into.clear();
    if text.is_ascii() {
        into.push_str(text);
        into.make_ascii_lowercase();
        return;
    }
    for c in text.chars() {
        match c {
            'A'..='Z' => into.push(c.to_ascii_lowercase()),
            '\u{2019}' => into.push('\''),
            c if c.is_ascii() => into.push(c),
            c => into.extend(c.to_lowercase()),
        }
    }
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// A hash map with the fast hasher below, for maps keyed by terms.
pub(crate) type TermMap<V> = HashMap<String, V, BuildHasherDefault<FxHasher>>;

/// Stems remembered per thread (a database backend is one thread), since the vocabulary of
/// technical conversations repeats a lot and stemming is the tokenizer's most expensive step.
/// When full, the cache keeps what it has (the words seen first are the frequent ones) and new
/// words are stemmed without being remembered: about 15 MB at most.
const REMEMBERED_STEMS: usize = 1 << 18;

thread_local! {
    static STEMS: RefCell<TermMap<String>> = RefCell::new(TermMap::default());
}

fn stem(word: &str) -> String {
    if let Some(stem) = STEMS.with_borrow(|stems| stems.get(word).cloned()) {
        return stem;
    }
    let stem = stemmer().stem(word).into_owned();
    STEMS.with_borrow_mut(|stems| {
        if stems.len() < REMEMBERED_STEMS {
            stems.insert(word.to_owned(), stem.clone());
        }
    });
    stem
}

/// A part or word as indexed: lowercased, and stemmed when it is made of letters only. `lowered`
/// must hold the lowercased part.
fn normalize_part(lowered: &str) -> String {
    let letters_only = if lowered.is_ascii() {
        lowered
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'\'')
    } else {
        lowered.chars().all(|c| c.is_alphabetic() || c == '\'')
    };
    if letters_only {
        stem(lowered)
    } else {
        lowered.to_owned()
    }
}

/// A small, fast hasher for short strings (the Fx hash): this cache is hit for every word, and
/// its keys come from the text being indexed, not from an adversary choosing hash collisions
/// against a long-lived table (the cache is bounded and cleared when full).
#[derive(Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.hash = (self.hash.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Visits the tokens of the compound in `scratch` and returns the position after it.
fn visit_compound<'a>(
    text: &'a str,
    span: Range<usize>,
    scratch: &Scratch,
    position: u32,
    visit: &mut impl FnMut(FoundToken<'a>),
) -> u32 {
    let Scratch { segments, parts } = scratch;
    match parts.len() {
        0 => return position, // only underscores
        1 => {
            let source = &text[parts[0].clone()];
            if source.len() <= MAX_PART_BYTES {
                visit(FoundToken {
                    position,
                    span,
                    source,
                    form: Form::Word,
                });
            }
            return position + 1;
        }
        _ => {}
    }

    if span.len() <= MAX_COMPOUND_BYTES {
        visit(FoundToken {
            position,
            span: span.clone(),
            source: &text[span],
            form: Form::Compound,
        });
    }
    let mut part_position = position;
    let several_segments = segments.len() > 1;
    for (segment, segment_parts) in segments {
        if several_segments && segment_parts.len() > 1 && segment.len() <= MAX_COMPOUND_BYTES {
            visit(FoundToken {
                position: part_position,
                span: segment.clone(),
                source: &text[segment.clone()],
                form: Form::Compound,
            });
        }
        for part in &parts[segment_parts.clone()] {
            let source = &text[part.clone()];
            if source.len() <= MAX_PART_BYTES {
                visit(FoundToken {
                    position: part_position,
                    span: part.clone(),
                    source,
                    form: Form::Part,
                });
            }
            part_position += 1;
        }
    }
    part_position
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms_of(text: &str) -> Vec<String> {
        terms(text)
    }

    fn positioned(text: &str) -> Vec<(String, u32)> {
        tokenize(text)
            .into_iter()
            .filter(Token::is_indexed)
            .map(|t| (t.term, t.position))
            .collect()
    }

    #[test]
    fn file_paths_give_the_path_and_its_parts() {
        assert_eq!(
            terms_of("src/api/handler.rs"),
            ["src/api/handler.rs", "src", "api", "handler", "rs"]
        );
        assert_eq!(
            terms_of("/usr/local/bin"),
            ["usr/local/bin", "usr", "local", "bin"]
        );
        assert_eq!(
            terms_of(r"C:\Users\dev\app.exe"),
            [r"c", r"users\dev\app.exe", "user", "dev", "app", "exe"]
        );
    }

    #[test]
    fn camel_and_pascal_case_are_split() {
        assert_eq!(
            terms_of("getUserData()"),
            ["getuserdata", "get", "user", "data"]
        );
        assert_eq!(terms_of("HTTPServer"), ["httpserver", "http", "server"]);
        assert_eq!(
            terms_of("parseJSONResponse"),
            ["parsejsonresponse", "pars", "json", "respons"]
        );
        assert_eq!(
            terms_of("base64Encode"),
            ["base64encode", "base64", "encod"]
        );
    }

    #[test]
    fn snake_screaming_and_kebab_case_are_split_and_keep_stop_words_as_parts() {
        assert_eq!(terms_of("my_variable"), ["my_variable", "my", "variabl"]);
        assert_eq!(
            terms_of("MAX_RETRY_COUNT"),
            ["max_retry_count", "max", "retri", "count"]
        );
        assert_eq!(terms_of("my-component"), ["my-component", "my", "compon"]);
        assert_eq!(terms_of("__init__"), ["init"]);
    }

    #[test]
    fn rust_paths_give_segments_and_parts() {
        assert_eq!(
            terms_of("std::collections::HashMap"),
            [
                "std::collections::hashmap",
                "std",
                "collect",
                "hashmap",
                "hash",
                "map"
            ]
        );
    }

    #[test]
    fn urls_versions_error_codes_and_numbers() {
        assert_eq!(
            terms_of("https://github.com/rust-lang/rust/issues/12"),
            [
                "https://github.com/rust-lang/rust/issues/12",
                "https",
                "github",
                "com",
                "rust",
                "lang",
                "rust",
                "issu",
                "12"
            ]
        );
        assert_eq!(terms_of("v2.0.27"), ["v2.0.27", "v2", "0", "27"]);
        assert_eq!(
            terms_of("error[E0382]: borrow"),
            ["error", "e0382", "borrow"]
        );
        assert_eq!(
            terms_of("TS2345 at 3.14 and 1000"),
            ["ts2345", "3.14", "3", "14", "1000"]
        );
    }

    #[test]
    fn prose_is_stemmed_and_stop_words_dropped_with_their_positions() {
        assert_eq!(
            positioned("The tests are running"),
            [("test".into(), 2), ("run".into(), 4)]
        );
        assert_eq!(terms_of("don't"), ["don't"]);
    }

    #[test]
    fn compounds_share_the_position_of_their_first_part() {
        assert_eq!(
            positioned("call getUserData later"),
            [
                ("call".into(), 1),
                ("getuserdata".into(), 2),
                ("get".into(), 2),
                ("user".into(), 3),
                ("data".into(), 4),
                ("later".into(), 5)
            ]
        );
    }

    #[test]
    fn spans_point_at_the_source_bytes() {
        let text = "see src/api/handler.rs";
        for token in tokenize(text) {
            let source = &text[token.span.clone()];
            assert!(
                source
                    .to_lowercase()
                    .contains(token.term.split('/').next_back().unwrap_or(""))
                    || token.kind == TokenKind::Part
            );
        }
        let handler = tokenize(text)
            .into_iter()
            .find(|t| t.term == "handler")
            .unwrap();
        assert_eq!(&text[handler.span], "handler");
    }

    #[test]
    fn unicode_text_is_handled() {
        assert_eq!(terms_of("Größe ändern"), ["größe", "ändern"]);
        assert_eq!(terms_of("日本語"), ["日", "本", "語"]);
        assert_eq!(terms_of("naïveCafé"), ["naïvecafé", "naïv", "café"]);
        assert_eq!(terms_of("couldn’t it’s"), ["couldn't"]);
        assert!(terms_of("🦀 \u{0} \u{200b}").is_empty());
    }

    #[test]
    fn blobs_are_not_indexed() {
        let blob = "QUJD".repeat(1000);
        assert!(terms_of(&blob).is_empty());
        let long_path = format!("{}/file.rs", "dir/".repeat(80));
        let terms = terms_of(&long_path);
        assert!(terms.iter().all(|t| t.len() <= MAX_COMPOUND_BYTES));
        assert!(terms.contains(&"file".to_owned()));
    }
}
