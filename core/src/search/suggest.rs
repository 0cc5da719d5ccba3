//! Suggestions while the user types: which messages to look in, and which of their words
//! complete what was typed.

use std::collections::HashSet;

use super::query::{lexeme_tsquery_text, parse_query};
use super::tokenizer::{tokenize, TokenKind};
use crate::interrupts;

/// How to look for completions of a partial query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuggestionQuery {
    /// Finds messages that contain the finished words and a word starting with the last one.
    pub tsquery_text: String,
    /// The finished words as typed, with a trailing space (empty when there is one word).
    pub head: String,
    /// The word being typed, lowercased.
    pub prefix: String,
}

/// Splits a partial query into its finished words and the word being typed. The last word is
/// matched as typed and as its stem (`running` is indexed as `run`).
pub fn suggestion_query(partial: &str) -> SuggestionQuery {
    let trimmed = partial.trim_start();
    // The split goes after the last whitespace character, which can be several bytes long
    // (a no-break space, an ideographic space).
    let (head, last) = match trimmed.char_indices().rfind(|(_, c)| c.is_whitespace()) {
        Some((at, space)) => trimmed.split_at(at + space.len_utf8()),
        None => ("", trimmed),
    };
    let prefix = last.trim().to_lowercase();
    let mut alternatives: Vec<String> = Vec::new();
    if let Some(token) = tokenize(last)
        .into_iter()
        .find(|t| t.kind != TokenKind::StopWord)
    {
        alternatives.push(token.term);
    }
    if !prefix.is_empty() && !prefix.contains('\u{0}') && !alternatives.contains(&prefix) {
        alternatives.push(prefix.clone());
    }
    // Nothing longer than a lexeme can be in the index, and PostgreSQL refuses it in a tsquery.
    alternatives.retain(|lexeme| lexeme.len() <= crate::tsvector::MAX_LEXEME_BYTES);
    let last_word = alternatives
        .iter()
        .map(|lexeme| format!("{}:*", lexeme_tsquery_text(lexeme)))
        .collect::<Vec<_>>()
        .join(" | ");
    let finished = parse_query(head).to_tsquery_text();
    let tsquery_text = match (finished.is_empty(), last_word.is_empty()) {
        (_, true) => String::new(),
        (true, false) => format!("({last_word})"),
        (false, false) => format!("{finished} & ({last_word})"),
    };
    SuggestionQuery {
        tsquery_text,
        head: head.to_owned(),
        prefix,
    }
}

/// Words and compounds of `content` that start with `prefix` (case-insensitively), spelled as in
/// the content, without repeats, at most `limit`.
pub fn completions(content: &str, prefix: &str, limit: usize) -> Vec<String> {
    let prefix = prefix.to_lowercase();
    let mut found: Vec<String> = Vec::new();
    if prefix.is_empty() {
        return found;
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for token in tokenize(content) {
        if found.len() >= limit {
            break;
        }
        interrupts::check();
        if token.kind == TokenKind::Part || token.kind == TokenKind::StopWord {
            continue;
        }
        let spelled = &content[token.span.clone()];
        if spelled.to_lowercase().starts_with(&prefix) && seen.insert(spelled) {
            found.push(spelled.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_longer_than_any_lexeme_asks_for_nothing() {
        assert_eq!(suggestion_query(&"😀".repeat(2_000)).tsquery_text, "");
        let long_word = suggestion_query(&format!("retry {}", "a".repeat(5_000)));
        assert!(!long_word.tsquery_text.contains(&"a".repeat(3_000)));
    }

    #[test]
    fn the_last_word_is_a_prefix_as_typed_and_as_stem() {
        let query = suggestion_query("cargo runn");
        assert_eq!(query.head, "cargo ");
        assert_eq!(query.prefix, "runn");
        assert_eq!(query.tsquery_text, "'cargo' & ('runn':*)");
        assert_eq!(
            suggestion_query("Running").tsquery_text,
            "('run':* | 'running':*)"
        );
    }

    #[test]
    fn multi_byte_whitespace_separates_words() {
        for space in ['\u{a0}', '\u{2009}', '\u{3000}', '\u{2028}'] {
            let query = suggestion_query(&format!("a{space}"));
            assert_eq!(query.head, format!("a{space}"));
            assert_eq!(query.prefix, "");
            let query = suggestion_query(&format!("cargo{space}runn"));
            assert_eq!(
                (query.head.trim_end(), query.prefix.as_str()),
                ("cargo", "runn")
            );
        }
    }

    #[test]
    fn nothing_typed_finds_nothing() {
        assert_eq!(suggestion_query("   ").tsquery_text, "");
        assert_eq!(suggestion_query("").prefix, "");
    }

    #[test]
    fn completions_keep_the_original_spelling() {
        let content = "Call getUserData(), then getUserName; getUserData again. Get going.";
        assert_eq!(
            completions(content, "getu", 10),
            ["getUserData", "getUserName"]
        );
        assert_eq!(completions(content, "get", 1), ["getUserData"]);
        assert!(completions(content, "", 10).is_empty());
    }
}
