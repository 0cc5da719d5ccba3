//! Thread structure of messages in the database: the row trigger that fills a message's project
//! and computes its depth, and the one-pass rebuild of a conversation's depths. The rules
//! themselves live in `cco_core::threads`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use cco_core::threads::{check_no_cycle, compute_depths, depth_below, ThreadError};
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, Uuid};

use crate::errors::{raise, raise_with_detail, spi};
use crate::queries::{optional_two, Lookup};
use pgrx::pg_sys::{BuiltinOid::UUIDOID, PgOid};

/// The project of a conversation id among those the caller can see, and how many such projects
/// there are: conversation ids are unique only within a project.
const CONVERSATION_PROJECT: Lookup = Lookup {
    sql: "select project_id, count(*) over () from cco.conversations where id = $1",
    arg_types: &[PgOid::BuiltIn(UUIDOID)],
};

const MESSAGE_PLACEMENT: Lookup = Lookup {
    sql: "select conversation_id, depth from cco.messages where id = $1 and project_id = $2",
    arg_types: &[PgOid::BuiltIn(UUIDOID), PgOid::BuiltIn(UUIDOID)],
};

thread_local! {
    /// Set while `rebuild_thread_depths` writes the depths it computed, so the row trigger lets
    /// those writes through instead of recomputing them row by row. Backend memory, not a setting:
    /// no client can switch it on.
    static REBUILDING: Cell<bool> = const { Cell::new(false) };
}

/// Keeps `REBUILDING` set for as long as it lives, and clears it even when an error unwinds.
struct RebuildGuard;

impl RebuildGuard {
    fn enter() -> RebuildGuard {
        REBUILDING.with(|flag| flag.set(true));
        RebuildGuard
    }
}

impl Drop for RebuildGuard {
    fn drop(&mut self) {
        REBUILDING.with(|flag| flag.set(false));
    }
}

fn rebuilding() -> bool {
    REBUILDING.with(Cell::get)
}

thread_local! {
    /// Where the rows inserted so far by the current INSERT (or COPY) statement sit. Replies are
    /// usually inserted right after their parents, in the same statement: remembering the parents
    /// spares one lookup per row. Emptied by the BEFORE STATEMENT trigger of every insert and by
    /// anything that moves messages, so it never outlives the statement that filled it. A row that
    /// is remembered but ends up not inserted (a later trigger skipped it, ON CONFLICT DO NOTHING)
    /// can only be referenced by an id that does not exist, which the parent foreign key rejects
    /// at the end of the statement.
    static INSERTED_THIS_STATEMENT: RefCell<HashMap<Uuid, Placement>> = RefCell::new(HashMap::new());
}

/// Beyond this many rows a statement's placements are forgotten and looked up instead, to bound
/// backend memory on huge loads.
const REMEMBERED_PLACEMENTS: usize = 1_000_000;

fn forget_placements() {
    INSERTED_THIS_STATEMENT.with_borrow_mut(HashMap::clear);
}

fn remember_placement(id: Uuid, placement: Placement) {
    INSERTED_THIS_STATEMENT.with_borrow_mut(|placements| {
        if placements.len() >= REMEMBERED_PLACEMENTS {
            placements.clear();
        }
        placements.insert(id, placement);
    });
}

fn remembered_placement(id: Uuid) -> Option<Placement> {
    INSERTED_THIS_STATEMENT.with_borrow(|placements| placements.get(&id).copied())
}

/// BEFORE INSERT ON cco.messages FOR EACH STATEMENT: a new statement remembers nothing yet.
#[pg_trigger]
fn messages_begin_statement<'a>(
    _trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgHeapTupleError> {
    forget_placements();
    Ok(None)
}

/// The parts of a message row the thread rules look at.
struct ThreadColumns {
    id: Uuid,
    conversation_id: Option<Uuid>,
    project_id: Option<Uuid>,
    parent_id: Option<Uuid>,
    depth: Option<i32>,
}

impl ThreadColumns {
    fn read(row: &PgHeapTuple<'_, impl WhoAllocated>) -> ThreadColumns {
        let column = |name: &str| -> Option<Uuid> {
            row.get_by_name::<Uuid>(name).unwrap_or_else(|error| {
                raise(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    format!("reading {name}: {error}"),
                )
            })
        };
        ThreadColumns {
            id: column("id").unwrap_or_else(|| {
                raise(
                    PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                    "message id must not be NULL",
                )
            }),
            conversation_id: column("conversation_id"),
            project_id: column("project_id"),
            parent_id: column("parent_id"),
            depth: row.get_by_name::<i32>("depth").ok().flatten(),
        }
    }
}

/// Where a message sits: its conversation and depth.
#[derive(Clone, Copy)]
struct Placement {
    conversation_id: Uuid,
    depth: i32,
}

/// BEFORE INSERT OR UPDATE OF parent_id, depth, conversation_id, project_id ON cco.messages.
///
/// Fills project_id from the conversation when the client omitted it, and sets depth to the
/// parent's depth + 1 (0 for a root). Rejects a parent in another conversation, a parent link
/// that would close a cycle, and moving a message to another conversation or project.
#[pg_trigger]
fn message_resolve_thread<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, impl WhoAllocated>>, PgHeapTupleError> {
    let new = trigger.new().unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_TRIGGERED_ACTION_EXCEPTION,
            "message trigger needs a new row",
        )
    });
    let mut row = new.into_owned();
    let mut message = ThreadColumns::read(&row);

    let depth = match trigger.old() {
        None => {
            let conversation_id = message.conversation_id.unwrap_or_else(|| {
                raise(
                    PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                    "conversation_id must not be NULL",
                )
            });
            if message.project_id.is_none() {
                let project_id = conversation_project(conversation_id);
                set_column(&mut row, "project_id", project_id);
                message.project_id = Some(project_id);
            }
            let depth = depth_for_new_parent(&message, false);
            remember_placement(
                message.id,
                Placement {
                    conversation_id,
                    depth,
                },
            );
            depth
        }
        Some(old) => {
            // Depths are about to change: whatever this statement remembered may be stale.
            forget_placements();
            if rebuilding() {
                return Ok(Some(row));
            }
            let before = ThreadColumns::read(&old);
            if before.conversation_id != message.conversation_id
                || before.project_id != message.project_id
            {
                raise(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!(
                        "message {} cannot move to another conversation or project",
                        message.id
                    ),
                );
            }
            if before.parent_id == message.parent_id {
                // Depth follows from the parent; a client cannot set it on its own.
                before.depth.unwrap_or(0)
            } else {
                depth_for_new_parent(&message, true)
            }
        }
    };
    if message.depth != Some(depth) {
        set_column(&mut row, "depth", depth);
    }
    Ok(Some(row))
}

fn set_column<T: IntoDatum>(row: &mut PgHeapTuple<'_, AllocatedByRust>, name: &str, value: T) {
    if let Err(error) = row.set_by_name(name, value) {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("setting {name}: {error}"),
        );
    }
}

/// The project of a conversation the caller can see: what a message inserted without project_id
/// belongs to. The row trigger fills it in with this on a single server; on Citus, which must
/// know the project before it routes the row, `citus_inserts` puts this call in the INSERT.
#[pg_extern(stable, parallel_safe)]
fn conversation_project(conversation_id: Uuid) -> Uuid {
    let found = optional_two::<Uuid, i64>(&CONVERSATION_PROJECT, &[conversation_id.into()]);
    match found {
        Some((Some(project_id), Some(1))) => project_id,
        Some((Some(_), _)) => raise(
            PgSqlErrorCode::ERRCODE_CARDINALITY_VIOLATION,
            format!(
                "conversation {conversation_id} is in more than one project you can see: \
                 give the message's project_id"
            ),
        ),
        _ => raise(
            PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
            format!("conversation {conversation_id} does not exist or is not visible to you"),
        ),
    }
}

/// Depth of `message` under its (new) parent, validating the link.
fn depth_for_new_parent(message: &ThreadColumns, check_cycle: bool) -> i32 {
    let Some(parent_id) = message.parent_id else {
        return depth_below(None);
    };
    let project_id = message.project_id.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
            "project_id must not be NULL",
        )
    });
    let parent = placement_of(parent_id, project_id).unwrap_or_else(|| {
        raise_with_detail(
            PgSqlErrorCode::ERRCODE_FOREIGN_KEY_VIOLATION,
            format!(
                "parent message {parent_id} of message {} does not exist",
                message.id
            ),
            Some("A parent must be stored before its replies, in the same project.".into()),
        )
    });
    if Some(parent.conversation_id) != message.conversation_id {
        let error = ThreadError::ParentInOtherConversation {
            message: message.id,
            parent: parent_id,
        };
        raise(PgSqlErrorCode::ERRCODE_CHECK_VIOLATION, error.to_string());
    }
    if check_cycle {
        let ancestors = ancestors_of(parent_id, project_id);
        if let Err(error) = check_no_cycle(message.id, parent_id, ancestors) {
            raise(PgSqlErrorCode::ERRCODE_CHECK_VIOLATION, error.to_string());
        }
    }
    depth_below(Some(parent.depth))
}

fn placement_of(message_id: Uuid, project_id: Uuid) -> Option<Placement> {
    if let Some(placement) = remembered_placement(message_id) {
        return Some(placement);
    }
    let (conversation_id, depth) =
        optional_two::<Uuid, i32>(&MESSAGE_PLACEMENT, &[message_id.into(), project_id.into()])?;
    Some(Placement {
        conversation_id: conversation_id?,
        depth: depth.unwrap_or(0),
    })
}

/// The ancestor chain above `message_id`, nearest first. Bounded so that a cycle already present
/// in the data (possible only with triggers disabled) cannot loop forever.
fn ancestors_of(message_id: Uuid, project_id: Uuid) -> Vec<Uuid> {
    const QUERY: &str = "
        with recursive chain(id, parent_id, steps) as (
            select id, parent_id, 0 from cco.messages where id = $1 and project_id = $2
            union all
            select m.id, m.parent_id, chain.steps + 1
            from cco.messages m join chain on m.id = chain.parent_id and m.project_id = $2
            where chain.steps < 1000000
        ) cycle id set looped using path
        select id from chain where steps > 0 order by steps";
    spi(Spi::connect(|client| {
        client
            .select(QUERY, None, &[message_id.into(), project_id.into()])?
            .map(|row| row.get::<Uuid>(1))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, _>>()
    }))
}

/// Recomputes the depth of every message of a conversation in one pass and stores those that
/// changed. For rows loaded out of order or with triggers disabled. Returns how many changed.
#[pg_extern(volatile, parallel_unsafe)]
fn rebuild_thread_depths(conversation_id: Uuid) -> i32 {
    let rows: Vec<(Uuid, Option<Uuid>, i32)> = spi(Spi::connect(|client| {
        client
            .select(
                "select id, parent_id, depth from cco.messages where conversation_id = $1",
                None,
                &[conversation_id.into()],
            )?
            .map(|row| Ok((row.get::<Uuid>(1)?, row.get::<Uuid>(2)?, row.get::<i32>(3)?)))
            .filter_map(|row: Result<_, pgrx::spi::Error>| match row {
                Ok((Some(id), parent, depth)) => Some(Ok((id, parent, depth.unwrap_or(0)))),
                Ok(_) => None,
                Err(error) => Some(Err(error)),
            })
            .collect::<Result<Vec<_>, _>>()
    }));

    let links: Vec<(Uuid, Option<Uuid>)> =
        rows.iter().map(|(id, parent, _)| (*id, *parent)).collect();
    let thread = compute_depths(&links);
    if !thread.in_cycle.is_empty() {
        let sample: Vec<String> = thread
            .in_cycle
            .iter()
            .take(5)
            .map(ToString::to_string)
            .collect();
        raise_with_detail(
            PgSqlErrorCode::ERRCODE_CHECK_VIOLATION,
            format!(
                "conversation {conversation_id} has {} messages in a parent cycle",
                thread.in_cycle.len()
            ),
            Some(format!(
                "Set parent_id to NULL on one of: {}",
                sample.join(", ")
            )),
        );
    }

    let (ids, depths): (Vec<Uuid>, Vec<i32>) = rows
        .iter()
        .filter_map(|(id, _, stored)| {
            let computed = *thread.depths.get(id)?;
            (computed != *stored).then_some((*id, computed))
        })
        .unzip();
    if ids.is_empty() {
        return 0;
    }

    forget_placements();
    let _guard = RebuildGuard::enter();
    // Row level security applies: a caller who may not write the conversation changes nothing.
    let changed = spi(Spi::connect_mut(|client| {
        client
            .update(
                "update cco.messages m set depth = fix.depth
                 from unnest($1::uuid[], $2::int[]) as fix(id, depth)
                 where m.id = fix.id and m.conversation_id = $3",
                None,
                &[ids.into(), depths.into(), conversation_id.into()],
            )
            .map(|updated| updated.len())
    }));
    i32::try_from(changed).unwrap_or(i32::MAX)
}
