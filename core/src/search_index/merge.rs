//! Merging segments into one, leaving out deleted documents. Memory stays bounded by the largest
//! single posting list: terms are merged one at a time, in dictionary order, from all inputs.

use std::collections::HashMap;

use super::btree::{TreeBuilder, TreeCursor};
use super::pages::{PageSink, PageSource, Pointer, RecordWriter};
use super::postings::{
    key_project, write_postings, KeyRanges, PositionedPostings, Posting, PostingCursor, TID_BITS,
};
use super::segment::{
    finish_segment, ProjectEntry, ProjectId, Segment, SegmentLocation, SegmentParts,
};
use super::IndexError;

/// A segment to merge and the keys of its documents that are gone (ascending).
pub struct MergeInput {
    pub header: Pointer,
    pub deleted: Vec<u64>,
}

struct Input<'s, S: PageSource> {
    segment: Segment<'s, S>,
    deleted: &'s [u64],
    /// New project number for each of the segment's own.
    renumber: Vec<u32>,
    terms: TreeCursor<'s, S>,
    head: Option<(Vec<u8>, Vec<u8>)>,
}

impl<S: PageSource> Input<'_, S> {
    fn live(&self, key: u64) -> bool {
        self.deleted.binary_search(&key).is_err()
    }

    fn renumbered(&self, posting: Posting) -> Posting {
        let project = u64::from(self.renumber[key_project(posting.key) as usize]);
        Posting {
            key: (project << TID_BITS) | (posting.key & ((1 << TID_BITS) - 1)),
            ..posting
        }
    }

    fn postings(&self, value: &[u8]) -> Result<Vec<Posting>, IndexError> {
        let source = self.segment.source();
        let mut cursor = PostingCursor::open(source, value, &KeyRanges::all())?;
        let postings = cursor.collect(source)?;
        Ok(postings
            .into_iter()
            .filter(|posting| self.live(posting.key))
            .map(|posting| self.renumbered(posting))
            .collect())
    }

    /// Appends the live postings of a term (renumbered) with their positions to `into`.
    fn postings_with_positions(
        &self,
        value: &[u8],
        into: &mut PositionedPostings,
    ) -> Result<(), IndexError> {
        let source = self.segment.source();
        let mut cursor = PostingCursor::open(source, value, &KeyRanges::all())?;
        cursor.collect_with_positions(source, into, |posting| {
            self.live(posting.key).then(|| self.renumbered(posting))
        })
    }
}

fn sorted_union(mut lists: Vec<Vec<Posting>>) -> Vec<Posting> {
    if lists.len() == 1 {
        return lists.pop().expect("one list");
    }
    let mut all: Vec<Posting> = lists.into_iter().flatten().collect();
    all.sort_unstable_by_key(|posting| posting.key);
    all
}

/// Writes one segment holding every live document of `inputs`; `None` when none is left.
pub fn merge_segments<S: PageSource + PageSink>(
    store: &S,
    inputs: &[MergeInput],
) -> Result<Option<SegmentLocation>, IndexError> {
    let mut opened = Vec::with_capacity(inputs.len());
    for input in inputs {
        let segment = Segment::open(store, input.header)?;
        if input.deleted.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(IndexError::Invalid("deleted keys must ascend"));
        }
        let terms = segment.terms_from(b"")?;
        opened.push(Input {
            segment,
            deleted: &input.deleted,
            renumber: Vec::new(),
            terms,
            head: None,
        });
    }

    // Projects: the union, numbered in uuid order.
    let mut per_input: Vec<Vec<(ProjectId, ProjectEntry)>> = Vec::with_capacity(opened.len());
    let mut ids: Vec<ProjectId> = Vec::new();
    for input in &opened {
        let projects = input.segment.projects()?;
        ids.extend(projects.iter().map(|(id, _)| *id));
        per_input.push(projects);
    }
    ids.sort_unstable();
    ids.dedup();
    let numbers: HashMap<ProjectId, u32> = ids
        .iter()
        .enumerate()
        .map(|(number, id)| (*id, number as u32))
        .collect();
    for (input, projects) in opened.iter_mut().zip(&per_input) {
        input.renumber = vec![0; projects.len()];
        for (id, entry) in projects {
            let slot = input
                .renumber
                .get_mut(entry.number as usize)
                .ok_or(IndexError::Corrupt("a project number is out of range"))?;
            *slot = numbers[id];
        }
    }

    // Documents, and from them each project's live totals.
    let mut lists = Vec::with_capacity(opened.len());
    for input in &opened {
        lists.push(input.postings(input.segment.all_documents())?);
    }
    let documents = sorted_union(lists);
    if documents.is_empty() {
        return Ok(None);
    }
    let mut projects: Vec<(ProjectId, ProjectEntry)> = ids
        .iter()
        .enumerate()
        .map(|(number, id)| {
            (
                *id,
                ProjectEntry {
                    number: number as u32,
                    documents: 0,
                    length: 0,
                },
            )
        })
        .collect();
    for document in &documents {
        let entry = &mut projects[key_project(document.key) as usize].1;
        entry.documents += 1;
        entry.length += u64::from(document.length);
    }
    // A project whose documents are all gone keeps its number but holds nothing; searches treat
    // it like any project without documents.

    let mut writer = RecordWriter::new(store);
    let mut dictionary = TreeBuilder::new();
    for input in &mut opened {
        input.head = input.terms.next()?;
    }
    let mut merged = PositionedPostings::default();
    let mut order: Vec<usize> = Vec::new();
    while let Some(term) = opened
        .iter()
        .filter_map(|input| input.head.as_ref().map(|(term, _)| term))
        .min()
        .cloned()
    {
        crate::interrupts::check();
        merged.clear();
        let mut inputs_with_term = 0;
        for input in &mut opened {
            if input.head.as_ref().is_some_and(|(head, _)| *head == term) {
                let (_, value) = input.head.take().expect("a head");
                input.postings_with_positions(&value, &mut merged)?;
                inputs_with_term += 1;
                input.head = input.terms.next()?;
            }
        }
        if merged.postings.is_empty() {
            continue;
        }
        order.clear();
        order.extend(0..merged.postings.len());
        if inputs_with_term > 1 {
            order.sort_unstable_by_key(|&at| merged.postings[at].key);
        }
        let postings: Vec<Posting> = order.iter().map(|&at| merged.postings[at]).collect();
        let positions: Vec<&[u16]> = order.iter().map(|&at| merged.positions(at)).collect();
        let value = write_postings(&mut writer, &postings, &positions)?;
        dictionary.push(&mut writer, &term, &value)?;
    }
    let terms = dictionary.len();
    let dictionary = dictionary.finish(&mut writer)?;
    finish_segment(
        writer,
        SegmentParts {
            dictionary,
            terms,
            projects,
            documents,
        },
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search_index::pages::MemoryPages;
    use crate::search_index::postings::{document_key, Tid};
    use crate::search_index::segment::build_segment;
    use crate::search_index::segment::tests::{document, project};

    fn postings_of(pages: &MemoryPages, header: Pointer, term: &str) -> Vec<(Tid, u32)> {
        let segment = Segment::open(pages, header).unwrap();
        let Some(value) = segment.term(term.as_bytes()).unwrap() else {
            return Vec::new();
        };
        let mut cursor = PostingCursor::open(pages, &value, &KeyRanges::all()).unwrap();
        cursor
            .collect(pages)
            .unwrap()
            .into_iter()
            .map(|p| (super::super::postings::key_tid(p.key), p.frequency))
            .collect()
    }

    #[test]
    fn a_merge_holds_what_its_inputs_held_less_the_deleted() {
        let pages = MemoryPages::new();
        let first = build_segment(
            &pages,
            vec![
                document(1, 1, "alpha beta"),
                document(2, 2, "beta gamma gamma"),
            ],
        )
        .unwrap()
        .unwrap();
        let second = build_segment(
            &pages,
            vec![document(3, 3, "alpha"), document(4, 1, "beta delta")],
        )
        .unwrap()
        .unwrap();
        // Tuple 2 (project 2, number 1 in the first segment) is gone.
        let deleted = vec![document_key(
            1,
            Tid {
                block: 2,
                offset: 1,
            },
        )];
        let merged = merge_segments(
            &pages,
            &[
                MergeInput {
                    header: first.header,
                    deleted,
                },
                MergeInput {
                    header: second.header,
                    deleted: Vec::new(),
                },
            ],
        )
        .unwrap()
        .unwrap();
        assert_eq!(merged.documents, 3);
        let segment = Segment::open(&pages, merged.header).unwrap();
        assert_eq!(segment.total_length, 2 + 1 + 2);
        assert_eq!(segment.project(&project(2)).unwrap().unwrap().documents, 0);
        assert_eq!(segment.project(&project(3)).unwrap().unwrap().number, 2);
        let tid = |block| Tid { block, offset: 1 };
        assert_eq!(
            postings_of(&pages, merged.header, "beta"),
            [(tid(1), 1), (tid(4), 1)]
        );
        assert_eq!(
            postings_of(&pages, merged.header, "alpha"),
            [(tid(1), 1), (tid(3), 1)]
        );
        assert!(
            postings_of(&pages, merged.header, "gamma").is_empty(),
            "only a deleted document held it"
        );
    }

    #[test]
    fn merged_lists_carry_the_merged_project_numbers() {
        // The first input's project keeps its number; the second's is renumbered.
        let pages = MemoryPages::new();
        let first = build_segment(&pages, vec![document(1, 1, "alpha shared")])
            .unwrap()
            .unwrap();
        let second = build_segment(&pages, vec![document(2, 2, "beta shared")])
            .unwrap()
            .unwrap();
        let inputs = [
            MergeInput {
                header: first.header,
                deleted: Vec::new(),
            },
            MergeInput {
                header: second.header,
                deleted: Vec::new(),
            },
        ];
        let merged = merge_segments(&pages, &inputs).unwrap().unwrap();
        let segment = Segment::open(&pages, merged.header).unwrap();
        let projects_of = |term: &str| -> Vec<u32> {
            let value = segment.term(term.as_bytes()).unwrap().unwrap();
            let mut cursor = PostingCursor::open(&pages, &value, &KeyRanges::all()).unwrap();
            cursor
                .collect(&pages)
                .unwrap()
                .into_iter()
                .map(|posting| key_project(posting.key))
                .collect()
        };
        assert_eq!(segment.project(&project(1)).unwrap().unwrap().number, 0);
        assert_eq!(segment.project(&project(2)).unwrap().unwrap().number, 1);
        assert_eq!(projects_of("alpha"), [0]);
        assert_eq!(projects_of("beta"), [1]);
        assert_eq!(projects_of("shared"), [0, 1]);
    }

    #[test]
    fn merging_everything_deleted_leaves_nothing() {
        let pages = MemoryPages::new();
        let only = build_segment(&pages, vec![document(1, 1, "alpha")])
            .unwrap()
            .unwrap();
        let deleted = vec![document_key(
            0,
            Tid {
                block: 1,
                offset: 1,
            },
        )];
        assert!(merge_segments(
            &pages,
            &[MergeInput {
                header: only.header,
                deleted
            }]
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn a_merge_equals_one_build_of_the_same_documents() {
        let pages = MemoryPages::new();
        let documents: Vec<_> = (0..2_000)
            .map(|i| document(i, (i % 5) as u8, &format!("w{} x{} common", i % 97, i % 11)))
            .collect();
        let whole = build_segment(&pages, documents.clone()).unwrap().unwrap();
        let parts: Vec<MergeInput> = documents
            .chunks(300)
            .map(|chunk| MergeInput {
                header: build_segment(&pages, chunk.to_vec())
                    .unwrap()
                    .unwrap()
                    .header,
                deleted: Vec::new(),
            })
            .collect();
        let merged = merge_segments(&pages, &parts).unwrap().unwrap();
        for term in ["common", "w5", "x10", "w96"] {
            assert_eq!(
                postings_of(&pages, merged.header, term),
                postings_of(&pages, whole.header, term),
                "{term}"
            );
        }
        let (a, b) = (
            Segment::open(&pages, merged.header).unwrap(),
            Segment::open(&pages, whole.header).unwrap(),
        );
        assert_eq!(
            (a.documents, a.total_length, a.terms),
            (b.documents, b.total_length, b.terms)
        );
    }
}
