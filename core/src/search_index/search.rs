//! Searching the index.
//!
//! A scan is given a PostgreSQL `tsquery` (what must match) and ranking terms with corpus
//! statistics (how to score). Postings record which terms a document holds but not where, so the
//! tsquery is first *relaxed* to what postings can decide: a phrase needs all its words, a
//! negated word excludes, anything else negated or weighted is left to the recheck PostgreSQL
//! does on each row. The relaxed query matches a superset of the real one; PostgreSQL rechecks.
//!
//! Ranking is BM25 over the caller's visible projects. `top` finds the k best documents
//! segment by segment, keeping the k-th best score found so far as a threshold; before reading a
//! stretch of keys it adds up the best score each ranking term's current block allows, and skips
//! the stretch when even that cannot beat the threshold (block-max pruning). Pending documents are
//! few and scored one by one.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use super::pages::{PageSource, Pointer};
use super::postings::{key_tid, KeyRanges, PostingCursor, Tid};
use super::segment::{Document, ProjectEntry, ProjectId, Segment};
use super::IndexError;
use crate::search::Bm25;
use crate::tsquery::{TsQuery, TsQueryNode};

/// A prefix matching more terms than this in one segment is treated as matching anything there.
const MAX_PREFIX_TERMS: usize = 10_000;

/// The projects a search covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projects {
    All,
    Only(BTreeSet<ProjectId>),
}

impl Projects {
    pub fn contains(&self, project: &ProjectId) -> bool {
        match self {
            Projects::All => true,
            Projects::Only(projects) => projects.contains(project),
        }
    }
}

/// What postings can decide of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Nothing,
    Everything,
    Term(Vec<u8>),
    Prefix(Vec<u8>),
    /// Words at fixed distances from the first: a phrase of plain words, decided by positions.
    Phrase(Vec<(Vec<u8>, u16)>),
    /// All of the first, none of the second.
    And(Vec<Plan>, Vec<Exclusion>),
    Or(Vec<Plan>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    Term(Vec<u8>),
    Prefix(Vec<u8>),
    Phrase(Vec<(Vec<u8>, u16)>),
}

/// Whether a phrase's words stand at their distances in a document. A word stored without
/// positions makes the answer "maybe", as in PostgreSQL, which counts that as a match: `maybe`
/// says what to answer then.
pub fn phrase_at(positions: &[&[u16]], offsets: &[u16], maybe: bool) -> bool {
    if positions.iter().any(|list| list.is_empty()) {
        return maybe;
    }
    positions[0].iter().any(|&first| {
        positions
            .iter()
            .zip(offsets)
            .skip(1)
            .all(|(list, &offset)| {
                u32::from(first) + u32::from(offset) <= u32::from(u16::MAX)
                    && list.binary_search(&(first + offset)).is_ok()
            })
    })
}

fn document_has_phrase(document: &Document, phrase: &[(Vec<u8>, u16)], maybe: bool) -> bool {
    let mut positions = Vec::with_capacity(phrase.len());
    for (term, _) in phrase {
        match document.positions(term) {
            Some(list) => positions.push(list),
            None => return false,
        }
    }
    let offsets: Vec<u16> = phrase.iter().map(|(_, offset)| *offset).collect();
    phrase_at(&positions, &offsets, maybe)
}

impl Plan {
    /// The relaxed form of a tsquery: it matches every document the tsquery matches.
    pub fn from_tsquery(query: &TsQuery) -> Plan {
        Self::from_tsquery_exactly(query).0
    }

    /// The relaxed form, and whether it matches exactly what the tsquery matches (no phrase,
    /// weight, prefix or negation that postings cannot decide), so no row needs a recheck.
    pub fn from_tsquery_exactly(query: &TsQuery) -> (Plan, bool) {
        match query {
            TsQuery::Empty => (Plan::Nothing, true),
            TsQuery::TooComplex => (Plan::Everything, false),
            TsQuery::Tree(node) => (relax(node, false), is_exact(node)),
        }
    }

    /// Documents holding any of the terms (what an ordering without a condition ranks first).
    pub fn any_of(terms: &[Vec<u8>]) -> Plan {
        match terms.len() {
            0 => Plan::Nothing,
            1 => Plan::Term(terms[0].clone()),
            _ => Plan::Or(terms.iter().cloned().map(Plan::Term).collect()),
        }
    }

    /// Documents holding none of the terms.
    pub fn none_of(terms: &[Vec<u8>]) -> Plan {
        Plan::And(
            vec![Plan::Everything],
            terms.iter().cloned().map(Exclusion::Term).collect(),
        )
    }

    /// Whether the relaxed query matches a document.
    pub fn matches(&self, document: &Document) -> bool {
        match self {
            Plan::Nothing => false,
            Plan::Everything => true,
            Plan::Term(term) => document.frequency(term) > 0,
            Plan::Prefix(prefix) => document.has_prefix(prefix),
            Plan::Phrase(phrase) => document_has_phrase(document, phrase, true),
            Plan::And(all, none) => {
                all.iter().all(|plan| plan.matches(document))
                    && !none.iter().any(|exclusion| match exclusion {
                        Exclusion::Term(term) => document.frequency(term) > 0,
                        Exclusion::Prefix(prefix) => document.has_prefix(prefix),
                        Exclusion::Phrase(phrase) => document_has_phrase(document, phrase, false),
                    })
            }
            Plan::Or(any) => any.iter().any(|plan| plan.matches(document)),
        }
    }
}

/// Whether relaxing loses nothing: plain words combined with AND, OR and negated plain words
/// under AND.
fn is_exact(node: &TsQueryNode) -> bool {
    match node {
        TsQueryNode::Operand {
            prefix, weights, ..
        } => !prefix && *weights == 0,
        TsQueryNode::Phrase(..) | TsQueryNode::Not(_) => false,
        TsQueryNode::Or(left, right) => is_exact(left) && is_exact(right),
        TsQueryNode::And(left, right) => [left, right].iter().all(|child| match child.as_ref() {
            TsQueryNode::Not(negated) => matches!(
                negated.as_ref(),
                TsQueryNode::Operand {
                    prefix: false,
                    weights: 0,
                    ..
                }
            ),
            other => is_exact(other),
        }),
    }
}

/// A phrase's words with their distances from the first, and its width (the distance from its
/// first word to its last).
type PhraseChain = (Vec<(Vec<u8>, u16)>, u16);

/// A phrase of plain words (no weights, prefixes or other operators inside) as words and their
/// distances from the first, and its width (the distance from its first word to its last).
fn phrase_chain(node: &TsQueryNode) -> Option<PhraseChain> {
    match node {
        TsQueryNode::Operand {
            lexeme,
            prefix: false,
            weights: 0,
        } => Some((vec![(lexeme.clone(), 0)], 0)),
        TsQueryNode::Phrase(left, right, distance) => {
            let (mut words, left_width) = phrase_chain(left)?;
            let (right_words, right_width) = phrase_chain(right)?;
            let shift = left_width.checked_add(*distance)?;
            for (word, offset) in right_words {
                words.push((word, offset.checked_add(shift)?));
            }
            Some((words, shift.checked_add(right_width)?))
        }
        _ => None,
    }
}

fn operand(lexeme: &[u8], prefix: bool) -> Plan {
    match (prefix, lexeme.is_empty()) {
        (true, true) => Plan::Everything,
        (true, false) => Plan::Prefix(lexeme.to_vec()),
        (false, _) => Plan::Term(lexeme.to_vec()),
    }
}

fn conjunction(children: [&TsQueryNode; 2], in_phrase: bool) -> Plan {
    let mut all = Vec::new();
    let mut none = Vec::new();
    for child in children {
        match child {
            // A negated plain word is decided exactly: no document holding it matches. Inside a
            // phrase a negation is about positions, which postings do not have.
            TsQueryNode::Not(negated) if !in_phrase => {
                if let TsQueryNode::Operand {
                    lexeme,
                    prefix,
                    weights: 0,
                } = negated.as_ref()
                {
                    none.push(if *prefix {
                        Exclusion::Prefix(lexeme.clone())
                    } else {
                        Exclusion::Term(lexeme.clone())
                    });
                } else if let Some((phrase, _)) = phrase_chain(negated) {
                    none.push(Exclusion::Phrase(phrase));
                }
            }
            _ => match relax(child, in_phrase) {
                Plan::Nothing => return Plan::Nothing,
                Plan::Everything => {}
                Plan::And(more, excluded) => {
                    all.extend(more.into_iter().filter(|plan| *plan != Plan::Everything));
                    none.extend(excluded);
                }
                plan => all.push(plan),
            },
        }
    }
    if none
        .iter()
        .any(|exclusion| matches!(exclusion, Exclusion::Prefix(prefix) if prefix.is_empty()))
    {
        return Plan::Nothing;
    }
    match (all.len(), none.is_empty()) {
        (0, true) => Plan::Everything,
        (1, true) => all.pop().expect("one plan"),
        (0, false) => Plan::And(vec![Plan::Everything], none),
        _ => Plan::And(all, none),
    }
}

fn relax(node: &TsQueryNode, in_phrase: bool) -> Plan {
    match node {
        TsQueryNode::Operand { lexeme, prefix, .. } => operand(lexeme, *prefix),
        // Alone, or under OR, a negation matches almost everything.
        TsQueryNode::Not(_) => Plan::Everything,
        TsQueryNode::And(left, right) => conjunction([left, right], in_phrase),
        TsQueryNode::Phrase(left, right, _) => match phrase_chain(node) {
            Some((phrase, _)) => Plan::Phrase(phrase),
            None => conjunction([left, right], true),
        },
        TsQueryNode::Or(left, right) => {
            let mut any = Vec::new();
            for child in [left, right] {
                match relax(child, in_phrase) {
                    Plan::Everything => return Plan::Everything,
                    Plan::Nothing => {}
                    Plan::Or(more) => any.extend(more),
                    plan => any.push(plan),
                }
            }
            match any.len() {
                0 => Plan::Nothing,
                1 => any.pop().expect("one plan"),
                _ => Plan::Or(any),
            }
        }
    }
}

/// BM25 with the statistics of one search, precomputed per term.
#[derive(Debug, Clone, PartialEq)]
pub struct Scorer {
    idf: Vec<f64>,
    k1: f64,
    b: f64,
    average_length: f64,
}

impl Scorer {
    /// `frequencies[i]` is the number of documents holding term `i`.
    pub fn new(bm25: Bm25, documents: u64, total_length: u64, frequencies: &[u64]) -> Scorer {
        let corpus = crate::search::CorpusStats {
            documents: documents as f64,
            average_length: if documents > 0 {
                total_length as f64 / documents as f64
            } else {
                0.0
            },
        };
        let k1 = if bm25.k1.is_finite() {
            bm25.k1.max(0.0)
        } else {
            1.2
        };
        let b = if bm25.b.is_finite() {
            bm25.b.clamp(0.0, 1.0)
        } else {
            0.75
        };
        Scorer {
            idf: frequencies
                .iter()
                .map(|&df| bm25.idf(df as f64, &corpus))
                .collect(),
            k1,
            b,
            average_length: if corpus.average_length > 0.0 {
                corpus.average_length
            } else {
                1.0
            },
        }
    }

    pub fn terms(&self) -> usize {
        self.idf.len()
    }

    fn norm(&self, length: u32) -> f64 {
        self.k1 * (1.0 - self.b + self.b * f64::from(length) / self.average_length)
    }

    fn term_score(&self, term: usize, frequency: u32, norm: f64) -> f64 {
        let tf = f64::from(frequency);
        self.idf[term] * tf * (self.k1 + 1.0) / (tf + norm)
    }

    /// The best score a document with this frequency of `term` and this length can get from it.
    pub fn bound(&self, term: usize, frequency: u32, length: u32) -> f64 {
        if frequency == 0 {
            0.0
        } else {
            self.term_score(term, frequency, self.norm(length))
        }
    }

    /// A document's score: `frequencies[i]` of term `i` (0 when absent), and its length. Terms
    /// are added in order, so the index and a row-by-row computation get the same bits.
    pub fn score(&self, frequencies: &[u32], length: u32) -> f64 {
        let norm = self.norm(length);
        let mut total = 0.0;
        for (term, &frequency) in frequencies.iter().enumerate().take(self.idf.len()) {
            if frequency > 0 {
                total += self.term_score(term, frequency, norm);
            }
        }
        if total.is_finite() {
            total
        } else {
            0.0
        }
    }
}

/// A segment as a search sees it: where it is and what of it is gone (keys ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentView {
    pub header: Pointer,
    pub deleted: Vec<(u64, u32)>,
}

/// A segment opened for one search: its key ranges and its deleted keys within them.
struct Opened<'s, S: PageSource> {
    segment: Segment<'s, S>,
    ranges: KeyRanges,
    /// The search covers every project of the segment, so its lists are read whole.
    whole: bool,
    deleted: Vec<u64>,
    documents: u64,
    length: u64,
    values: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'s, S: PageSource> Opened<'s, S> {
    fn open(
        source: &'s S,
        view: &SegmentView,
        projects: &Projects,
    ) -> Result<Opened<'s, S>, IndexError> {
        let segment = Segment::open(source, view.header)?;
        let (ranges, whole, mut documents, mut length) = match projects {
            Projects::All => (
                KeyRanges::all(),
                true,
                segment.documents,
                segment.total_length,
            ),
            Projects::Only(ids) => {
                let mut numbers = Vec::new();
                let (mut documents, mut length) = (0, 0);
                let mut add = |entry: &ProjectEntry| {
                    numbers.push(entry.number);
                    documents += entry.documents;
                    length += entry.length;
                };
                // Looking each project up costs a tree descent; when the search covers a good
                // share (half) of the segment's projects, reading the segment's list once is cheaper.
                if (ids.len() as u64).saturating_mul(2) >= segment.project_count {
                    for (id, entry) in segment.projects()? {
                        if ids.contains(&id) {
                            add(&entry);
                        }
                    }
                } else {
                    for id in ids {
                        if let Some(entry) = segment.project(id)? {
                            add(&entry);
                        }
                    }
                }
                // Someone who may read every project of the segment (a developer who owns all
                // their projects) searches it as a whole: lists unrestricted, lengths as stored.
                if numbers.len() as u64 == segment.project_count {
                    (
                        KeyRanges::all(),
                        true,
                        segment.documents,
                        segment.total_length,
                    )
                } else {
                    (KeyRanges::of_projects(numbers), false, documents, length)
                }
            }
        };
        let mut deleted = Vec::new();
        for &(key, deleted_length) in &view.deleted {
            if ranges.contains(key) {
                deleted.push(key);
                documents = documents.saturating_sub(1);
                length = length.saturating_sub(u64::from(deleted_length));
            }
        }
        Ok(Opened {
            segment,
            ranges,
            whole,
            deleted,
            documents,
            length,
            values: HashMap::new(),
        })
    }

    fn is_deleted(&self, key: u64) -> bool {
        self.deleted.binary_search(&key).is_ok()
    }

    fn value(&mut self, term: &[u8]) -> Result<Option<Vec<u8>>, IndexError> {
        if let Some(value) = self.values.get(term) {
            return Ok(value.clone());
        }
        let value = self.segment.term(term)?;
        self.values.insert(term.to_vec(), value.clone());
        Ok(value)
    }

    fn cursor(&mut self, term: &[u8]) -> Result<Option<PostingCursor>, IndexError> {
        match self.value(term)? {
            None => Ok(None),
            Some(value) => {
                let mut cursor = PostingCursor::open(self.segment.source(), &value, &self.ranges)?;
                Ok((!cursor.is_empty(self.segment.source())?).then_some(cursor))
            }
        }
    }

    fn everything(&self) -> Result<PostingCursor, IndexError> {
        PostingCursor::open(
            self.segment.source(),
            self.segment.all_documents(),
            &self.ranges,
        )
    }

    fn prefix(&mut self, prefix: &[u8]) -> Result<Live, IndexError> {
        let mut terms = Vec::new();
        let mut cursor = self.segment.terms_from(prefix)?;
        while let Some((term, _)) = cursor.next()? {
            if !term.starts_with(prefix) {
                break;
            }
            if terms.len() == MAX_PREFIX_TERMS {
                return Ok(Live::Cursor(self.everything()?));
            }
            terms.push(term);
        }
        let mut slots = Vec::new();
        for term in terms {
            if let Some(cursor) = self.cursor(&term)? {
                slots.push(Slot::new(Live::Cursor(cursor)));
            }
        }
        Ok(if slots.is_empty() {
            Live::Nothing
        } else {
            Live::Union(slots)
        })
    }

    /// A phrase over this segment: a cursor per word (the same word twice gets two).
    fn phrase(&mut self, phrase: &[(Vec<u8>, u16)], maybe: bool) -> Result<Live, IndexError> {
        let mut cursors = Vec::with_capacity(phrase.len());
        for (term, _) in phrase {
            match self.cursor(term)? {
                Some(cursor) => cursors.push(cursor),
                None => return Ok(Live::Nothing),
            }
        }
        Ok(Live::Phrase {
            cursors,
            offsets: phrase.iter().map(|(_, offset)| *offset).collect(),
            maybe,
        })
    }

    fn live(&mut self, plan: &Plan) -> Result<Live, IndexError> {
        Ok(match plan {
            Plan::Nothing => Live::Nothing,
            Plan::Everything => Live::Cursor(self.everything()?),
            Plan::Term(term) => self.cursor(term)?.map_or(Live::Nothing, Live::Cursor),
            Plan::Prefix(prefix) => self.prefix(prefix)?,
            Plan::Phrase(phrase) => self.phrase(phrase, true)?,
            Plan::And(all, none) => {
                let mut required = Vec::with_capacity(all.len());
                for plan in all {
                    match self.live(plan)? {
                        Live::Nothing => return Ok(Live::Nothing),
                        live => required.push(live),
                    }
                }
                let mut excluded = Vec::new();
                for exclusion in none {
                    let live = match exclusion {
                        Exclusion::Term(term) => {
                            self.cursor(term)?.map_or(Live::Nothing, Live::Cursor)
                        }
                        Exclusion::Prefix(prefix) => self.prefix(prefix)?,
                        Exclusion::Phrase(phrase) => self.phrase(phrase, false)?,
                    };
                    if !matches!(live, Live::Nothing) {
                        excluded.push(live);
                    }
                }
                Live::Intersection(required, excluded)
            }
            Plan::Or(any) => {
                let mut slots = Vec::new();
                for plan in any {
                    match self.live(plan)? {
                        Live::Nothing => {}
                        live => slots.push(Slot::new(live)),
                    }
                }
                if slots.is_empty() {
                    Live::Nothing
                } else {
                    Live::Union(slots)
                }
            }
        })
    }
}

/// A relaxed query over one segment's postings: yields matching keys in ascending order.
// A cursor is the large variant and the one every search walks: kept inline, not boxed, so the
// hot loop does not follow a pointer; a query holds only a handful of these.
#[allow(clippy::large_enum_variant)]
enum Live {
    Nothing,
    Cursor(PostingCursor),
    Union(Vec<Slot>),
    Intersection(Vec<Live>, Vec<Live>),
    /// Documents holding every word, at its distance from the first (`maybe`: what to answer
    /// for a document stored without positions).
    Phrase {
        cursors: Vec<PostingCursor>,
        offsets: Vec<u16>,
        maybe: bool,
    },
}

struct Slot {
    live: Live,
    /// The child's next match at or after the last key asked, once asked; `None` when exhausted.
    current: Option<Option<u64>>,
}

impl Slot {
    fn new(live: Live) -> Slot {
        Slot {
            live,
            current: None,
        }
    }
}

impl Live {
    /// The first matching key at or after `from`.
    fn next<S: PageSource>(&mut self, source: &S, from: u64) -> Result<Option<u64>, IndexError> {
        match self {
            Live::Nothing => Ok(None),
            Live::Cursor(cursor) => Ok(cursor.advance(source, from)?.map(|posting| posting.key)),
            Live::Union(slots) => {
                let mut best: Option<u64> = None;
                for slot in slots.iter_mut() {
                    let stale = match slot.current {
                        None => true,
                        Some(Some(key)) => key < from,
                        Some(None) => false,
                    };
                    if stale {
                        slot.current = Some(slot.live.next(source, from)?);
                    }
                    if let Some(Some(key)) = slot.current {
                        best = Some(best.map_or(key, |best: u64| best.min(key)));
                    }
                }
                Ok(best)
            }
            Live::Phrase {
                cursors,
                offsets,
                maybe,
            } => {
                let mut target = from;
                'search: loop {
                    crate::interrupts::check(); // a common phrase can fail to match for long
                    for cursor in cursors.iter_mut() {
                        match cursor.advance(source, target)? {
                            None => return Ok(None),
                            Some(posting) if posting.key > target => {
                                target = posting.key;
                                continue 'search;
                            }
                            Some(_) => {}
                        }
                    }
                    let mut positions: Vec<&[u16]> = Vec::with_capacity(cursors.len());
                    // Each cursor's positions borrow it; collect them one cursor at a time.
                    let mut owned: Vec<Vec<u16>> = Vec::with_capacity(cursors.len());
                    for cursor in cursors.iter_mut() {
                        owned.push(cursor.positions()?.to_vec());
                    }
                    positions.extend(owned.iter().map(Vec::as_slice));
                    if phrase_at(&positions, offsets, *maybe) {
                        return Ok(Some(target));
                    }
                    match target.checked_add(1) {
                        Some(next) => target = next,
                        None => return Ok(None),
                    }
                }
            }
            Live::Intersection(required, excluded) => {
                let mut target = from;
                'search: loop {
                    for live in required.iter_mut() {
                        match live.next(source, target)? {
                            None => return Ok(None),
                            Some(key) if key > target => {
                                target = key;
                                continue 'search;
                            }
                            Some(_) => {}
                        }
                    }
                    for live in excluded.iter_mut() {
                        if live.next(source, target)? == Some(target) {
                            match target.checked_add(1) {
                                Some(next) => target = next,
                                None => return Ok(None),
                            }
                            continue 'search;
                        }
                    }
                    return Ok(Some(target));
                }
            }
        }
    }
}

/// Documents, numbers of documents and lengths within a search's projects, and how many of them
/// hold each ranking term: what BM25 needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Statistics {
    pub documents: u64,
    pub total_length: u64,
    pub frequencies: Vec<u64>,
}

/// Statistics over the projects a search covers. Deleted documents are left out of the document
/// count and total length at once; a term's document frequency still counts them until their
/// segment is merged.
pub fn statistics<S: PageSource>(
    source: &S,
    segments: &[SegmentView],
    pending: &[Document],
    projects: &Projects,
    terms: &[Vec<u8>],
) -> Result<Statistics, IndexError> {
    let mut statistics = Statistics {
        frequencies: vec![0; terms.len()],
        ..Statistics::default()
    };
    for view in segments {
        let mut opened = Opened::open(source, view, projects)?;
        if opened.ranges.is_empty() {
            continue;
        }
        statistics.documents += opened.documents;
        statistics.total_length += opened.length;
        for (index, term) in terms.iter().enumerate() {
            let Some(value) = opened.value(term)? else {
                continue;
            };
            let mut cursor = PostingCursor::open(source, &value, &opened.ranges)?;
            // Over every project the list says its length; over some, count their blocks.
            statistics.frequencies[index] += if opened.whole {
                cursor.total()
            } else {
                cursor.frequency(source)?
            };
        }
    }
    for document in pending
        .iter()
        .filter(|document| projects.contains(&document.project))
    {
        statistics.documents += 1;
        statistics.total_length += u64::from(document.length);
        for (index, term) in terms.iter().enumerate() {
            if document.frequency(term) > 0 {
                statistics.frequencies[index] += 1;
            }
        }
    }
    Ok(statistics)
}

/// A scored document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub score: f64,
    pub tid: Tid,
}

impl Ranked {
    /// Search order: higher scores first, then lower tuple ids.
    pub fn order(&self, other: &Ranked) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.tid.cmp(&other.tid))
    }
}

/// Orders the heap with the worst result on top.
struct Worst(Ranked);

impl PartialEq for Worst {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Worst {}
impl PartialOrd for Worst {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Worst {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.order(&other.0)
    }
}

struct TopK {
    limit: usize,
    after: Option<Ranked>,
    heap: BinaryHeap<Worst>,
}

impl TopK {
    fn full(&self) -> bool {
        self.heap.len() >= self.limit
    }

    fn threshold(&self) -> f64 {
        self.heap
            .peek()
            .map_or(f64::NEG_INFINITY, |worst| worst.0.score)
    }

    fn offer(&mut self, ranked: Ranked) {
        if self
            .after
            .is_some_and(|after| ranked.order(&after) != Ordering::Greater)
        {
            return;
        }
        if !self.full() {
            self.heap.push(Worst(ranked));
        } else if self
            .heap
            .peek()
            .is_some_and(|worst| ranked.order(&worst.0) == Ordering::Less)
        {
            self.heap.pop();
            self.heap.push(Worst(ranked));
        }
    }
}

/// What to rank: the relaxed query, the ranking terms (in the scorer's order), the projects, how
/// many results, and where the previous page of results ended.
pub struct TopRequest<'a> {
    pub plan: &'a Plan,
    pub terms: &'a [Vec<u8>],
    pub scorer: &'a Scorer,
    pub projects: &'a Projects,
    pub limit: usize,
    pub after: Option<Ranked>,
}

/// The `limit` best matches after `after`, best first.
pub fn top<S: PageSource>(
    source: &S,
    segments: &[SegmentView],
    pending: &[Document],
    request: &TopRequest<'_>,
) -> Result<Vec<Ranked>, IndexError> {
    if request.terms.len() != request.scorer.terms() {
        return Err(IndexError::Invalid(
            "ranking terms and their statistics differ in number",
        ));
    }
    let mut top = TopK {
        limit: request.limit,
        after: request.after,
        heap: BinaryHeap::with_capacity(request.limit + 1),
    };
    if request.limit == 0 {
        return Ok(Vec::new());
    }
    let mut frequencies = vec![0u32; request.terms.len()];
    if matches!(request.plan, Plan::Term(term) if request.terms == std::slice::from_ref(term)) {
        top_of_one_term(source, segments, request, &mut top)?;
    } else {
        top_by_document(source, segments, request, &mut top, &mut frequencies)?;
    }
    for document in pending {
        if !request.projects.contains(&document.project) || !request.plan.matches(document) {
            continue;
        }
        for (index, term) in request.terms.iter().enumerate() {
            frequencies[index] = document.frequency(term);
        }
        top.offer(Ranked {
            score: request.scorer.score(&frequencies, document.length),
            tid: document.tid,
        });
    }
    let mut results: Vec<Ranked> = top.heap.into_iter().map(|worst| worst.0).collect();
    results.sort_by(Ranked::order);
    Ok(results)
}

/// One term, ranked by itself (the most common search): its blocks best first, from every
/// segment at once, until the next block's best score cannot enter the results.
fn top_of_one_term<S: PageSource>(
    source: &S,
    segments: &[SegmentView],
    request: &TopRequest<'_>,
    top: &mut TopK,
) -> Result<(), IndexError> {
    let term = &request.terms[0];
    let mut lists = Vec::with_capacity(segments.len());
    for view in segments {
        let mut opened = Opened::open(source, view, request.projects)?;
        if opened.ranges.is_empty() {
            continue;
        }
        if let Some(mut cursor) = opened.cursor(term)? {
            let scorer = request.scorer.clone();
            cursor.set_weights(move |frequency, length| scorer.bound(0, frequency, length));
            lists.push((opened, cursor));
        }
    }
    let mut blocks: Vec<(f64, usize, usize)> = Vec::new();
    for (list, (_, cursor)) in lists.iter_mut().enumerate() {
        let count = cursor.block_count(source)?;
        blocks.extend((0..count).map(|block| (cursor.block_best(block), list, block)));
    }
    // Best first; equal bounds in key order, so the ties a page ends on are always the same.
    blocks.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for (best, list, block) in blocks {
        if top.full() && best < top.threshold() {
            break;
        }
        let (opened, cursor) = &mut lists[list];
        for posting in cursor.block_postings(source, block)? {
            if !opened.is_deleted(posting.key) {
                top.offer(Ranked {
                    score: request.scorer.score(&[posting.frequency], posting.length),
                    tid: key_tid(posting.key),
                });
            }
        }
    }
    Ok(())
}

/// Any query: documents in key order, segment by segment, skipping stretches of keys whose best
/// possible score cannot enter the results.
fn top_by_document<S: PageSource>(
    source: &S,
    segments: &[SegmentView],
    request: &TopRequest<'_>,
    top: &mut TopK,
    frequencies: &mut [u32],
) -> Result<(), IndexError> {
    for view in segments {
        let mut opened = Opened::open(source, view, request.projects)?;
        if opened.ranges.is_empty() {
            continue;
        }
        let mut live = opened.live(request.plan)?;
        if matches!(live, Live::Nothing) {
            continue;
        }
        let mut ranking = Vec::with_capacity(request.terms.len());
        for (index, term) in request.terms.iter().enumerate() {
            let cursor = opened.cursor(term)?.map(|mut cursor| {
                let scorer = request.scorer.clone();
                cursor.set_weights(move |frequency, length| scorer.bound(index, frequency, length));
                cursor
            });
            ranking.push(cursor);
        }
        let mut from = 0u64;
        loop {
            crate::interrupts::check();
            // The stretch of keys from `from` over which every ranking term stays in one block
            // (or gap), and the best score a document there can get.
            let (mut end, mut best) = (u64::MAX, 0.0f64);
            for cursor in ranking.iter_mut().flatten() {
                let (last, bound) = cursor.bound(source, from)?;
                end = end.min(last);
                best += bound;
            }
            if top.full() && best < top.threshold() {
                match end.checked_add(1) {
                    Some(next) => {
                        from = next;
                        continue;
                    }
                    None => break,
                }
            }
            let Some(key) = live.next(source, from)? else {
                break;
            };
            if key > end {
                from = key;
                continue;
            }
            if !opened.is_deleted(key) {
                frequencies.fill(0);
                let mut length = 0;
                for (index, cursor) in ranking.iter_mut().enumerate() {
                    if let Some(cursor) = cursor {
                        if let Some(posting) = cursor.advance(source, key)? {
                            if posting.key == key {
                                frequencies[index] = posting.frequency;
                                length = posting.length;
                            }
                        }
                    }
                }
                top.offer(Ranked {
                    score: request.scorer.score(frequencies, length),
                    tid: key_tid(key),
                });
            }
            match key.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
    }
    Ok(())
}

/// Every document the relaxed query matches, in no particular order.
pub fn matching<S: PageSource>(
    source: &S,
    segments: &[SegmentView],
    pending: &[Document],
    plan: &Plan,
    projects: &Projects,
) -> Result<Vec<Tid>, IndexError> {
    let mut found = Vec::new();
    for view in segments {
        let mut opened = Opened::open(source, view, projects)?;
        if opened.ranges.is_empty() {
            continue;
        }
        let mut live = opened.live(plan)?;
        let mut from = 0u64;
        while let Some(key) = live.next(source, from)? {
            crate::interrupts::check();
            if !opened.is_deleted(key) {
                found.push(key_tid(key));
            }
            match key.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
    }
    found.extend(
        pending
            .iter()
            .filter(|d| projects.contains(&d.project) && plan.matches(d))
            .map(|d| d.tid),
    );
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_need_their_words_at_their_distances() {
        let (a, b): (&[u16], &[u16]) = (&[3, 10], &[4, 20]);
        assert!(phrase_at(&[a, b], &[0, 1], false));
        assert!(!phrase_at(&[a, b], &[0, 2], false));
        assert!(phrase_at(&[a, b], &[0, 10], false), "10 + 10 = 20");
        // A word stored without positions: PostgreSQL's maybe.
        assert!(phrase_at(&[a, &[]], &[0, 1], true));
        assert!(!phrase_at(&[a, &[]], &[0, 1], false));
        assert!(
            !phrase_at(&[&[u16::MAX], &[0]], &[0, 1], false),
            "no wrap-around past the last position"
        );
    }

    #[test]
    fn phrases_of_plain_words_become_chains_with_offsets() {
        let word = |text: &str| {
            Box::new(TsQueryNode::Operand {
                lexeme: text.as_bytes().to_vec(),
                prefix: false,
                weights: 0,
            })
        };
        // (a <-> b) <2> (c <-> d): c two after b, d one after c.
        let query = TsQueryNode::Phrase(
            Box::new(TsQueryNode::Phrase(word("a"), word("b"), 1)),
            Box::new(TsQueryNode::Phrase(word("c"), word("d"), 1)),
            2,
        );
        let expected = vec![
            (b"a".to_vec(), 0),
            (b"b".to_vec(), 1),
            (b"c".to_vec(), 3),
            (b"d".to_vec(), 4),
        ];
        assert_eq!(
            Plan::from_tsquery(&TsQuery::Tree(query)),
            Plan::Phrase(expected)
        );
        let weighted = TsQueryNode::Phrase(
            word("a"),
            Box::new(TsQueryNode::Operand {
                lexeme: b"b".to_vec(),
                prefix: false,
                weights: 1,
            }),
            1,
        );
        assert!(
            matches!(Plan::from_tsquery(&TsQuery::Tree(weighted)), Plan::And(..)),
            "weights leave the phrase to the recheck"
        );
    }
}
