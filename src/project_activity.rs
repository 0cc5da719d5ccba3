//! On Citus: `projects.last_activity` follows every write of messages within a second, and the
//! cco_messages notification reaches the clients listening on the coordinator.
//!
//! On a single server the statistics triggers move a project's last_activity in the writer's own
//! transaction. On Citus they run on the message shards, where the project is a row of a reference
//! table that they cannot write (sql/10_citus.sql). There they note the project in
//! `cco.project_activity_changes`, a table co-located with the messages, and a worker on the
//! coordinator takes the notes every `cco.project_activity_interval` (a second by default) with
//! `cco.catch_up_project_activity()`, which sets those projects' last_activity from their
//! conversations and notifies.
//!
//! Which databases have such a worker is decided by a launcher, which the server starts where it
//! preloads cco beside Citus. Every ten seconds the launcher starts a worker in each database that
//! has none; a worker in a database where cco is not distributed, or on a node other than the
//! coordinator, leaves at once. A worker also leaves as soon as someone waits to drop, rename or
//! copy its database, which PostgreSQL refuses while other sessions are connected.

use std::collections::HashMap;
use std::time::Duration;

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags,
};
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::identity::setting;

/// `cco.project_activity_interval`: how long the worker waits between two catch-ups.
static INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// How often the launcher looks for databases without a worker.
const LAUNCH_INTERVAL: Duration = Duration::from_secs(10);

/// The worker's name in pg_stat_activity.backend_type.
const WORKER_TYPE: &str = "cco project activity";

/// The advisory lock a worker holds for as long as it runs, so that a database has one at most;
/// the class is "cca" in ASCII (sql/10_citus.sql takes the same class, key 0, per catch-up).
const ONE_WORKER_LOCK: &str = "select pg_catalog.pg_try_advisory_lock(6513505, 1)";

/// Defines the setting; called once when the library is loaded.
pub fn define_settings() {
    GucRegistry::define_int_guc(
        c"cco.project_activity_interval",
        c"How long, on the Citus coordinator, the project activity worker waits between catch-ups.",
        c"Each catch-up sets the last_activity of the projects whose messages changed since the last one, and notifies channel cco_messages.",
        &INTERVAL_MS,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
}

/// Registers the launcher when the server preloads cco beside Citus; called from `_PG_init`.
pub fn register_launcher() {
    // SAFETY: read in _PG_init, where PostgreSQL has set it for this load.
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } || !preloads_citus() {
        return;
    }
    BackgroundWorkerBuilder::new("cco project activity launcher")
        .set_library("cco")
        .set_function("cco_project_activity_launcher")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(LAUNCH_INTERVAL))
        .load();
}

fn preloads_citus() -> bool {
    setting(c"shared_preload_libraries").is_some_and(|libraries| {
        libraries
            .split(',')
            .any(|library| library.trim().trim_matches('"') == "citus")
    })
}

/// The launcher's main loop. Connected to no database, it reads the shared catalog pg_database.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn cco_project_activity_launcher(_argument: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi(None, None);
    let mut workers: HashMap<pg_sys::Oid, *mut pg_sys::BackgroundWorkerHandle> = HashMap::new();
    loop {
        let databases = connectable_databases();
        workers.retain(|_, handle| {
            let running = is_running(*handle);
            if !running {
                // SAFETY: the handle was allocated by RegisterDynamicBackgroundWorker in this
                // process's top memory context and is not used again.
                unsafe { pg_sys::pfree((*handle).cast()) };
            }
            running
        });
        for database in databases {
            if let std::collections::hash_map::Entry::Vacant(slot) = workers.entry(database) {
                if let Some(handle) = start_worker(database) {
                    slot.insert(handle);
                }
            }
        }
        if !BackgroundWorker::wait_latch(Some(LAUNCH_INTERVAL)) {
            break;
        }
    }
}

/// The databases that accept connections, templates left out.
fn connectable_databases() -> Vec<pg_sys::Oid> {
    let mut databases = Vec::new();
    // SAFETY: a catalog scan of the shared pg_database inside a transaction of its own, as
    // PostgreSQL's own launchers do; each tuple is read before the next is fetched.
    unsafe {
        pg_sys::StartTransactionCommand();
        let catalog = pg_sys::table_open(
            pg_sys::DatabaseRelationId,
            pg_sys::AccessShareLock as pg_sys::LOCKMODE,
        );
        let scan = pg_sys::table_beginscan_catalog(catalog, 0, std::ptr::null_mut());
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let database = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
            if database.datallowconn && !database.datistemplate {
                databases.push(database.oid);
            }
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(catalog, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        pg_sys::CommitTransactionCommand();
    }
    databases
}

fn is_running(handle: *mut pg_sys::BackgroundWorkerHandle) -> bool {
    let mut pid: pg_sys::pid_t = 0;
    // SAFETY: the handle came from RegisterDynamicBackgroundWorker and was not freed.
    let status = unsafe { pg_sys::GetBackgroundWorkerPid(handle, &mut pid) };
    matches!(
        status,
        pg_sys::BgwHandleStatus::BGWH_STARTED | pg_sys::BgwHandleStatus::BGWH_NOT_YET_STARTED
    )
}

/// Starts a worker for one database; None when no background worker slot is free, which the next
/// round tries again.
fn start_worker(database: pg_sys::Oid) -> Option<*mut pg_sys::BackgroundWorkerHandle> {
    let builder = BackgroundWorkerBuilder::new(&format!("{WORKER_TYPE} in database {database}"))
        .set_type(WORKER_TYPE)
        .set_library("cco")
        .set_function("cco_project_activity_worker")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_argument(Some(pg_sys::Datum::from(database.to_u32())));
    let mut worker: pg_sys::BackgroundWorker = (&builder).into();
    let mut handle: *mut pg_sys::BackgroundWorkerHandle = std::ptr::null_mut();
    // SAFETY: worker is a complete registration; PostgreSQL sets handle when it succeeds.
    let registered = unsafe { pg_sys::RegisterDynamicBackgroundWorker(&mut worker, &mut handle) };
    registered.then_some(handle)
}

/// A worker's main loop, in one database.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn cco_project_activity_worker(argument: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = pg_sys::Oid::from(argument.value() as u32);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(database), None);
    if !BackgroundWorker::transaction(is_needed_here) {
        return;
    }
    log!("cco project activity worker started");
    loop {
        let interval = u64::try_from(INTERVAL_MS.get()).unwrap_or(1000);
        if !BackgroundWorker::wait_latch(Some(Duration::from_millis(interval))) {
            break;
        }
        if BackgroundWorker::sighup_received() {
            // SAFETY: outside any transaction, as PostgreSQL's own processes reload it.
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let carry_on = BackgroundWorker::transaction(|| {
            if database_is_wanted(database) {
                return false;
            }
            Spi::run("select cco.catch_up_project_activity()").is_ok()
        });
        if !carry_on {
            break;
        }
    }
}

/// Whether this database has cco distributed and this node is its coordinator; if so, takes the
/// lock that keeps a second worker out.
fn is_needed_here() -> bool {
    let installed = Spi::get_one::<bool>(
        "select count(*) = 2 from pg_catalog.pg_extension where extname in ('citus', 'cco')",
    );
    if installed != Ok(Some(true)) {
        return false;
    }
    let distributed = Spi::get_one::<bool>(
        "select cco.on_citus_coordinator()
                and exists (select from pg_catalog.pg_dist_partition
                            where logicalrelid = 'cco.messages'::pg_catalog.regclass)",
    );
    distributed == Ok(Some(true)) && Spi::get_one::<bool>(ONE_WORKER_LOCK) == Ok(Some(true))
}

/// Whether a session waits to drop, rename or copy this database: it holds the database's lock
/// and waits for the other sessions to leave.
fn database_is_wanted(database: pg_sys::Oid) -> bool {
    Spi::get_one_with_args::<bool>(
        "select exists (select from pg_catalog.pg_locks
                        where locktype = 'object' and granted
                          and classid = 'pg_catalog.pg_database'::pg_catalog.regclass
                          and objid = $1 and mode in ('ShareLock', 'AccessExclusiveLock'))",
        &[database.into()],
    ) == Ok(Some(true))
}
