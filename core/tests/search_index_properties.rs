//! The search index against a brute-force reference: for random documents spread over segments,
//! deletions and a pending list, and random queries, projects and pages of results, the index must
//! rank exactly as scoring every document one by one does, with the same statistics.

use std::collections::BTreeSet;

use cco_core::search::Bm25;
use cco_core::search_index::merge::{merge_segments, MergeInput};
use cco_core::search_index::pages::MemoryPages;
use cco_core::search_index::postings::{document_key, Tid};
use cco_core::search_index::search::{
    matching, statistics, top, Plan, Projects, Ranked, Scorer, SegmentView, TopRequest,
};
use cco_core::search_index::segment::{build_segment, Document, Segment};
use cco_core::tsquery::{TsQuery, TsQueryNode};
use proptest::prelude::*;

const WORDS: [&str; 12] = [
    "alpha", "alps", "beta", "bet", "gamma", "delta", "epsilon", "error", "err", "handler", "x",
    "zeta",
];

fn word() -> impl Strategy<Value = usize> {
    // Skewed, so some words are common and some rare.
    prop_oneof![4 => 0..3usize, 2 => 0..8usize, 1 => 0..WORDS.len()]
}

fn make_document(block: u32, project: u8, words: &[usize]) -> Document {
    let mut positions: std::collections::BTreeMap<&[u8], Vec<u16>> =
        std::collections::BTreeMap::new();
    for (at, &w) in words.iter().enumerate() {
        positions
            .entry(WORDS[w].as_bytes())
            .or_default()
            .push(at as u16 + 1);
    }
    let mut document = Document::new(
        Tid {
            block,
            offset: 1 + (block % 3) as u16,
        },
        [project; 16],
        words.len() as u32,
    );
    for (term, at) in positions {
        document.push_term_at(term, at.len() as u32, &at).unwrap();
    }
    document
}

/// A phrase's words with their distances from the first, and its width.
type Chain = (Vec<(Vec<u8>, u16)>, u16);

/// A phrase of plain words as (word, distance from the first), and its width.
fn chain(node: &TsQueryNode) -> Option<Chain> {
    match node {
        TsQueryNode::Operand {
            lexeme,
            prefix: false,
            weights: 0,
        } => Some((vec![(lexeme.clone(), 0)], 0)),
        TsQueryNode::Phrase(left, right, distance) => {
            let (mut words, width) = chain(left)?;
            let (more, more_width) = chain(right)?;
            words.extend(
                more.into_iter()
                    .map(|(word, offset)| (word, offset + width + distance)),
            );
            Some((words, width + distance + more_width))
        }
        _ => None,
    }
}

fn query_node() -> impl Strategy<Value = TsQueryNode> {
    let leaf = (
        0..WORDS.len(),
        any::<bool>(),
        prop_oneof![8 => Just(0u8), 1 => Just(8u8)],
    )
        .prop_map(|(w, prefix, weights)| TsQueryNode::Operand {
            lexeme: WORDS[w].as_bytes()[..if prefix {
                2.min(WORDS[w].len())
            } else {
                WORDS[w].len()
            }]
                .to_vec(),
            prefix,
            weights,
        });
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| TsQueryNode::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| TsQueryNode::Or(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| TsQueryNode::Phrase(
                Box::new(a),
                Box::new(b),
                1
            )),
            inner.prop_map(|a| TsQueryNode::Not(Box::new(a))),
        ]
    })
}

#[derive(Debug, Clone)]
struct Case {
    documents: Vec<(u8, Vec<usize>)>,
    cuts: Vec<usize>,
    pending: usize,
    deleted: Vec<usize>,
    merge: bool,
    query: TsQueryNode,
    terms: BTreeSet<usize>,
    projects: Option<BTreeSet<u8>>,
    limit: usize,
    pages: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((0..4u8, prop::collection::vec(word(), 1..30)), 1..400),
        prop::collection::vec(1..200usize, 0..4),
        0..50usize,
        prop::collection::vec(0..400usize, 0..40),
        any::<bool>(),
        query_node(),
        prop::collection::btree_set(0..WORDS.len(), 0..4),
        // Up to every project (and one more that holds nothing): a scope that covers a whole segment
        // is searched without project restrictions.
        prop::option::of(prop::collection::btree_set(0..5u8, 0..6)),
        1..60usize,
        1..4usize,
        prop::option::weighted(0.3, 0..WORDS.len()),
    )
        .prop_map(
            |(
                documents,
                cuts,
                pending,
                deleted,
                merge,
                query,
                terms,
                projects,
                limit,
                pages,
                single,
            )| {
                // Often the most common search: one word, ranked by itself.
                let (query, terms) = match single {
                    Some(w) => (
                        TsQueryNode::Operand {
                            lexeme: WORDS[w].as_bytes().to_vec(),
                            prefix: false,
                            weights: 0,
                        },
                        BTreeSet::from([w]),
                    ),
                    None => (query, terms),
                };
                Case {
                    documents,
                    cuts,
                    pending,
                    deleted,
                    merge,
                    query,
                    terms,
                    projects,
                    limit,
                    pages,
                }
            },
        )
}

struct Built {
    pages: MemoryPages,
    segments: Vec<SegmentView>,
    pending: Vec<Document>,
    /// Every document still there (not deleted), as the reference sees it.
    live: Vec<Document>,
    /// No segment holds a deleted document (none was deleted, or a merge dropped them).
    clean: bool,
}

fn build(case: &Case) -> Built {
    let documents: Vec<Document> = case
        .documents
        .iter()
        .enumerate()
        .map(|(i, (project, words))| make_document(i as u32, *project, words))
        .collect();
    let pending_from = documents.len().saturating_sub(case.pending);
    let pages = MemoryPages::new();
    let mut segments = Vec::new();
    let mut start = 0;
    let mut cuts = case.cuts.iter().copied().cycle();
    let deleted: BTreeSet<usize> = case
        .deleted
        .iter()
        .copied()
        .filter(|&i| i < pending_from)
        .collect();
    while start < pending_from {
        let end = (start + cuts.next().unwrap_or(pending_from)).min(pending_from);
        let chunk = documents[start..end].to_vec();
        let location = build_segment(&pages, chunk.clone()).unwrap().unwrap();
        let segment = Segment::open(&pages, location.header).unwrap();
        let mut gone = Vec::new();
        for (offset, document) in chunk.iter().enumerate() {
            if deleted.contains(&(start + offset)) {
                let number = segment.project(&document.project).unwrap().unwrap().number;
                gone.push((document_key(number, document.tid), document.length));
            }
        }
        gone.sort_unstable();
        segments.push(SegmentView {
            header: location.header,
            deleted: gone,
        });
        start = end;
    }
    if case.merge {
        let inputs: Vec<MergeInput> = segments
            .iter()
            .map(|view| MergeInput {
                header: view.header,
                deleted: view.deleted.iter().map(|(key, _)| *key).collect(),
            })
            .collect();
        segments = match merge_segments(&pages, &inputs).unwrap() {
            Some(merged) => vec![SegmentView {
                header: merged.header,
                deleted: Vec::new(),
            }],
            None => Vec::new(),
        };
    }
    let live = documents
        .iter()
        .enumerate()
        .filter(|(i, _)| !deleted.contains(i))
        .map(|(_, d)| d.clone())
        .collect();
    let clean = segments.iter().all(|view| view.deleted.is_empty());
    Built {
        pages,
        segments,
        pending: documents[pending_from..].to_vec(),
        live,
        clean,
    }
}

/// What PostgreSQL's @@ decides for a document without positions or weights, where it can: plain
/// words, AND, OR, NOT. `None` for what needs positions or weights.
fn exact_match(node: &TsQueryNode, document: &Document) -> Option<bool> {
    Some(match node {
        TsQueryNode::Operand {
            lexeme,
            prefix: false,
            weights: 0,
        } => document.frequency(lexeme) > 0,
        TsQueryNode::Phrase(..) => {
            let (words, _) = chain(node)?;
            let first = document.positions(&words[0].0)?;
            first.iter().any(|&p| {
                words.iter().all(|(word, offset)| {
                    document
                        .positions(word)
                        .is_some_and(|at| at.contains(&(p + offset)))
                })
            })
        }
        TsQueryNode::Operand { .. } => return None,
        TsQueryNode::Not(child) => !exact_match(child, document)?,
        TsQueryNode::And(left, right) => {
            exact_match(left, document)? & exact_match(right, document)?
        }
        TsQueryNode::Or(left, right) => {
            exact_match(left, document)? | exact_match(right, document)?
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(300), ..ProptestConfig::default() })]

    #[test]
    fn the_index_ranks_exactly_like_scoring_every_document(case in case()) {
        let built = build(&case);
        let projects = match &case.projects {
            None => Projects::All,
            Some(set) => Projects::Only(set.iter().map(|p| [*p; 16]).collect()),
        };
        let terms: Vec<Vec<u8>> = case.terms.iter().map(|&w| WORDS[w].as_bytes().to_vec()).collect();
        let (plan, exact) = Plan::from_tsquery_exactly(&TsQuery::Tree(case.query.clone()));
        for document in &built.live {
            let relaxed = plan.matches(document);
            match exact_match(&case.query, document) {
                Some(truth) if exact => prop_assert_eq!(relaxed, truth, "an exact plan decides like the query"),
                Some(truth) => prop_assert!(relaxed || !truth, "a relaxed plan matches everything the query matches"),
                None => prop_assert!(!exact, "a query that needs what postings lack is never called exact"),
            }
        }

        let stats = statistics(&built.pages, &built.segments, &built.pending, &projects, &terms).unwrap();
        let visible: Vec<&Document> = built.live.iter().filter(|d| projects.contains(&d.project)).collect();
        prop_assert_eq!(stats.documents, visible.len() as u64);
        prop_assert_eq!(stats.total_length, visible.iter().map(|d| u64::from(d.length)).sum::<u64>());
        // Until a merge, a deleted document still counts in term frequencies.
        if built.clean {
            for (index, term) in terms.iter().enumerate() {
                let expected = visible.iter().filter(|d| d.frequency(term) > 0).count() as u64;
                prop_assert_eq!(stats.frequencies[index], expected);
            }
        }
        let scorer = Scorer::new(Bm25::default(), stats.documents, stats.total_length, &stats.frequencies);

        let mut expected: Vec<Ranked> = visible
            .iter()
            .filter(|d| plan.matches(d))
            .map(|d| {
                let frequencies: Vec<u32> = terms.iter().map(|t| d.frequency(t)).collect();
                Ranked { score: scorer.score(&frequencies, d.length), tid: d.tid }
            })
            .collect();
        expected.sort_by(Ranked::order);

        let mut found = matching(&built.pages, &built.segments, &built.pending, &plan, &projects).unwrap();
        found.sort();
        let mut wanted: Vec<Tid> = expected.iter().map(|r| r.tid).collect();
        wanted.sort();
        prop_assert_eq!(found, wanted);

        let mut after = None;
        let mut paged = Vec::new();
        for _ in 0..case.pages {
            let request = TopRequest { plan: &plan, terms: &terms, scorer: &scorer, projects: &projects, limit: case.limit, after };
            let page = top(&built.pages, &built.segments, &built.pending, &request).unwrap();
            after = page.last().copied().or(after);
            let done = page.len() < case.limit;
            paged.extend(page);
            if done {
                break;
            }
        }
        let reference: Vec<Ranked> = expected.into_iter().take(paged.len().max(case.limit.min(visible.len()))).collect();
        prop_assert_eq!(paged.len(), reference.len().min(case.limit * case.pages));
        for (got, want) in paged.iter().zip(&reference) {
            prop_assert_eq!(got.tid, want.tid);
            prop_assert_eq!(got.score.to_bits(), want.score.to_bits());
        }
    }
}

#[test]
fn a_common_term_is_ranked_without_reading_most_of_its_blocks() {
    // 20,000 documents hold "common"; a few short ones hold it often. The top ten come from the
    // blocks with the best impacts, and the answer is the brute-force one.
    let pages = MemoryPages::new();
    let documents: Vec<Document> = (0..20_000u32)
        .map(|i| {
            let words: Vec<usize> = if i % 997 == 0 {
                vec![7, 7, 7]
            } else {
                vec![7, 0, 1, 2, 3, 4, 5, 6, 8, 9]
            };
            make_document(i, (i % 3) as u8, &words)
        })
        .collect();
    let location = build_segment(&pages, documents.clone()).unwrap().unwrap();
    let segments = vec![SegmentView {
        header: location.header,
        deleted: Vec::new(),
    }];
    let terms = vec![b"error".to_vec()];
    let stats = statistics(&pages, &segments, &[], &Projects::All, &terms).unwrap();
    assert_eq!(stats.frequencies, [20_000]);
    let scorer = Scorer::new(
        Bm25::default(),
        stats.documents,
        stats.total_length,
        &stats.frequencies,
    );
    let plan = Plan::Term(b"error".to_vec());
    let request = TopRequest {
        plan: &plan,
        terms: &terms,
        scorer: &scorer,
        projects: &Projects::All,
        limit: 10,
        after: None,
    };
    let found = top(&pages, &segments, &[], &request).unwrap();
    let best: Vec<u32> = found.iter().map(|r| r.tid.block).collect();
    assert_eq!(best, (0..10).map(|i| i * 997).collect::<Vec<_>>());
}
