//! Properties of the search core that must hold for every input, checked on random ones.
//! `PROPTEST_CASES=100000 cargo test --release -p cco-core --test search_properties` is the long run.

use cco_core::search::highlight::reference_highlight;
use cco_core::search::{highlight, index_document, parse_query, tokenize, HighlightOptions};
use cco_core::tsvector::{TsVectorView, MAX_LEXEME_BYTES, MAX_POSITION, MAX_POSITIONS_PER_LEXEME};
use proptest::prelude::*;

/// Text that looks like what users write: prose, code, paths, markup and odd Unicode.
fn technical_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z]{1,12}",
        "[a-z]+([A-Z][a-z]+){1,3}",
        "[a-z]+(_[a-z0-9]+){1,3}",
        "(/[a-z]{1,8}){1,4}\\.(rs|py|ts)",
        "[A-Z]{1,3}[0-9]{3,5}",
        "v[0-9]\\.[0-9]{1,2}\\.[0-9]{1,3}",
        "https?://[a-z]{3,8}\\.(com|io)/[a-z/]{0,12}",
        "[<>&\"'(){}\\[\\];:,.!?|\\\\/-]{1,4}",
        "\\PC{1,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(pieces, 0..40).prop_map(|parts| parts.join(" "))
}

/// Text rich in what stemming and lowercasing rewrite: inflections, irregular stems, apostrophes,
/// stop words, and letters whose lowercase differs in length or script (`İ`, the Kelvin sign).
fn stemming_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z]{1,10}",
        "[a-z]{2,8}(ing|ingly|ies|ied|ly|ness|ational|ization|biliti|ability|s|'s|ed|edly|eed|y)",
        "(skies|dying|lying|tying|idly|gently|ugly|early|only|singly|news|happy|ability|yelling|Yelling)",
        "(the|a|is|my|of|and|don't|'tis|it's|o'clock|couldn’t)",
        "[ÀÉÎÕÜàéîõüİıßǅΣσςДдK]{1,4}[a-z]{0,3}",
        "\\PC{1,4}",
        "[<>&\"'(){};:,.-]{1,3}",
    ];
    prop::collection::vec(pieces, 0..30).prop_map(|parts| parts.join(" "))
}

/// Identifiers and paths of every shape, back to back, including parts and compounds too long
/// to be indexed.
fn identifier_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-z]+([A-Z][a-z]+){1,3}",
        "[A-Z]{2,5}[A-Z][a-z]{1,6}",
        "_{0,2}[a-zA-Z]{0,3}(_'?[a-zA-Z0-9]{1,4}){1,3}_{0,2}",
        "[a-z]{1,6}(::[A-Za-z]{1,8}){1,3}",
        "(/[a-zA-Z_]{1,6}){1,3}\\.(rs|py)",
        "https?://[a-z]{3,8}\\.(com|io)/[a-zA-Z/-]{0,12}",
        "[a-z]{1,4}[0-9]{1,3}[A-Z][a-z]{1,4}",
        "[a-zA-Z]{60,70}",
        "([a-z]{4,9}[./-]){30,40}[a-z]{1,4}",
        "[日本語한국]{1,3}[a-z]{0,3}",
    ];
    prop::collection::vec(pieces, 0..24).prop_map(|parts| parts.join(" "))
}

/// A strict reader of the tsquery syntax cco emits, to prove the text is grammatical.
struct TsQueryGrammar<'a> {
    rest: &'a str,
}

impl<'a> TsQueryGrammar<'a> {
    fn check(text: &'a str) -> Result<(), String> {
        if text.is_empty() {
            return Ok(());
        }
        let mut grammar = TsQueryGrammar { rest: text };
        grammar.expression()?;
        if grammar.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("trailing input: {:?}", grammar.rest))
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        if let Some(rest) = self.rest.strip_prefix(token) {
            self.rest = rest;
            true
        } else {
            false
        }
    }

    fn expression(&mut self) -> Result<(), String> {
        self.operand()?;
        loop {
            if self.eat(" & ") || self.eat(" | ") || self.eat(" <-> ") {
                self.operand()?;
            } else if self.rest.starts_with(" <") {
                self.rest = &self.rest[2..];
                let digits = self.rest.chars().take_while(char::is_ascii_digit).count();
                let distance: u32 = self.rest[..digits].parse().map_err(|_| "bad distance")?;
                if !(1..=16384).contains(&distance) {
                    return Err(format!("distance {distance}"));
                }
                self.rest = &self.rest[digits..];
                if !self.eat("> ") {
                    return Err("unterminated distance".into());
                }
                self.operand()?;
            } else {
                return Ok(());
            }
        }
    }

    fn operand(&mut self) -> Result<(), String> {
        if self.eat("!") {
            return self.operand();
        }
        if self.eat("(") {
            self.expression()?;
            return if self.eat(")") {
                Ok(())
            } else {
                Err("unclosed group".into())
            };
        }
        if !self.eat("'") {
            return Err(format!("expected a lexeme at {:?}", self.rest));
        }
        let mut length = 0;
        loop {
            if self.eat("''") || self.eat("\\\\") {
                length += 1;
                continue;
            }
            if self.eat("'") {
                break;
            }
            let c = self.rest.chars().next().ok_or("unterminated lexeme")?;
            if c == '\\' || c == '\0' {
                return Err("unescaped backslash or NUL".into());
            }
            self.rest = &self.rest[c.len_utf8()..];
            length += c.len_utf8();
        }
        if length == 0 || length > MAX_LEXEME_BYTES {
            return Err(format!("lexeme of {length} bytes"));
        }
        self.eat(":*");
        Ok(())
    }
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
    fn tokens_always_point_at_their_source(text in technical_text()) {
        for token in tokenize(&text) {
            prop_assert!(text.get(token.span.clone()).is_some(), "span off a char boundary");
            prop_assert!(!token.term.is_empty() && !token.term.contains('\0'));
        }
    }

    #[test]
    fn any_string_tokenizes_and_indexes(text in "\\PC{0,300}|[\\x00-\\x7f]{0,300}") {
        let document = index_document(&text);
        let payload = document.to_tsvector_payload();
        prop_assert!(payload.is_ok(), "{:?}", payload);
    }

    #[test]
    fn indexed_documents_respect_every_tsvector_limit(text in technical_text()) {
        let document = index_document(&text);
        for pair in document.lexemes.windows(2) {
            prop_assert!(pair[0].text.as_bytes() < pair[1].text.as_bytes());
        }
        for lexeme in &document.lexemes {
            prop_assert!(!lexeme.text.is_empty() && lexeme.text.len() <= MAX_LEXEME_BYTES);
            prop_assert!(lexeme.positions.len() <= MAX_POSITIONS_PER_LEXEME);
            prop_assert!(lexeme.positions.windows(2).all(|p| p[0] < p[1]));
            prop_assert!(lexeme.positions.iter().all(|&p| (1..=MAX_POSITION).contains(&p)));
        }
        let payload = document.to_tsvector_payload().unwrap();
        let view = TsVectorView::new(&payload).unwrap();
        prop_assert_eq!(view.len(), document.lexemes.len());
    }

    #[test]
    fn queries_always_render_grammatical_tsquery(input in technical_text()) {
        let query = parse_query(&input);
        let text = query.to_tsquery_text();
        prop_assert!(TsQueryGrammar::check(&text).is_ok(), "{:?} -> {:?}: {:?}", input, text, TsQueryGrammar::check(&text));
        prop_assert_eq!(query.is_empty(), text.is_empty());
        let prefix = query.to_prefix_tsquery_text();
        prop_assert!(TsQueryGrammar::check(&prefix).is_ok(), "{:?} -> {:?}", input, prefix);
    }

    #[test]
    fn arbitrary_query_strings_never_panic(input in "\\PC{0,200}|[-\"()| a-z]{0,200}") {
        let query = parse_query(&input);
        prop_assert!(TsQueryGrammar::check(&query.to_tsquery_text()).is_ok());
    }

    #[test]
    fn html_highlights_carry_no_markup_but_the_markers(content in technical_text(), query in technical_text()) {
        let output = highlight(&content, &parse_query(&query), &HighlightOptions::default());
        let without_markers = output.replace("<mark>", "").replace("</mark>", "");
        prop_assert!(!without_markers.contains('<') && !without_markers.contains('>'), "{:?}", output);
        // markers are balanced and never nested
        let mut open = false;
        let mut rest = output.as_str();
        while let Some(at) = rest.find("<mark>").into_iter().chain(rest.find("</mark>")).min() {
            let closing = rest[at..].starts_with("</mark>");
            prop_assert_eq!(closing, open, "marker out of order in {:?}", output);
            open = !open;
            rest = &rest[at + if closing { 7 } else { 6 }..];
        }
        prop_assert!(!open);
    }

    #[test]
    fn highlighted_text_is_the_content_with_markers_added(content in technical_text(), query in "[a-zA-Z_ ]{1,20}") {
        let options = HighlightOptions { start_sel: "[[".into(), stop_sel: "]]".into(), max_fragments: 0, ..HighlightOptions::default() };
        let output = highlight(&content, &parse_query(&query), &options);
        let stripped = output.replace("[[", "").replace("]]", "");
        let original = content.replace("[[", "").replace("]]", "");
        prop_assert_eq!(stripped, original);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_or(1024)))]

    /// The highlighter works out the terms of the few tokens that can match only; the reference
    /// works out every term. Queries are made of the text's own words, whole or cut short, and of
    /// text of their own.
    #[test]
    fn highlighting_equals_the_reference(
        content in prop_oneof![technical_text(), stemming_text(), identifier_text(), "\\PC{0,200}"],
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..4),
        extra in prop_oneof![Just(String::new()), technical_text(), stemming_text(), "\\PC{1,12}"],
        max_words in 1usize..40,
        max_fragments in 0usize..4,
        html_markers in any::<bool>(),
    ) {
        let words: Vec<&str> = content.split_whitespace().collect();
        let mut query: Vec<String> = Vec::new();
        if !words.is_empty() {
            for (word, cut) in &picks {
                let word = word.get(&words);
                let boundaries: Vec<usize> = word.char_indices().map(|(at, _)| at).skip(1).chain([word.len()]).collect();
                query.push(word[..*cut.get(&boundaries)].to_owned());
            }
        }
        query.push(extra.chars().take(40).collect());
        let query = parse_query(&query.join(" "));
        let options = if html_markers {
            HighlightOptions { max_words, max_fragments, ..HighlightOptions::default() }
        } else {
            HighlightOptions { start_sel: "[[".into(), stop_sel: "]]".into(), max_words, max_fragments, ..HighlightOptions::default() }
        };
        prop_assert_eq!(highlight(&content, &query, &options), reference_highlight(&content, &query, &options));
    }
}
