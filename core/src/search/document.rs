//! A message in the form PostgreSQL indexes: its distinct terms with their positions, ready for
//! `crate::tsvector::encode`, within every limit a `tsvector` has.

use std::collections::HashSet;

use super::tokenizer::{tokenize, TermMap, TokenKind};
use crate::tsvector::{
    self, EncodeError, MAX_LEXEME_BYTES, MAX_POSITION, MAX_POSITIONS_PER_LEXEME,
    MAX_STRING_AREA_BYTES,
};

/// One distinct term of a document and the positions it occurs at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedLexeme {
    pub text: String,
    /// Ascending, unique, in 1..=16383 (PostgreSQL's largest position: later words share it).
    pub positions: Vec<u16>,
}

/// The distinct terms of a document in PostgreSQL's lexeme order, and its length.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexedDocument {
    pub lexemes: Vec<IndexedLexeme>,
    /// Number of word positions: the document length BM25 normalises by.
    pub token_count: u32,
}

impl IndexedDocument {
    /// The `tsvector` payload for this document.
    pub fn to_tsvector_payload(&self) -> Result<Vec<u8>, EncodeError> {
        tsvector::encode(
            self.lexemes
                .iter()
                .map(|lexeme| (lexeme.text.as_bytes(), lexeme.positions.as_slice())),
        )
    }

    fn string_area_bytes(&self) -> usize {
        self.lexemes.iter().fold(0, |total, lexeme| {
            let text_end = total + lexeme.text.len();
            text_end + (text_end & 1) + 2 + 2 * lexeme.positions.len()
        })
    }
}

/// Indexes a text: tokenizes it and groups the terms with their positions.
///
/// A very large text can produce more than a tsvector may hold (1 MB of lexemes and positions).
/// Then positions are thinned first (each lexeme keeps its earliest ones, down to one); if that
/// is not enough, the rarest and longest lexemes are dropped. A document stays findable by every
/// term that fits; this happens only to documents of hundreds of thousands of words.
pub fn index_document(text: &str) -> IndexedDocument {
    // (term, position) pairs sorted by term then position: grouping them gives every lexeme with
    // its positions in order, with no map and no allocation per distinct term.
    let mut pairs: Vec<(String, u16)> = Vec::new();
    let mut last_position = 0u32;
    for token in tokenize(text) {
        last_position = last_position.max(token.position);
        if !token.is_indexed() || token.kind == TokenKind::Compound {
            continue;
        }
        if token.term.len() > MAX_LEXEME_BYTES || token.term.is_empty() {
            continue;
        }
        pairs.push((token.term, token.position.min(MAX_POSITION as u32) as u16));
    }
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(&b.1)));

    let mut lexemes: Vec<IndexedLexeme> = Vec::new();
    let mut occurrences_of: TermMap<u32> = TermMap::default();
    for (term, position) in pairs {
        match lexemes.last_mut() {
            Some(last) if last.text == term => {
                if last.positions.last() != Some(&position)
                    && last.positions.len() < MAX_POSITIONS_PER_LEXEME
                {
                    last.positions.push(position);
                }
                *occurrences_of.entry(term).or_insert(1) += 1;
            }
            _ => lexemes.push(IndexedLexeme {
                text: term,
                positions: vec![position],
            }),
        }
    }
    let mut document = IndexedDocument {
        lexemes,
        token_count: last_position,
    };
    fit_within_limits(&mut document, &occurrences_of);
    document
}

/// `occurrences_of` holds the terms seen more than once; the others were seen once.
fn fit_within_limits(document: &mut IndexedDocument, occurrences_of: &TermMap<u32>) {
    let mut keep_positions = MAX_POSITIONS_PER_LEXEME;
    while document.string_area_bytes() > MAX_STRING_AREA_BYTES && keep_positions > 1 {
        keep_positions /= 4;
        let keep = keep_positions.max(1);
        for lexeme in &mut document.lexemes {
            lexeme.positions.truncate(keep);
        }
    }
    if document.string_area_bytes() <= MAX_STRING_AREA_BYTES {
        return;
    }
    // Rarest and longest first; ties broken by the lexeme itself so the result does not depend
    // on hashing order.
    let mut least_worth_first: Vec<String> = document
        .lexemes
        .iter()
        .map(|lexeme| lexeme.text.clone())
        .collect();
    let occurrences = |text: &String| occurrences_of.get(text).copied().unwrap_or(1);
    least_worth_first.sort_by(|a, b| {
        occurrences(a)
            .cmp(&occurrences(b))
            .then(b.len().cmp(&a.len()))
            .then_with(|| a.cmp(b))
    });
    let mut candidates = least_worth_first.into_iter();
    let mut doomed: HashSet<String> = HashSet::new();
    loop {
        let excess = document
            .string_area_bytes()
            .saturating_sub(MAX_STRING_AREA_BYTES);
        if excess == 0 {
            break;
        }
        // Each removal frees at least its bytes plus its position data; overshoot a little so
        // that the rare alignment byte never costs another pass.
        let mut freed = 0usize;
        for text in candidates.by_ref() {
            freed += text.len() + 4;
            doomed.insert(text);
            if freed > excess + excess / 16 + 64 {
                break;
            }
        }
        if freed == 0 {
            break;
        }
        document
            .lexemes
            .retain(|lexeme| !doomed.contains(&lexeme.text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsvector::TsVectorView;

    #[test]
    fn groups_positions_by_lexeme_in_postgresql_order() {
        let document = index_document("the handler calls handler.rs");
        let rendered: Vec<(&str, &[u16])> = document
            .lexemes
            .iter()
            .map(|l| (l.text.as_str(), l.positions.as_slice()))
            .collect();
        assert_eq!(
            rendered,
            [("call", &[3][..]), ("handler", &[2, 4]), ("rs", &[5])]
        );
        assert_eq!(document.token_count, 5);
    }

    #[test]
    fn encodes_to_a_valid_tsvector() {
        let document = index_document("Fix E0382 in src/lib.rs: value borrowed after move");
        let payload = document.to_tsvector_payload().unwrap();
        let view = TsVectorView::new(&payload).unwrap();
        assert!(view.find(b"e0382").unwrap().is_some());
        assert!(view.find(b"src").unwrap().is_some() && view.find(b"lib").unwrap().is_some());
        assert!(
            view.find(b"src/lib.rs").unwrap().is_none(),
            "compounds are found through their parts"
        );
        assert!(view.find(b"borrow").unwrap().is_some());
    }

    #[test]
    fn positions_are_capped_like_postgresql_does() {
        let text = "word ".repeat(20_000);
        let document = index_document(&text);
        let word = &document.lexemes[0];
        assert_eq!(word.positions.len(), MAX_POSITIONS_PER_LEXEME);
        assert!(word.positions.iter().all(|&p| p <= MAX_POSITION));
        assert_eq!(document.token_count, 20_000);
    }

    #[test]
    fn a_huge_document_still_fits_in_a_tsvector() {
        // ~1 MB of distinct identifiers: more lexemes and positions than a tsvector holds.
        let text: String = (0..120_000)
            .map(|i| format!("identifier_{i:06} "))
            .collect();
        let document = index_document(&text);
        assert!(document.string_area_bytes() <= MAX_STRING_AREA_BYTES);
        assert!(document.to_tsvector_payload().is_ok());
        assert!(document.lexemes.iter().any(|l| l.text == "identifi"));
    }

    #[test]
    fn an_empty_text_is_an_empty_document() {
        assert_eq!(index_document(""), IndexedDocument::default());
        assert_eq!(index_document(" ... !!! "), IndexedDocument::default());
    }
}
