//! BM25 ranking, with the non-negative IDF variant so that very common terms never count against
//! a document.

/// The two BM25 parameters: term-frequency saturation and length normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bm25 {
    pub k1: f64,
    pub b: f64,
}

impl Default for Bm25 {
    fn default() -> Self {
        Bm25 { k1: 1.2, b: 0.75 }
    }
}

/// What ranking needs to know about the searched corpus.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CorpusStats {
    /// Number of documents searched.
    pub documents: f64,
    /// Their average length in word positions.
    pub average_length: f64,
}

impl Bm25 {
    /// Inverse document frequency of a term found in `document_frequency` of the documents.
    pub fn idf(&self, document_frequency: f64, corpus: &CorpusStats) -> f64 {
        let n = if corpus.documents.is_finite() {
            corpus.documents.max(0.0)
        } else {
            0.0
        };
        let df = if document_frequency.is_finite() {
            document_frequency.max(0.0)
        } else {
            n
        };
        (1.0 + (n - df + 0.5).max(0.0) / (df + 0.5)).ln()
    }

    /// The score of one document: `terms` holds, per query term, its frequency in the document
    /// and its document frequency in the corpus.
    pub fn score(
        &self,
        terms: impl IntoIterator<Item = (u32, f64)>,
        length: u32,
        corpus: &CorpusStats,
    ) -> f32 {
        let average = if corpus.average_length > 0.0 {
            corpus.average_length
        } else {
            1.0
        };
        let k1 = if self.k1.is_finite() {
            self.k1.max(0.0)
        } else {
            1.2
        };
        let b = if self.b.is_finite() {
            self.b.clamp(0.0, 1.0)
        } else {
            0.75
        };
        let norm = k1 * (1.0 - b + b * f64::from(length) / average);
        let total: f64 = terms
            .into_iter()
            .filter(|&(frequency, _)| frequency > 0)
            .map(|(frequency, df)| {
                let tf = f64::from(frequency);
                self.idf(df, corpus) * tf * (k1 + 1.0) / (tf + norm)
            })
            .sum();
        if total.is_finite() {
            total as f32
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: CorpusStats = CorpusStats {
        documents: 1000.0,
        average_length: 50.0,
    };

    #[test]
    fn rare_terms_weigh_more_than_common_ones() {
        let bm25 = Bm25::default();
        assert!(bm25.score([(1, 5.0)], 50, &CORPUS) > bm25.score([(1, 500.0)], 50, &CORPUS));
    }

    #[test]
    fn more_occurrences_help_with_diminishing_returns() {
        let bm25 = Bm25::default();
        let one = bm25.score([(1, 10.0)], 50, &CORPUS);
        let two = bm25.score([(2, 10.0)], 50, &CORPUS);
        let twenty = bm25.score([(20, 10.0)], 50, &CORPUS);
        assert!(one < two && two < twenty && twenty < one * (1.2 + 1.0) as f32);
    }

    #[test]
    fn shorter_documents_win_at_equal_frequency() {
        let bm25 = Bm25::default();
        assert!(bm25.score([(1, 10.0)], 10, &CORPUS) > bm25.score([(1, 10.0)], 500, &CORPUS));
    }

    #[test]
    fn degenerate_statistics_never_give_nan_or_negative_scores() {
        let bm25 = Bm25::default();
        for corpus in [
            CorpusStats {
                documents: 0.0,
                average_length: 0.0,
            },
            CorpusStats {
                documents: 10.0,
                average_length: f64::NAN,
            },
            CorpusStats {
                documents: 1.0,
                average_length: 1.0,
            },
        ] {
            for df in [0.0, 1.0, 50.0, -3.0] {
                let score = bm25.score([(3, df)], 0, &corpus);
                assert!(score.is_finite() && score >= 0.0, "{corpus:?} {df}");
            }
        }
        let odd = Bm25 {
            k1: f64::NAN,
            b: 7.0,
        };
        assert!(odd.score([(1, 1.0)], 10, &CORPUS).is_finite());
    }

    #[test]
    fn matches_the_formula() {
        let bm25 = Bm25::default();
        let idf = (1.0f64 + (1000.0 - 10.0 + 0.5) / (10.0 + 0.5)).ln();
        let expected = idf * 2.0 * 2.2 / (2.0 + 1.2 * (1.0 - 0.75 + 0.75 * 100.0 / 50.0));
        assert!((f64::from(bm25.score([(2, 10.0)], 100, &CORPUS)) - expected).abs() < 1e-4);
    }
}
