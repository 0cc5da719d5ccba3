//! Thread structure of a conversation: every message has at most one parent in the same
//! conversation, roots have depth 0 and a reply sits one level below its parent.
//!
//! Claude Code transcripts are trees, not lists (checkpoint reverts branch them), and their lines
//! can arrive out of order, so depths are computed from the whole set of (id, parent) pairs in one
//! pass rather than trusted from whoever inserted the rows.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

/// Depth of a message whose parent has `parent_depth` (None for a root).
pub fn depth_below(parent_depth: Option<i32>) -> i32 {
    parent_depth.map_or(0, |depth| depth.saturating_add(1))
}

/// Why a parent link cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadError<K> {
    /// The parent belongs to another conversation.
    ParentInOtherConversation { message: K, parent: K },
    /// Making `parent` the parent of `message` would make `message` its own ancestor.
    Cycle { message: K, parent: K },
}

impl<K: fmt::Display> fmt::Display for ThreadError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadError::ParentInOtherConversation { message, parent } => write!(
                f,
                "parent message {parent} of message {message} belongs to another conversation"
            ),
            ThreadError::Cycle { message, parent } => write!(
                f,
                "making {parent} the parent of message {message} would create a cycle in the thread"
            ),
        }
    }
}

/// Checks a new parent link given the parent's own ancestor chain (nearest first, as far as it
/// goes). The link is a cycle when the message itself is the parent or one of its ancestors.
pub fn check_no_cycle<K: PartialEq + Copy>(
    message: K,
    parent: K,
    ancestors_of_parent: impl IntoIterator<Item = K>,
) -> Result<(), ThreadError<K>> {
    let mut chain = std::iter::once(parent).chain(ancestors_of_parent);
    if chain.any(|ancestor| ancestor == message) {
        Err(ThreadError::Cycle { message, parent })
    } else {
        Ok(())
    }
}

/// The depths of every message of one conversation, computed from its (id, parent) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadDepths<K: Eq + Hash> {
    /// Depth of every message that is connected to a root.
    pub depths: HashMap<K, i32>,
    /// Messages on or below a loop in their ancestor chain. The triggers make this impossible for
    /// rows written through SQL; it can only come from data loaded with triggers disabled.
    pub in_cycle: Vec<K>,
}

/// Computes every depth in one pass over `(id, parent_id)` pairs given in any order.
///
/// A parent that is not in the set (deleted, or never loaded) makes its child a root, which is what
/// the schema does when a parent is deleted. Every message is walked over at most twice, so the
/// cost is linear in the number of messages even for long, deep chains.
pub fn compute_depths<K: Eq + Hash + Copy>(messages: &[(K, Option<K>)]) -> ThreadDepths<K> {
    #[derive(Clone, Copy)]
    enum Visit {
        OnCurrentWalk,
        Depth(i32),
        Rootless,
    }

    let parent_of: HashMap<K, Option<K>> = messages.iter().copied().collect();
    let mut visits: HashMap<K, Visit> = HashMap::with_capacity(messages.len());
    let mut walk: Vec<K> = Vec::new();

    for &(start, _) in messages {
        if visits.contains_key(&start) {
            continue;
        }
        // Walk up until a root, a message already settled, or one already on this walk (a loop).
        walk.clear();
        let mut current = start;
        let settled_above = loop {
            match visits.get(&current) {
                Some(Visit::Depth(depth)) => break Visit::Depth(*depth),
                Some(Visit::Rootless) | Some(Visit::OnCurrentWalk) => break Visit::Rootless,
                None => {}
            }
            visits.insert(current, Visit::OnCurrentWalk);
            walk.push(current);
            match parent_of.get(&current).copied().flatten() {
                Some(parent) if parent_of.contains_key(&parent) => current = parent,
                _ => break Visit::Depth(-1),
            }
        };
        // `walk` runs from `start` up to the message just below whatever settled it.
        for (offset, &message) in walk.iter().rev().enumerate() {
            let visit = match settled_above {
                Visit::Depth(above) => Visit::Depth(above + 1 + offset as i32),
                _ => Visit::Rootless,
            };
            visits.insert(message, visit);
        }
    }

    let mut depths = HashMap::with_capacity(visits.len());
    let mut in_cycle = Vec::new();
    for (message, visit) in visits {
        match visit {
            Visit::Depth(depth) => {
                depths.insert(message, depth);
            }
            _ => in_cycle.push(message),
        }
    }
    ThreadDepths { depths, in_cycle }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_parent_depth_plus_one() {
        assert_eq!(depth_below(None), 0);
        assert_eq!(depth_below(Some(0)), 1);
        assert_eq!(depth_below(Some(41)), 42);
        assert_eq!(depth_below(Some(i32::MAX)), i32::MAX);
    }

    #[test]
    fn self_parent_and_ancestor_parent_are_cycles() {
        assert_eq!(
            check_no_cycle(1, 1, []),
            Err(ThreadError::Cycle {
                message: 1,
                parent: 1
            })
        );
        // 4's new parent would be 3, whose ancestors are 2 and 4.
        assert!(check_no_cycle(4, 3, [2, 4]).is_err());
        assert_eq!(check_no_cycle(4, 3, [2, 1]), Ok(()));
    }

    #[test]
    fn depths_of_a_branching_tree_in_any_order() {
        // 1 -> 2 -> 3, 2 -> 4 (a branch), 5 a second root, 6 under 4.
        let tree = [
            (6, Some(4)),
            (3, Some(2)),
            (1, None),
            (4, Some(2)),
            (2, Some(1)),
            (5, None),
        ];
        let result = compute_depths(&tree);
        let expected: HashMap<_, _> = [(1, 0), (2, 1), (3, 2), (4, 2), (5, 0), (6, 3)].into();
        assert_eq!(result.depths, expected);
        assert!(result.in_cycle.is_empty());
    }

    #[test]
    fn a_missing_parent_makes_a_root() {
        let result = compute_depths(&[(2, Some(99)), (3, Some(2))]);
        assert_eq!(result.depths, [(2, 0), (3, 1)].into());
    }

    #[test]
    fn cycles_are_reported_not_looped_on() {
        // 1 -> 2 -> 3 -> 1 is a loop; 4 hangs below it; 5 is a healthy root.
        let result = compute_depths(&[
            (1, Some(3)),
            (2, Some(1)),
            (3, Some(2)),
            (4, Some(3)),
            (5, None),
        ]);
        let mut looped = result.in_cycle.clone();
        looped.sort();
        assert_eq!(looped, vec![1, 2, 3, 4]);
        assert_eq!(result.depths, [(5, 0)].into());
    }

    #[test]
    fn a_long_chain_is_linear_and_exact() {
        let n = 100_000u32;
        let chain: Vec<(u32, Option<u32>)> = (0..n).rev().map(|i| (i, i.checked_sub(1))).collect();
        let result = compute_depths(&chain);
        assert_eq!(result.depths.len(), n as usize);
        assert_eq!(result.depths[&(n - 1)], (n - 1) as i32);
    }
}
