//! Highlighting: the best fragments of a message with every occurrence of the query's terms
//! wrapped in markers.
//!
//! Matching works on the tokens the index holds, so a query `handler` marks only `handler` inside
//! `src/api/handler.rs`, and `user data` marks `User` and `Data` inside `getUserData`. When the
//! markers look like HTML (they start with `<`), everything else is HTML-escaped: a message
//! containing `<script>`, or the marker strings themselves, cannot inject markup.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::query::Query;
use super::tokenizer::{scan, tokenize, Token};
use crate::interrupts;

/// How to highlight; the defaults are PostgreSQL's `ts_headline` ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighlightOptions {
    pub start_sel: String,
    pub stop_sel: String,
    /// Words per fragment.
    pub max_words: usize,
    /// Fragments to show; 0 highlights the whole text.
    pub max_fragments: usize,
    pub fragment_delimiter: String,
}

impl Default for HighlightOptions {
    fn default() -> Self {
        HighlightOptions {
            start_sel: "<mark>".into(),
            stop_sel: "</mark>".into(),
            max_words: 35,
            max_fragments: 3,
            fragment_delimiter: " … ".into(),
        }
    }
}

impl HighlightOptions {
    fn escapes_html(&self) -> bool {
        self.start_sel.starts_with('<') || self.stop_sel.starts_with('<')
    }
}

/// A word of the text: its position and the bytes it spans.
struct Word {
    position: u32,
    span: Range<usize>,
}

/// A token that has one of the query's terms.
struct Match<'q> {
    /// The index of the word the token is part of.
    word: usize,
    span: Range<usize>,
    term: &'q str,
}

/// Highlights `content` for `query`; see the module documentation.
///
/// Only the tokens whose text begins like one of the query's terms have their term worked out
/// (lowercased and stemmed, the costly part of tokenizing); the others cannot match and only
/// their place matters. `reference_highlight` works out every term and gives the same result.
pub fn highlight(content: &str, query: &Query, options: &HighlightOptions) -> String {
    let wanted = WantedTerms::of(query);
    // Technical text has about a word per six bytes: reserving that many spares regrowing.
    let mut words: Vec<Word> = Vec::with_capacity(content.len() / 6);
    let mut matches: Vec<Match> = Vec::new();
    let mut lowered = String::new();
    scan(content, |found| {
        let word = add_to_words(&mut words, found.position, &found.span);
        if wanted.may_be_held_by(found.source) {
            let token = found.into_token(&mut lowered);
            if let Some(term) = wanted.held_by(&token) {
                matches.push(Match {
                    word,
                    span: token.span,
                    term,
                });
            }
        }
    });
    highlight_words(content, &words, &matches, options)
}

/// The highlighter as specified: every token of the text with its term, those that have a query
/// term marked. [`highlight`] must give the same result for every input; the tests compare them.
#[doc(hidden)]
pub fn reference_highlight(content: &str, query: &Query, options: &HighlightOptions) -> String {
    let wanted = WantedTerms::of(query);
    let mut words: Vec<Word> = Vec::new();
    let mut matches: Vec<Match> = Vec::new();
    for token in tokenize(content) {
        let word = add_to_words(&mut words, token.position, &token.span);
        if let Some(term) = wanted.held_by(&token) {
            matches.push(Match {
                word,
                span: token.span,
                term,
            });
        }
    }
    highlight_words(content, &words, &matches, options)
}

/// A term is a token's lowercased text, or that text's English stem. Stemming drops a leading
/// apostrophe and rewrites the end of a word only: leading apostrophes left out, all but the last
/// two bytes of a stem begin the word it comes from (`happy` gives `happi`, `ability` gives
/// `abl`, the irregular `dying` gives `die`), as holds for every word of the stemmer's own test
/// vocabulary of 29,417 words. So a token can have a term only if its lowercased text starts,
/// leading apostrophes left out on both sides, with the term's *head*: the term without its last
/// bytes, one more of them than that bound needs, and never shorter than its first character.
const STEM_REWRITTEN_BYTES: usize = 3;

/// The query's terms, each with its head (see [`STEM_REWRITTEN_BYTES`]) as a byte range of it.
struct WantedTerms {
    terms: Vec<(String, Range<usize>)>,
    /// The ASCII bytes the heads start with: a token whose text starts with another ASCII
    /// character, in either case, cannot have a term. Most tokens are ruled out by this look-up.
    ascii_openings: [bool; 128],
}

impl WantedTerms {
    fn of(query: &Query) -> WantedTerms {
        let terms = query
            .positive_terms()
            .into_iter()
            .map(|term| {
                let start = term.len() - trim_apostrophes(&term).len();
                let first_char = term[start..].chars().next().map_or(0, char::len_utf8);
                let end = term
                    .len()
                    .saturating_sub(STEM_REWRITTEN_BYTES)
                    .max(start + first_char);
                (term, start..end)
            })
            .collect::<Vec<_>>();
        let mut ascii_openings = [false; 128];
        for (term, head) in &terms {
            match term.as_bytes()[head.clone()].first() {
                Some(&first) if first.is_ascii() => ascii_openings[usize::from(first)] = true,
                Some(_) => {} // only text that starts with a non-ASCII character can have it
                None => ascii_openings = [true; 128], // no head: any text may have it
            }
        }
        WantedTerms {
            terms,
            ascii_openings,
        }
    }

    /// Whether a token made from `source` may have one of the terms: false only when it cannot.
    fn may_be_held_by(&self, source: &str) -> bool {
        let source = trim_apostrophes(source);
        match source.as_bytes().first() {
            Some(&first)
                if first.is_ascii()
                    && !self.ascii_openings[usize::from(first.to_ascii_lowercase())] =>
            {
                false
            }
            _ => self.terms.iter().any(|(term, head)| {
                lowercase_may_start_with(source, &term.as_bytes()[head.clone()])
            }),
        }
    }

    /// The query term `token` has, if any (stop words never match: they are not indexed).
    fn held_by(&self, token: &Token) -> Option<&str> {
        if !token.is_indexed() {
            return None;
        }
        self.terms
            .iter()
            .map(|(term, _)| term.as_str())
            .find(|term| *term == token.term)
    }
}

/// The text without its leading apostrophes (a part can start with one: `_'s`).
fn trim_apostrophes(text: &str) -> &str {
    text.trim_start_matches('\'')
}

/// Whether `text`, lowercased, may start with `head`. ASCII is compared ignoring case; at the
/// first other character the answer is yes, since its lowercase can have another length or be
/// ASCII (the Kelvin sign becomes `k`).
fn lowercase_may_start_with(text: &str, head: &[u8]) -> bool {
    let text = text.as_bytes();
    for (at, &wanted) in head.iter().enumerate() {
        match text.get(at) {
            None => return false,
            Some(byte) if !byte.is_ascii() => return true,
            Some(byte) if byte.to_ascii_lowercase() != wanted => return false,
            Some(_) => {}
        }
    }
    true
}

/// Adds a token to the words and returns the index of its word: the span from the first to the
/// last byte of the tokens at a position is a word.
fn add_to_words(words: &mut Vec<Word>, position: u32, span: &Range<usize>) -> usize {
    match words.last_mut() {
        Some(word) if word.position == position => {
            word.span.start = word.span.start.min(span.start);
            word.span.end = word.span.end.max(span.end);
        }
        _ => words.push(Word {
            position,
            span: span.clone(),
        }),
    }
    words.len() - 1
}

/// Highlights `content` given its words and the tokens in it that have a query term, both in
/// text order.
fn highlight_words(
    content: &str,
    words: &[Word],
    matches: &[Match],
    options: &HighlightOptions,
) -> String {
    let marks = merge(matches.iter().map(|found| found.span.clone()).collect());

    if options.max_fragments == 0 || words.is_empty() {
        let whole = 0..content.len();
        return render(content, std::slice::from_ref(&whole), &marks, options);
    }
    let max_words = options.max_words.max(1);
    // Marks are sorted and disjoint, and words start in text order: one pass finds the words
    // that overlap a mark.
    let mut matched_words: Vec<usize> = Vec::new();
    let mut next_mark = 0usize;
    for (index, word) in words.iter().enumerate() {
        while next_mark < marks.len() && marks[next_mark].end <= word.span.start {
            next_mark += 1;
        }
        if marks
            .get(next_mark)
            .is_some_and(|mark| overlaps(mark, &word.span))
        {
            matched_words.push(index);
        }
    }
    let windows = if matched_words.is_empty() {
        let opening = 0..max_words.min(words.len());
        Vec::from([opening])
    } else {
        choose_windows(
            words.len(),
            &terms_held(matches),
            &matched_words,
            max_words,
            options.max_fragments,
        )
    };

    // Each fragment widens to the whitespace around it, but never into its neighbours: so no
    // text shows twice, and the widening reads every byte of the content at most once.
    let spans: Vec<Range<usize>> = windows
        .iter()
        .map(|window| words[window.start].span.start..words[window.end - 1].span.end)
        .collect();
    let fragments: Vec<Range<usize>> = spans
        .iter()
        .enumerate()
        .map(|(index, span)| {
            // (The words of a compound overlap it, so a neighbour can reach into a span.)
            let floor = if index == 0 {
                0
            } else {
                spans[index - 1].end.min(span.start)
            };
            let ceiling = spans
                .get(index + 1)
                .map_or(content.len(), |next| next.start.max(span.end));
            widen_to_whitespace(content, span.clone(), floor..ceiling)
        })
        .collect();
    render(content, &fragments, &marks, options)
}

/// Which query terms each word holds, as (word, term) pairs in text order, each pair once (a
/// compound word can hold several terms).
fn terms_held<'q>(matches: &[Match<'q>]) -> Vec<(usize, &'q str)> {
    let mut held: Vec<(usize, &str)> = Vec::with_capacity(matches.len());
    for found in matches {
        let mut same_word = held
            .iter()
            .rev()
            .take_while(|(word, _)| *word == found.word);
        if !same_word.any(|(_, term)| *term == found.term) {
            held.push((found.word, found.term));
        }
    }
    held
}

/// Picks up to `count` non-overlapping windows of `size` words, among `word_count`, that cover
/// the most distinct query terms, then the most occurrences; returned in text order.
///
/// There is one candidate window per matched word. Matched words come in text order, and so do
/// the candidates' starts and ends: one sliding pass over `held` counts what each holds, so the
/// work grows with the number of matches, not with matches times window size.
fn choose_windows(
    word_count: usize,
    held: &[(usize, &str)],
    matched_words: &[usize],
    size: usize,
    count: usize,
) -> Vec<Range<usize>> {
    let lead = size / 4; // words of context before the first match of a window
    let mut candidates: Vec<(usize, usize, Range<usize>)> = Vec::with_capacity(matched_words.len());
    let mut in_window: HashMap<&str, usize> = HashMap::new();
    let (mut from, mut to) = (0usize, 0usize);
    let mut steps = interrupts::Every::new(1024);
    for &first in matched_words {
        steps.step();
        let start = first.saturating_sub(lead);
        let end = start.saturating_add(size).min(word_count);
        let start = end.saturating_sub(size);
        if candidates
            .last()
            .is_some_and(|(_, _, last)| last.start == start)
        {
            continue; // the same window as the previous match's
        }
        while to < held.len() && held[to].0 < end {
            *in_window.entry(held[to].1).or_insert(0) += 1;
            to += 1;
        }
        while from < to && held[from].0 < start {
            let term = held[from].1;
            match in_window.get_mut(term) {
                Some(occurrences) if *occurrences > 1 => *occurrences -= 1,
                _ => {
                    in_window.remove(term);
                }
            }
            from += 1;
        }
        candidates.push((in_window.len(), to - from, start..end));
    }
    // Best first; on equal merit the earlier window, so results are deterministic.
    candidates.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(a.2.start.cmp(&b.2.start))
    });
    // Chosen windows by start: a window overlaps one of them exactly when the last one starting
    // before its end reaches past its start.
    let mut chosen: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, _, window) in candidates {
        if chosen.len() == count {
            break;
        }
        steps.step();
        let overlaps_chosen = chosen
            .range(..window.end)
            .next_back()
            .is_some_and(|(_, &end)| end > window.start);
        if !overlaps_chosen {
            chosen.insert(window.start, window.end);
        }
    }
    chosen.into_iter().map(|(start, end)| start..end).collect()
}

/// Extends a byte range to the whitespace around it, within `bounds` (character boundaries), so
/// a fragment keeps the punctuation that belongs to its first and last words (`<script>`,
/// `getUserData()`).
fn widen_to_whitespace(content: &str, bytes: Range<usize>, bounds: Range<usize>) -> Range<usize> {
    let start = content[bounds.start..bytes.start]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(bounds.start, |(at, c)| bounds.start + at + c.len_utf8());
    let end = content[bytes.end..bounds.end]
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(bounds.end, |(at, _)| bytes.end + at);
    start..end
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Sorts marks and merges those that overlap or touch, so markers never nest or break.
fn merge(mut marks: Vec<Range<usize>>) -> Vec<Range<usize>> {
    marks.sort_by_key(|mark| (mark.start, std::cmp::Reverse(mark.end)));
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(marks.len());
    for mark in marks {
        match merged.last_mut() {
            Some(last) if mark.start <= last.end => last.end = last.end.max(mark.end),
            _ => merged.push(mark),
        }
    }
    merged
}

/// Writes the fragments of `content` joined by the delimiter, with the marks inside each wrapped,
/// escaping if the markers are HTML.
fn render(
    content: &str,
    fragments: &[Range<usize>],
    marks: &[Range<usize>],
    options: &HighlightOptions,
) -> String {
    let escape = options.escapes_html();
    let mut out = String::with_capacity(fragments.iter().map(|bytes| bytes.len() + 32).sum());
    for (index, bytes) in fragments.iter().enumerate() {
        if index > 0 {
            out.push_str(&options.fragment_delimiter);
        }
        let mut at = bytes.start;
        // Marks are sorted and disjoint: those inside the fragment are a run of them.
        let first = marks.partition_point(|mark| mark.start < bytes.start);
        let inside = marks[first..]
            .iter()
            .take_while(|mark| mark.start < bytes.end)
            .filter(|mark| mark.end <= bytes.end);
        for mark in inside {
            interrupts::check();
            push_text(&mut out, &content[at..mark.start], escape);
            out.push_str(&options.start_sel);
            push_text(&mut out, &content[mark.clone()], escape);
            out.push_str(&options.stop_sel);
            at = mark.end;
        }
        push_text(&mut out, &content[at..bytes.end], escape);
    }
    out
}

fn push_text(out: &mut String, text: &str, escape: bool) {
    if !escape {
        out.push_str(text);
        return;
    }
    // The escaped characters are ASCII, so every byte offset found here is a character boundary,
    // and the text between them is copied in one piece.
    let mut copied = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[copied..at]);
        out.push_str(entity);
        copied = at + 1;
    }
    out.push_str(&text[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::query::parse_query;

    fn hl(content: &str, query: &str) -> String {
        highlight(content, &parse_query(query), &HighlightOptions::default())
    }

    #[test]
    fn marks_every_occurrence_of_the_query_terms() {
        assert_eq!(
            hl("Handler failed; retry the handler", "handler"),
            "<mark>Handler</mark> failed; retry the <mark>handler</mark>"
        );
    }

    #[test]
    fn marks_parts_inside_identifiers_and_paths() {
        assert_eq!(
            hl("see src/api/handler.rs", "handler"),
            "see src/api/<mark>handler</mark>.rs"
        );
        assert_eq!(
            hl("call getUserData()", "user data"),
            "call get<mark>UserData</mark>()"
        );
        assert_eq!(
            hl("call getUserData()", "getUserData"),
            "call <mark>getUserData</mark>()"
        );
    }

    #[test]
    fn escapes_html_around_html_markers() {
        assert_eq!(
            hl("<script>alert('x')</script> handler", "handler"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>handler</mark>"
        );
        assert_eq!(
            hl("a <mark>fake</mark> handler", "handler"),
            "a &lt;mark&gt;fake&lt;/mark&gt; <mark>handler</mark>"
        );
    }

    #[test]
    fn plain_markers_leave_text_alone() {
        let options = HighlightOptions {
            start_sel: "**".into(),
            stop_sel: "**".into(),
            ..Default::default()
        };
        assert_eq!(
            highlight("a <b> handler", &parse_query("handler"), &options),
            "a <b> **handler**"
        );
    }

    #[test]
    fn picks_the_best_fragments_in_text_order() {
        let filler = |n: usize| {
            (0..n)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let content = format!(
            "{} timeout here {} redis timeout again {}",
            filler(100),
            filler(100),
            filler(100)
        );
        let options = HighlightOptions {
            max_words: 6,
            max_fragments: 2,
            ..Default::default()
        };
        let result = highlight(&content, &parse_query("redis timeout"), &options);
        let fragments: Vec<&str> = result.split(" … ").collect();
        assert_eq!(fragments.len(), 2);
        assert!(fragments[0].contains("<mark>timeout</mark> here"));
        assert!(fragments[1].contains("<mark>redis</mark> <mark>timeout</mark>"));
    }

    #[test]
    fn without_a_match_it_shows_the_beginning() {
        let options = HighlightOptions {
            max_words: 3,
            ..Default::default()
        };
        assert_eq!(
            highlight("one two three four five", &parse_query("absent"), &options),
            "one two three"
        );
    }

    #[test]
    fn marks_words_whose_term_is_not_their_text() {
        // Stems rewrite endings, a few irregularly; the Kelvin sign lowercases to ASCII; a part
        // can start with an apostrophe, which the stemmer drops. None of them may be missed.
        assert_eq!(
            hl("dying, lying and happy skies", "die lie happiness sky"),
            "<mark>dying</mark>, <mark>lying</mark> and <mark>happy</mark> <mark>skies</mark>"
        );
        assert_eq!(
            hl("national relational abilities", "nation relate ability"),
            "<mark>national</mark> <mark>relational</mark> <mark>abilities</mark>"
        );
        assert_eq!(hl("\u{212A}ey", "key"), "<mark>\u{212A}ey</mark>");
        assert_eq!(hl("self_'Tis", "tis"), "self_<mark>&#39;Tis</mark>");
    }

    #[test]
    fn zero_fragments_highlights_everything() {
        let options = HighlightOptions {
            max_fragments: 0,
            ..Default::default()
        };
        assert_eq!(
            highlight("a handler b handler", &parse_query("handler"), &options),
            "a <mark>handler</mark> b <mark>handler</mark>"
        );
    }
}
