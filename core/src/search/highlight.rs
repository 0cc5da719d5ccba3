//! Highlighting: the best fragments of a message with every occurrence of the query's terms
//! wrapped in markers.
//!
//! Matching works on the tokens the index holds, so a query `handler` marks only `handler` inside
//! `src/api/handler.rs`, and `user data` marks `User` and `Data` inside `getUserData`. When the
//! markers look like HTML (they start with `<`), everything else is HTML-escaped: a message
//! containing `<script>`, or the marker strings themselves, cannot inject markup.

use std::collections::HashSet;
use std::ops::Range;

use super::query::Query;
use super::tokenizer::{tokenize_where, Token};

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

/// Highlights `content` for `query`; see the module documentation.
pub fn highlight(content: &str, query: &Query, options: &HighlightOptions) -> String {
    let wanted: HashSet<String> = query.positive_terms().into_iter().collect();
    let openings: Vec<&str> = wanted.iter().map(|term| opening(term)).collect();
    let tokens = tokenize_where(content, |lowered| {
        let lowered = opening_text(lowered);
        openings.iter().any(|opening| lowered.starts_with(opening))
    });
    highlight_tokens(content, &tokens, &wanted, options)
}

/// What a term shares with the lowercased text it came from: its first character. Terms are that
/// text, or its English stem, and stemming keeps the first letter (it changes endings, and its
/// few irregular forms, such as dying to die, keep the first letter too). The one change at the
/// front, a leading apostrophe the stemmer drops, is left out on both sides.
fn opening(term: &str) -> &str {
    let term = opening_text(term);
    let end = term.chars().next().map_or(0, char::len_utf8);
    &term[..end]
}

fn opening_text(text: &str) -> &str {
    text.trim_start_matches('\'')
}

fn highlight_tokens(content: &str, tokens: &[Token], wanted: &HashSet<String>, options: &HighlightOptions) -> String {

    let mut marks: Vec<Range<usize>> = tokens
        .iter()
        .filter(|token| token.is_indexed() && wanted.contains(&token.term))
        .map(|token| token.span.clone())
        .collect();
    marks = merge(marks);

    // Words by position: the span from the first to the last byte of the tokens at a position.
    let mut words: Vec<Word> = Vec::new();
    for token in tokens {
        match words.last_mut() {
            Some(word) if word.position == token.position => {
                word.span.start = word.span.start.min(token.span.start);
                word.span.end = word.span.end.max(token.span.end);
            }
            _ => words.push(Word { position: token.position, span: token.span.clone() }),
        }
    }

    if options.max_fragments == 0 || words.is_empty() {
        return render(content, 0..content.len(), &marks, options);
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
        if marks.get(next_mark).is_some_and(|mark| overlaps(mark, &word.span)) {
            matched_words.push(index);
        }
    }
    let windows = if matched_words.is_empty() {
        let opening = 0..max_words.min(words.len());
        Vec::from([opening])
    } else {
        choose_windows(&words, &tokens_terms(tokens, &words, wanted), &matched_words, max_words, options.max_fragments)
    };

    let fragments: Vec<String> = windows
        .into_iter()
        .map(|window| {
            let bytes = widen_to_whitespace(content, words[window.start].span.start..words[window.end - 1].span.end);
            render(content, bytes, &marks, options)
        })
        .collect();
    fragments.join(&options.fragment_delimiter)
}

/// For each word, which query terms it holds (a compound word can hold several).
fn tokens_terms(tokens: &[Token], words: &[Word], wanted: &HashSet<String>) -> Vec<Vec<String>> {
    let mut per_word: Vec<Vec<String>> = vec![Vec::new(); words.len()];
    let mut word_index = 0usize;
    for token in tokens {
        while word_index + 1 < words.len() && words[word_index].position < token.position {
            word_index += 1;
        }
        if token.is_indexed() && wanted.contains(&token.term) && !per_word[word_index].contains(&token.term) {
            per_word[word_index].push(token.term.clone());
        }
    }
    per_word
}

/// Picks up to `count` non-overlapping windows of `size` words that cover the most distinct query
/// terms, then the most occurrences; returned in text order.
fn choose_windows(
    words: &[Word],
    terms_of_word: &[Vec<String>],
    matched_words: &[usize],
    size: usize,
    count: usize,
) -> Vec<Range<usize>> {
    let lead = size / 4; // words of context before the first match of a window
    let mut candidates: Vec<(usize, usize, Range<usize>)> = matched_words
        .iter()
        .map(|&first| {
            let start = first.saturating_sub(lead);
            let end = (start + size).min(words.len());
            let start = end.saturating_sub(size);
            let mut distinct: Vec<&String> = Vec::new();
            let mut occurrences = 0;
            for terms in &terms_of_word[start..end] {
                occurrences += terms.len();
                for term in terms {
                    if !distinct.contains(&term) {
                        distinct.push(term);
                    }
                }
            }
            (distinct.len(), occurrences, start..end)
        })
        .collect();
    // Best first; on equal merit the earlier window, so results are deterministic.
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.start.cmp(&b.2.start)));
    let mut chosen: Vec<Range<usize>> = Vec::new();
    for (_, _, window) in candidates {
        if chosen.len() == count {
            break;
        }
        if chosen.iter().all(|taken| window.end <= taken.start || taken.end <= window.start) {
            chosen.push(window);
        }
    }
    chosen.sort_by_key(|window| window.start);
    chosen
}

/// Extends a byte range to the whitespace around it, so a fragment keeps the punctuation that
/// belongs to its first and last words (`<script>`, `getUserData()`).
fn widen_to_whitespace(content: &str, bytes: Range<usize>) -> Range<usize> {
    let start = content[..bytes.start]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(at, c)| at + c.len_utf8());
    let end = content[bytes.end..]
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(content.len(), |(at, _)| bytes.end + at);
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

/// Writes `content[bytes]` with the marks inside it wrapped, escaping if the markers are HTML.
fn render(content: &str, bytes: Range<usize>, marks: &[Range<usize>], options: &HighlightOptions) -> String {
    let escape = options.escapes_html();
    let mut out = String::with_capacity(bytes.len() + 32);
    let mut at = bytes.start;
    for mark in marks.iter().filter(|mark| mark.start >= bytes.start && mark.end <= bytes.end) {
        push_text(&mut out, &content[at..mark.start], escape);
        out.push_str(&options.start_sel);
        push_text(&mut out, &content[mark.clone()], escape);
        out.push_str(&options.stop_sel);
        at = mark.end;
    }
    push_text(&mut out, &content[at..bytes.end], escape);
    out
}

fn push_text(out: &mut String, text: &str, escape: bool) {
    if !escape {
        out.push_str(text);
        return;
    }
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
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
        assert_eq!(hl("Handler failed; retry the handler", "handler"),
            "<mark>Handler</mark> failed; retry the <mark>handler</mark>");
    }

    #[test]
    fn marks_parts_inside_identifiers_and_paths() {
        assert_eq!(hl("see src/api/handler.rs", "handler"), "see src/api/<mark>handler</mark>.rs");
        assert_eq!(hl("call getUserData()", "user data"), "call get<mark>UserData</mark>()");
        assert_eq!(hl("call getUserData()", "getUserData"), "call <mark>getUserData</mark>()");
    }

    #[test]
    fn escapes_html_around_html_markers() {
        assert_eq!(hl("<script>alert('x')</script> handler", "handler"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; <mark>handler</mark>");
        assert_eq!(hl("a <mark>fake</mark> handler", "handler"),
            "a &lt;mark&gt;fake&lt;/mark&gt; <mark>handler</mark>");
    }

    #[test]
    fn plain_markers_leave_text_alone() {
        let options = HighlightOptions { start_sel: "**".into(), stop_sel: "**".into(), ..Default::default() };
        assert_eq!(highlight("a <b> handler", &parse_query("handler"), &options), "a <b> **handler**");
    }

    #[test]
    fn picks_the_best_fragments_in_text_order() {
        let filler = |n: usize| (0..n).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let content = format!("{} timeout here {} redis timeout again {}", filler(100), filler(100), filler(100));
        let options = HighlightOptions { max_words: 6, max_fragments: 2, ..Default::default() };
        let result = highlight(&content, &parse_query("redis timeout"), &options);
        let fragments: Vec<&str> = result.split(" … ").collect();
        assert_eq!(fragments.len(), 2);
        assert!(fragments[0].contains("<mark>timeout</mark> here"));
        assert!(fragments[1].contains("<mark>redis</mark> <mark>timeout</mark>"));
    }

    #[test]
    fn without_a_match_it_shows_the_beginning() {
        let options = HighlightOptions { max_words: 3, ..Default::default() };
        assert_eq!(highlight("one two three four five", &parse_query("absent"), &options), "one two three");
    }

    mod skipping_words_that_cannot_match {
        use super::*;
        use crate::search::tokenizer::tokenize;
        use proptest::prelude::*;

        /// Text rich in what stemming and the tokenizer treat specially: inflections, exceptional
        /// stems, apostrophes, stop words, identifiers, Unicode case changes.
        fn text() -> impl Strategy<Value = String> {
            let pieces = prop_oneof![
                "[a-zA-Z]{1,10}",
                "[a-z]{2,8}(ing|ies|ied|ly|ness|ational|s|'s|ed|y)",
                "(skies|dying|lying|tying|idly|gently|ugly|early|only|singly|news|yelling|Yelling)",
                "(the|a|is|my|of|and|don't|'tis|it's|o'clock)",
                "[a-z]+([A-Z][a-z]+){1,3}",
                "[a-z]{0,3}(_'?[a-z0-9]{1,4}){1,3}",
                "(/[a-z]{1,6}){1,3}\\.(rs|py)",
                "[ÀÉÎÕÜàéîõüİıßǅΣσςДд]{1,4}[a-z]{0,3}",
                "\\PC{1,4}",
                "[<>&\"'(){};:,.-]{1,3}",
            ];
            prop::collection::vec(pieces, 0..30).prop_map(|parts| parts.join(" "))
        }

        fn reference(content: &str, query: &Query, options: &HighlightOptions) -> String {
            let wanted: HashSet<String> = query.positive_terms().into_iter().collect();
            highlight_tokens(content, &tokenize(content), &wanted, options)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(
                std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(1024)))]

            #[test]
            fn changes_nothing(content in text(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..4),
                               extra in text(), max_words in 1usize..12, max_fragments in 0usize..4) {
                let words: Vec<&str> = content.split_whitespace().collect();
                let mut query: Vec<String> = picks.iter().filter(|_| !words.is_empty()).map(|pick| pick.get(&words).to_string()).collect();
                query.push(extra.chars().take(12).collect());
                let query = parse_query(&query.join(" "));
                let options = HighlightOptions { max_words, max_fragments, ..Default::default() };
                prop_assert_eq!(highlight(&content, &query, &options), reference(&content, &query, &options));
            }
        }
    }

    #[test]
    fn zero_fragments_highlights_everything() {
        let options = HighlightOptions { max_fragments: 0, ..Default::default() };
        assert_eq!(highlight("a handler b handler", &parse_query("handler"), &options),
            "a <mark>handler</mark> b <mark>handler</mark>");
    }
}
