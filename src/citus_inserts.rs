//! What inserts of messages and tool calls need on Citus, done where PostgreSQL parses them.
//!
//! Routing. On a single server a row trigger fills in a message's project from its conversation,
//! and a tool call's from its message. Citus routes each row to a shard by project_id before any
//! trigger runs, and refuses a row without it ("cannot perform an INSERT without a partition
//! column value"). So where Citus is installed, parse analysis of such an INSERT gives it the
//! value the trigger would have computed: `project_id := cco.conversation_project(conversation_id)`
//! for messages, `cco.message_project(message_id)` for tool calls. Citus evaluates that call on the
//! coordinator, as the caller and under their row level security, before it routes the row; the
//! trigger on the shard then finds project_id given and checks it as usual.
//!
//! Locking. A single server's statistics triggers lock a message's project before its
//! conversations, so that writers of several conversations of one project queue instead of
//! deadlocking. On Citus they run on the shards, where the project is a row of a reference table
//! (sql/10_citus.sql), so a message's project_id also passes through `cco.routed_project`,
//! evaluated on the coordinator before the row is routed: it takes an advisory lock on the
//! project there, once per transaction.
//!
//! The hook works in the sessions that loaded cco before their first such INSERT was parsed; with
//! cco in `shared_preload_libraries` that is every session, which `cco.distribute` requires.

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::CStr;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgList, PgSqlErrorCode, PgXactCallbackEvent, Uuid};

use crate::errors::{raise_with_hint, spi};

static mut PREVIOUS_PARSE_HOOK: pg_sys::post_parse_analyze_hook_type = None;
static mut LOADED_AT_SERVER_START: bool = false;

thread_local! {
    /// Projects this transaction locked for its messages (`routed_project`); None outside a
    /// transaction that locked any, so that the first lock arranges the clearing at its end.
    static LOCKED: RefCell<Option<HashSet<Uuid>>> = const { RefCell::new(None) };
}

/// Chains the hook; called once per process, from `_PG_init`.
pub fn install() {
    // SAFETY: _PG_init runs once per process, before any query, on its only thread.
    unsafe {
        LOADED_AT_SERVER_START = pg_sys::process_shared_preload_libraries_in_progress;
        PREVIOUS_PARSE_HOOK = pg_sys::post_parse_analyze_hook;
        pg_sys::post_parse_analyze_hook = Some(route_inserts);
    }
}

/// Whether the server loaded cco at start (shared_preload_libraries), so every session routes
/// inserts without project_id on Citus, the first statement of a new session included.
#[pg_extern(stable, parallel_safe)]
fn loaded_at_server_start() -> bool {
    // SAFETY: written once in _PG_init, before any query could read it.
    unsafe { LOADED_AT_SERVER_START }
}

#[pg_guard]
unsafe extern "C-unwind" fn route_inserts(
    parse_state: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jumble_state: *mut pg_sys::JumbleState,
) {
    // SAFETY: PostgreSQL hands over a valid analyzed query; the previous hook gets the same.
    unsafe {
        if let Some(previous) = PREVIOUS_PARSE_HOOK {
            previous(parse_state, query, jumble_state);
        }
        fill_in_inserts(query);
    }
}

/// The project of a message being inserted on Citus, evaluated on the coordinator before Citus
/// routes the row: locks the project the first time this transaction writes its messages.
#[pg_extern(volatile, parallel_unsafe)]
fn routed_project(project: Uuid) -> Uuid {
    let (first_in_transaction, first_time) = LOCKED.with(|locked| {
        let mut locked = locked.borrow_mut();
        let first_in_transaction = locked.is_none();
        let first_time = locked.get_or_insert_with(HashSet::new).insert(project);
        (first_in_transaction, first_time)
    });
    if first_in_transaction {
        for event in [PgXactCallbackEvent::Commit, PgXactCallbackEvent::Abort] {
            register_xact_callback(event, forget_locks);
        }
    }
    if first_time {
        spi(Spi::run_with_args(
            "select pg_catalog.pg_advisory_xact_lock($1, $2)",
            &[PROJECT_LOCKS.into(), project_lock_key(&project).into()],
        ));
    }
    project
}

/// The class of cco's advisory locks on projects: "cco" in ASCII.
const PROJECT_LOCKS: i32 = 0x0063_636f;

/// A project's advisory lock key: its id folded to 32 bits. Two projects that share a key only
/// queue behind each other. A lock on the coordinator, not a row lock on the projects reference
/// table, whose copies on every node two writers could lock in different orders.
fn project_lock_key(project: &Uuid) -> i32 {
    let folded = project
        .as_bytes()
        .chunks_exact(4)
        .map(|word| u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
        .fold(0, |key, word| key ^ word);
    i32::from_ne_bytes(folded.to_ne_bytes())
}

fn forget_locks() {
    LOCKED.with(|locked| locked.borrow_mut().take());
}

/// The statement's INSERT, and those in its WITH clause (PostgREST writes
/// `WITH pgrst_source AS (INSERT ... SELECT ... RETURNING ...) SELECT ...`); PostgreSQL allows
/// data-modifying WITH queries only at the top level.
unsafe fn fill_in_inserts(query: *mut pg_sys::Query) {
    // SAFETY: an analyzed query's WITH list holds CommonTableExpr nodes whose queries are analyzed.
    unsafe {
        if (*query).commandType == pg_sys::CmdType::CMD_INSERT && (*query).resultRelation > 0 {
            fill_in_project_id(query);
        }
        if !(*query).hasModifyingCTE {
            return;
        }
        let with = PgList::<pg_sys::CommonTableExpr>::from_pg((*query).cteList);
        for common in with.iter_ptr() {
            let inner = (*common).ctequery;
            if is_node(inner.cast(), pg_sys::NodeTag::T_Query) {
                fill_in_inserts(inner.cast());
            }
        }
    }
}

/// A table whose rows Citus routes by a project_id that cco can derive: the column it derives
/// it from, and the function (in schema cco, taking and returning uuid) that does.
struct Derivation {
    source_column: &'static CStr,
    function: &'static CStr,
    /// Whether the rows' projects are locked before they are routed (`routed_project`).
    locks_project: bool,
}

const MESSAGES: Derivation = Derivation {
    source_column: c"conversation_id",
    function: c"conversation_project",
    locks_project: true,
};

const TOOL_CALLS: Derivation = Derivation {
    source_column: c"message_id",
    function: c"message_project",
    locks_project: false,
};

/// cco's table that Citus routes by a derivable project_id, if `relation` is one.
unsafe fn derivation_for(relation: pg_sys::Oid) -> Option<Derivation> {
    // SAFETY: catalog lookups by oid; a relation that is gone yields NULL names.
    unsafe {
        let schema = pg_sys::get_namespace_oid(c"cco".as_ptr(), true);
        if schema == pg_sys::InvalidOid || pg_sys::get_rel_namespace(relation) != schema {
            return None;
        }
        let name = pg_sys::get_rel_name(relation);
        if name.is_null() {
            return None;
        }
        match CStr::from_ptr(name).to_bytes() {
            b"messages" => Some(MESSAGES),
            b"tool_calls" => Some(TOOL_CALLS),
            _ => None,
        }
    }
}

/// Gives an INSERT into messages or tool_calls that names no project_id (or a NULL one) the call
/// that derives it, where Citus is installed. Anything else is left for the row trigger, or for
/// Citus to refuse: no source column, or one computed by a volatile expression, which would then
/// be computed twice.
unsafe fn fill_in_project_id(query: *mut pg_sys::Query) {
    // SAFETY: `query` is an analyzed INSERT: its result relation indexes its range table, and its
    // target list holds TargetEntry nodes; new nodes are made in the current memory context,
    // which is the query's.
    unsafe {
        let relation =
            (*pg_sys::rt_fetch((*query).resultRelation as pg_sys::Index, (*query).rtable)).relid;
        let Some(derivation) = derivation_for(relation) else {
            return;
        };
        if pg_sys::get_extension_oid(c"citus".as_ptr(), true) == pg_sys::InvalidOid {
            return;
        }
        let project_column = pg_sys::get_attnum(relation, c"project_id".as_ptr());
        let source_column = pg_sys::get_attnum(relation, derivation.source_column.as_ptr());

        let mut targets = PgList::<pg_sys::TargetEntry>::from_pg((*query).targetList);
        let mut source = None;
        let mut project = None;
        for target in targets.iter_ptr() {
            if (*target).resjunk {
                continue;
            }
            if (*target).resno == project_column {
                project = Some(target);
            } else if (*target).resno == source_column {
                source = Some((*target).expr);
            }
        }
        // Messages' projects are locked (the module's comment); tool calls' need no lock.
        let lock = derivation
            .locks_project
            .then(|| lookup_function(c"routed_project"))
            .flatten();
        let given = project.filter(|target| !is_null_constant((**target).expr));
        // What the new project_id is computed from, and through which functions.
        let (source, functions, looks_up) = match given {
            Some(target) => match lock {
                Some(routed) => ((*target).expr, vec![routed], false),
                None => return,
            },
            None => {
                let (Some(source), Some(lookup)) = (source, lookup_function(derivation.function))
                else {
                    return;
                };
                (
                    source,
                    [Some(lookup), lock].into_iter().flatten().collect(),
                    true,
                )
            }
        };
        let derived = match insert_source(query) {
            // Several rows (INSERT ... VALUES (...), (...)): Citus reads each row's project_id
            // from the VALUES list, so each row gets its own call there, in a new column.
            InsertSource::Values(values) => {
                let Some(column) = column_of(query, source, values) else {
                    return;
                };
                let Some(column) = add_derived_column(values, column, &functions) else {
                    return;
                };
                column_reference(query, values, column)
            }
            // INSERT ... SELECT: Citus moves the SELECT's own output, so the call goes there.
            // Without RETURNING, Citus streams the rows into the shards by COPY, and a call that
            // queries (a lookup, or the lock of a project not met before) while the copy holds
            // the connections fails: a lookup is refused, and a given project is locked only
            // when it is the same for every row, so that it is locked before the first row goes.
            InsertSource::Select(select) => {
                if (*query).returningList.is_null() && looks_up {
                    raise_with_hint(
                        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                        "on Citus, an INSERT ... SELECT without RETURNING must give project_id",
                        "Select project_id too (cco.conversation_project(conversation_id) gives \
                         a message's, cco.message_project(message_id) a tool call's), or add a \
                         RETURNING clause.",
                    );
                }
                let Some(selected) = selected_expression(query, source, select) else {
                    return;
                };
                if (*query).returningList.is_null()
                    && pg_sys::contain_vars_of_level(selected.cast(), 0)
                {
                    return;
                }
                let Some(column) = add_derived_output(select, selected, &functions) else {
                    return;
                };
                column_reference(query, select, column)
            }
            InsertSource::OneRow => match derivation_call(&functions, source) {
                Some(call) => call,
                None => return,
            },
        };
        match project {
            Some(given) => (*given).expr = derived,
            None => {
                targets.push(pg_sys::makeTargetEntry(
                    derived,
                    project_column,
                    project_id_name(),
                    false,
                ));
                (*query).targetList = targets.into_pg();
            }
        }
    }
}

/// `source` passed through `functions`, innermost first, unless the source cannot be computed a
/// second time to the same value: a DEFAULT placeholder, or a volatile expression.
unsafe fn derivation_call(
    functions: &[pg_sys::Oid],
    source: *mut pg_sys::Expr,
) -> Option<*mut pg_sys::Expr> {
    // SAFETY: `source` is an expression of the query being analyzed.
    unsafe {
        if is_node(source, pg_sys::NodeTag::T_SetToDefault)
            || pg_sys::contain_volatile_functions(source.cast())
        {
            return None;
        }
        let mut call: *mut pg_sys::Expr = pg_sys::copyObjectImpl(source.cast()).cast();
        for &function in functions {
            let mut arguments = PgList::<pg_sys::Expr>::new();
            arguments.push(call);
            call = pg_sys::makeFuncExpr(
                function,
                pg_sys::UUIDOID,
                arguments.into_pg(),
                pg_sys::InvalidOid,
                pg_sys::InvalidOid,
                pg_sys::CoercionForm::COERCE_EXPLICIT_CALL,
            )
            .cast();
        }
        Some(call)
    }
}

/// Where an INSERT's rows come from.
enum InsertSource {
    /// `VALUES (...)`: the target list holds the row's expressions.
    OneRow,
    /// `VALUES (...), (...)`: a VALUES list in the FROM.
    Values(*mut pg_sys::RangeTblEntry),
    /// `SELECT ...`: a subquery in the FROM.
    Select(*mut pg_sys::RangeTblEntry),
}

unsafe fn insert_source(query: *mut pg_sys::Query) -> InsertSource {
    // SAFETY: an analyzed INSERT's FROM list holds at most one RangeTblRef, to its rows' source.
    unsafe {
        let from = PgList::<pg_sys::Node>::from_pg((*(*query).jointree).fromlist);
        let Some(item) = from.head() else {
            return InsertSource::OneRow;
        };
        if from.len() != 1 || (*item).type_ != pg_sys::NodeTag::T_RangeTblRef {
            return InsertSource::OneRow;
        }
        let index = (*item.cast::<pg_sys::RangeTblRef>()).rtindex;
        let entry = pg_sys::rt_fetch(index as pg_sys::Index, (*query).rtable);
        match (*entry).rtekind {
            pg_sys::RTEKind::RTE_VALUES => InsertSource::Values(entry),
            pg_sys::RTEKind::RTE_SUBQUERY => InsertSource::Select(entry),
            _ => InsertSource::OneRow,
        }
    }
}

/// The range table index of `entry` in `query`.
unsafe fn index_of(query: *mut pg_sys::Query, entry: *mut pg_sys::RangeTblEntry) -> Option<i32> {
    // SAFETY: the range table holds RangeTblEntry nodes.
    unsafe {
        let entries = PgList::<pg_sys::RangeTblEntry>::from_pg((*query).rtable);
        let position = entries
            .iter_ptr()
            .position(|candidate| candidate == entry)?;
        i32::try_from(position + 1).ok()
    }
}

/// The column of `relation` that `source` is, if it is a plain column of it.
unsafe fn column_of(
    query: *mut pg_sys::Query,
    source: *mut pg_sys::Expr,
    relation: *mut pg_sys::RangeTblEntry,
) -> Option<pg_sys::AttrNumber> {
    // SAFETY: checked to be a Var before it is read as one.
    unsafe {
        if !is_node(source, pg_sys::NodeTag::T_Var) {
            return None;
        }
        let var = source.cast::<pg_sys::Var>();
        ((*var).varlevelsup == 0 && Some((*var).varno) == index_of(query, relation))
            .then_some((*var).varattno)
    }
}

/// What the SELECT computes for `source`: the output column it names, or `source` itself when it
/// reads no column (a literal or parameter, which PostgreSQL lifts out of the SELECT).
unsafe fn selected_expression(
    query: *mut pg_sys::Query,
    source: *mut pg_sys::Expr,
    select: *mut pg_sys::RangeTblEntry,
) -> Option<*mut pg_sys::Expr> {
    // SAFETY: the subquery's target list holds TargetEntry nodes numbered by resno.
    unsafe {
        if let Some(column) = column_of(query, source, select) {
            let outputs = PgList::<pg_sys::TargetEntry>::from_pg((*(*select).subquery).targetList);
            let output = outputs
                .iter_ptr()
                .find(|output| (**output).resno == column && !(**output).resjunk)?;
            return Some((*output).expr);
        }
        (!pg_sys::contain_vars_of_level(source.cast(), 0)).then_some(source)
    }
}

/// A reference to uuid column `column` of `relation`, one of the query's FROM items.
unsafe fn column_reference(
    query: *mut pg_sys::Query,
    relation: *mut pg_sys::RangeTblEntry,
    column: pg_sys::AttrNumber,
) -> *mut pg_sys::Expr {
    // SAFETY: `relation` was found in the query's range table.
    unsafe {
        let varno = index_of(query, relation).unwrap_or(0);
        pg_sys::makeVar(varno, column, pg_sys::UUIDOID, -1, pg_sys::InvalidOid, 0).cast()
    }
}

/// Appends `function(selected)` to the output of an INSERT's SELECT and returns its column
/// number; None, with the SELECT unchanged, where one more output column could change what it
/// returns (set operations, DISTINCT, grouping) or `selected` cannot be derived from.
unsafe fn add_derived_output(
    select: *mut pg_sys::RangeTblEntry,
    selected: *mut pg_sys::Expr,
    functions: &[pg_sys::Oid],
) -> Option<pg_sys::AttrNumber> {
    // SAFETY: `select` is a subquery range table entry: its query's target list numbers its
    // output columns, and its alias names each of them.
    unsafe {
        let inner = (*select).subquery;
        if !(*inner).setOperations.is_null()
            || !(*inner).distinctClause.is_null()
            || !(*inner).groupClause.is_null()
            || (*inner).hasAggs
            || (*inner).hasTargetSRFs
        {
            return None;
        }
        let mut outputs = PgList::<pg_sys::TargetEntry>::from_pg((*inner).targetList);
        // Hidden columns (for an ORDER BY) come last; a new output column cannot follow them.
        if outputs.iter_ptr().any(|output| (*output).resjunk) {
            return None;
        }
        let call = derivation_call(functions, selected)?;
        let column = pg_sys::AttrNumber::try_from(outputs.len() + 1).ok()?;
        outputs.push(pg_sys::makeTargetEntry(
            call,
            column,
            project_id_name(),
            false,
        ));
        (*inner).targetList = outputs.into_pg();
        let names = &mut (*(*select).eref).colnames;
        *names = pg_sys::lappend(*names, pg_sys::makeString(project_id_name()).cast());
        Some(column)
    }
}

fn project_id_name() -> *mut std::ffi::c_char {
    // SAFETY: copies a static string into the current memory context.
    unsafe { pg_sys::pstrdup(c"project_id".as_ptr()) }
}

/// Appends to every row of a VALUES list `function(<that row's source column>)`, and returns the
/// new column's number; None, with the list unchanged, if any row's source cannot be derived from.
unsafe fn add_derived_column(
    values: *mut pg_sys::RangeTblEntry,
    source_column: pg_sys::AttrNumber,
    functions: &[pg_sys::Oid],
) -> Option<pg_sys::AttrNumber> {
    // SAFETY: `values` is a VALUES range table entry: a list of rows, each a list of expressions,
    // one per column, and one type, typmod, collation and name per column.
    unsafe {
        let mut rows = PgList::<pg_sys::List>::from_pg((*values).values_lists);
        let mut calls = Vec::with_capacity(rows.len());
        for row in rows.iter_ptr() {
            let cells = PgList::<pg_sys::Expr>::from_pg(row);
            calls.push(derivation_call(
                functions,
                cells.get_ptr(source_column as usize - 1)?,
            )?);
        }
        for (index, call) in calls.into_iter().enumerate() {
            let mut cells = PgList::<pg_sys::Expr>::from_pg(rows.get_ptr(index)?);
            cells.push(call);
            rows.replace_ptr(index, cells.into_pg());
        }
        (*values).values_lists = rows.into_pg();
        (*values).coltypes = pg_sys::lappend_oid((*values).coltypes, pg_sys::UUIDOID);
        (*values).coltypmods = pg_sys::lappend_int((*values).coltypmods, -1);
        (*values).colcollations = pg_sys::lappend_oid((*values).colcollations, pg_sys::InvalidOid);
        let names = &mut (*(*values).eref).colnames;
        *names = pg_sys::lappend(*names, pg_sys::makeString(project_id_name()).cast());
        pg_sys::AttrNumber::try_from(pg_sys::list_length(*names)).ok()
    }
}

unsafe fn is_node(expression: *mut pg_sys::Expr, tag: pg_sys::NodeTag) -> bool {
    // SAFETY: every Expr starts with its node tag.
    unsafe { !expression.is_null() && (*expression.cast::<pg_sys::Node>()).type_ == tag }
}

unsafe fn is_null_constant(expression: *mut pg_sys::Expr) -> bool {
    // SAFETY: checked to be a Const before it is read as one.
    unsafe {
        is_node(expression, pg_sys::NodeTag::T_Const)
            && (*expression.cast::<pg_sys::Const>()).constisnull
    }
}

/// The oid of `cco.<name>(uuid)`, if it exists (an older version of the schema may lack it).
unsafe fn lookup_function(name: &CStr) -> Option<pg_sys::Oid> {
    // SAFETY: makeString keeps the pointers, so the names are copied into the current context.
    unsafe {
        let mut qualified = PgList::<pg_sys::String>::new();
        qualified.push(pg_sys::makeString(pg_sys::pstrdup(c"cco".as_ptr())));
        qualified.push(pg_sys::makeString(pg_sys::pstrdup(name.as_ptr())));
        let argument_types = [pg_sys::UUIDOID];
        let function =
            pg_sys::LookupFuncName(qualified.into_pg(), 1, argument_types.as_ptr(), true);
        (function != pg_sys::InvalidOid).then_some(function)
    }
}
