//! Analytics in SQL: the support functions of the `cco.latency_summary`, `cco.active_time`,
//! `cco.summarize_messages` and `cco.summarize_tool_calls` aggregates (created in
//! sql/08_analytics.sql, parallel-safe: state, combine, serialize, deserialize, final), and the
//! usage-block computation. The state machines live in
//! `cco_core::analytics`.

use cco_core::analytics::{
    anthropic_prices, compute_blocks, is_standard_service_tier, ActiveTime, LatencySketch,
    LongContext, MessageFacts, MessageSummary, Price, PriceCache, PriceList, PriceSource, Rates,
    ResponseUsage, Speed, TierRates, ToolCallSummary, UsageEntry, DEFAULT_IDLE_CUTOFF_MICROS,
};
use pgrx::datum::{Date, Internal, Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::{pg_sys, PgMemoryContexts, PgSqlErrorCode, PgTupleDesc};

use crate::errors::{raise, spi};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Days (since 2000-01-01) up to which the next day's midnight is surely a timestamp.
const LAST_BOUNDED_DAY: i32 = 106_000_000;

/// The aggregate state behind `state`, created in the aggregate's memory context (so it lives as
/// long as the group it summarises) the first time a group is seen.
fn aggregate_state<T>(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    create: impl FnOnce() -> T,
) -> Internal {
    if state.initialized() {
        return state;
    }
    Internal::from(Some(pg_sys::Datum::from(new_aggregate_state(
        fcinfo,
        create(),
    ))))
}

/// `value` moved into the calling aggregate's memory context, dropped when that context is.
fn new_aggregate_state<T>(fcinfo: pg_sys::FunctionCallInfo, value: T) -> *mut T {
    let mut context: pg_sys::MemoryContext = std::ptr::null_mut();
    // SAFETY: fcinfo is the call's own function call info; AggCheckCallContext only reads it.
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut context) } == 0 || context.is_null() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "this function is only for use inside its aggregate",
        );
    }
    PgMemoryContexts::For(context).leak_and_drop_on_delete(value)
}

/// The Rust value behind an initialized aggregate state.
fn state_mut<T>(state: &mut Internal) -> &mut T {
    // SAFETY: every state of these aggregates is created by `aggregate_state` with the type its
    // functions expect, and PostgreSQL hands each state only to its own aggregate's functions.
    unsafe { state.get_mut::<T>() }.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "aggregate state missing",
        )
    })
}

/// The combine function of an aggregate: `right` merged into `left` (created when the left
/// part saw no rows).
fn combine_states<T: Clone>(
    left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
    create: fn() -> T,
    merge: fn(&mut T, &T),
) -> Internal {
    let mut merged = aggregate_state(left, fcinfo, create);
    let mut right = right;
    if right.initialized() {
        let other = state_mut::<T>(&mut right).clone();
        merge(state_mut::<T>(&mut merged), &other);
    }
    merged
}

/// The deserialize function of an aggregate: the state its bytes decode to, or an error saying
/// why they do not.
fn decoded_state<T, E: std::fmt::Display>(
    decoded: Result<T, E>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let state = decoded.unwrap_or_else(|error| decode_error(error));
    aggregate_state(Internal::from(None), fcinfo, || state)
}

fn decode_error(error: impl std::fmt::Display) -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
        error.to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// cco.latency_summary(double precision | bigint)

/// The state functions of `cco.latency_summary`, called once per row, are the only functions of
/// this file written against PostgreSQL's calling convention directly: pgrx's generated wrapper
/// (argument decoding, memory-context switch) cost more than the sketch itself, and more than
/// the built-in `avg` spends per row. sql/08_analytics.sql declares them; the double precision one
/// keeps the symbol pgrx gave it, so catalogs created by earlier versions keep resolving it.
///
/// # Safety
/// Called by PostgreSQL with its two arguments (`internal`, `double precision`), as declared.
#[unsafe(no_mangle)]
#[pg_guard]
pub unsafe extern "C-unwind" fn latency_summary_add_wrapper(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: float8 is passed by value; its datum holds the value's bits.
    unsafe {
        add_to_latency_sketch(fcinfo, |sketch, value| {
            sketch.add(f64::from_bits(value.value() as u64))
        })
    }
}

/// # Safety
/// Called by PostgreSQL with its two arguments (`internal`, `bigint`), as declared.
#[unsafe(no_mangle)]
#[pg_guard]
pub unsafe extern "C-unwind" fn latency_summary_add_milliseconds(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    // SAFETY: int8 is passed by value.
    unsafe {
        add_to_latency_sketch(fcinfo, |sketch, value| {
            sketch.add_whole_milliseconds(value.value() as i64)
        })
    }
}

/// The body of both state functions: the state (created on a group's first row), with the
/// row's value added unless it is null.
///
/// # Safety
/// `fcinfo` holds two arguments: the state (null or made here) and a by-value datum.
#[inline(always)]
unsafe fn add_to_latency_sketch(
    fcinfo: pg_sys::FunctionCallInfo,
    add: impl FnOnce(&mut LatencySketch, pg_sys::Datum),
) -> pg_sys::Datum {
    // SAFETY: PostgreSQL passes a valid fcinfo holding the declared two arguments.
    let call = unsafe { &mut *fcinfo };
    let (state, value) = unsafe { (*call.args.as_ptr(), *call.args.as_ptr().add(1)) };
    let sketch: *mut LatencySketch = if state.isnull {
        new_aggregate_state(fcinfo, LatencySketch::new())
    } else {
        state.value.cast_mut_ptr()
    };
    if !value.isnull {
        // SAFETY: a non-null state was created by `new_aggregate_state` as a LatencySketch.
        add(unsafe { &mut *sketch }, value.value);
    }
    call.isnull = false;
    pg_sys::Datum::from(sketch)
}

#[unsafe(no_mangle)]
#[doc(hidden)]
pub extern "C" fn pg_finfo_latency_summary_add_wrapper() -> &'static pg_sys::Pg_finfo_record {
    &VERSION_1
}

#[unsafe(no_mangle)]
#[doc(hidden)]
pub extern "C" fn pg_finfo_latency_summary_add_milliseconds() -> &'static pg_sys::Pg_finfo_record {
    &VERSION_1
}

const VERSION_1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };

#[pg_extern(immutable, parallel_safe)]
fn latency_summary_combine(
    left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    combine_states(
        left,
        right,
        fcinfo,
        LatencySketch::new,
        LatencySketch::merge,
    )
}

#[pg_extern(immutable, parallel_safe, strict)]
fn latency_summary_serialize(state: Internal) -> Vec<u8> {
    let mut state = state;
    state_mut::<LatencySketch>(&mut state).to_bytes()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn latency_summary_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    decoded_state(LatencySketch::from_bytes(bytes), fcinfo)
}

#[pg_extern(immutable, parallel_safe, requires = ["types"])]
fn latency_summary_final(state: Internal) -> pgrx::composite_type!('static, "cco.latency_stats") {
    let mut state = state;
    let summary = if state.initialized() {
        state_mut::<LatencySketch>(&mut state).summary()
    } else {
        LatencySketch::new().summary()
    };
    let mut row = PgHeapTuple::new_composite_type("cco.latency_stats").unwrap_or_else(|error| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("cco.latency_stats: {error}"),
        )
    });
    set_field(
        &mut row,
        "count",
        i64::try_from(summary.count).unwrap_or(i64::MAX),
    );
    for (name, value) in [
        ("min", summary.min),
        ("max", summary.max),
        ("mean", summary.mean),
        ("p50", summary.p50),
        ("p90", summary.p90),
        ("p95", summary.p95),
        ("p99", summary.p99),
    ] {
        set_field(&mut row, name, value);
    }
    row
}

fn set_field<T: IntoDatum>(row: &mut PgHeapTuple<'_, AllocatedByRust>, name: &str, value: T) {
    if let Err(error) = row.set_by_name(name, value) {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("cco.latency_stats.{name}: {error}"),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// cco.active_time(timestamptz [, interval])

/// The active-time state: timestamps and the idle cut-off they are measured with.
struct ActiveTimeState {
    timestamps: ActiveTime,
    idle_cutoff_micros: i64,
}

impl ActiveTimeState {
    fn new() -> ActiveTimeState {
        ActiveTimeState {
            timestamps: ActiveTime::new(),
            idle_cutoff_micros: DEFAULT_IDLE_CUTOFF_MICROS,
        }
    }
}

/// An interval's length in microseconds, months counted as 30 days; an interval longer than
/// that can count (178 million years) is as long as the longest.
/// The longest usage block: 1000 years of 365.25 days.
const MAX_BLOCK_LENGTH_MICROS: i64 = 1000 * 36_525 * MICROS_PER_DAY / 100;

fn interval_micros(interval: &Interval) -> i64 {
    let days = i64::from(interval.months()) * 30 + i64::from(interval.days());
    days.saturating_mul(MICROS_PER_DAY)
        .saturating_add(interval.micros())
}

fn unix_micros(at: TimestampWithTimeZone) -> i64 {
    pg_sys::TimestampTz::from(at).saturating_add(POSTGRES_EPOCH_MICROS)
}

#[pg_extern(immutable, parallel_safe)]
fn active_time_add(
    state: Internal,
    at: Option<TimestampWithTimeZone>,
    idle_cutoff: Option<Interval>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let mut state = aggregate_state(state, fcinfo, ActiveTimeState::new);
    let active = state_mut::<ActiveTimeState>(&mut state);
    if let Some(cutoff) = idle_cutoff {
        active.idle_cutoff_micros = interval_micros(&cutoff).max(0);
    }
    if let Some(at) = at {
        active.timestamps.add(unix_micros(at));
    }
    state
}

#[pg_extern(immutable, parallel_safe)]
fn active_time_add_default(
    state: Internal,
    at: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    active_time_add(state, at, None, fcinfo)
}

#[pg_extern(immutable, parallel_safe)]
fn active_time_combine(
    left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let mut merged = aggregate_state(left, fcinfo, ActiveTimeState::new);
    let mut right = right;
    if right.initialized() {
        let other = state_mut::<ActiveTimeState>(&mut right);
        let (timestamps, cutoff) = (other.timestamps.clone(), other.idle_cutoff_micros);
        let target = state_mut::<ActiveTimeState>(&mut merged);
        target.timestamps.merge(&timestamps);
        target.idle_cutoff_micros = cutoff;
    }
    merged
}

#[pg_extern(immutable, parallel_safe, strict)]
fn active_time_serialize(state: Internal) -> Vec<u8> {
    let mut state = state;
    let active = state_mut::<ActiveTimeState>(&mut state);
    let mut bytes = active.idle_cutoff_micros.to_le_bytes().to_vec();
    bytes.extend(active.timestamps.to_bytes());
    bytes
}

#[pg_extern(immutable, parallel_safe, strict)]
fn active_time_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let (cutoff, rest) = bytes
        .split_at_checked(8)
        .unwrap_or_else(|| decode_error("active time state is too short"));
    let idle_cutoff_micros = i64::from_le_bytes(
        cutoff
            .try_into()
            .unwrap_or_else(|_| decode_error("active time state is too short")),
    );
    let timestamps = ActiveTime::from_bytes(rest).unwrap_or_else(|error| decode_error(error));
    aggregate_state(Internal::from(None), fcinfo, || ActiveTimeState {
        timestamps,
        idle_cutoff_micros,
    })
}

#[pg_extern(immutable, parallel_safe)]
fn active_time_final(state: Internal) -> Option<Interval> {
    let mut state = state;
    if !state.initialized() {
        return None;
    }
    let active = state_mut::<ActiveTimeState>(&mut state);
    let micros = active.timestamps.active_micros(active.idle_cutoff_micros);
    Interval::new(0, 0, micros).ok()
}

// ---------------------------------------------------------------------------------------------
// cco.summarize_messages(...) and cco.summarize_tool_calls(...): a conversation in one pass

#[allow(clippy::too_many_arguments)]
#[pg_extern(stable, parallel_safe)]
fn summarize_messages_add(
    state: Internal,
    role: Option<&str>,
    content_length: Option<i32>,
    at: Option<TimestampWithTimeZone>,
    starts_thread: Option<bool>,
    depth: Option<i32>,
    model: Option<&str>,
    input_tokens: Option<i32>,
    output_tokens: Option<i32>,
    cache_creation_tokens: Option<i32>,
    cache_read_tokens: Option<i32>,
    token_count: Option<i32>,
    cache_creation_1h_tokens: Option<i32>,
    web_search_requests: Option<i32>,
    web_fetch_requests: Option<i32>,
    speed: Option<&str>,
    service_tier: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let mut state = aggregate_state(state, fcinfo, MessageSummary::new);
    // Only API responses (messages with tokens) are priced, as cco.message_usage counts them.
    let cost = match (model, at) {
        (Some(model), Some(at)) if token_count.unwrap_or(0) > 0 => {
            let [input, output, cache_creation, cache_read, cache_creation_1h, searches, fetches] =
                [
                    input_tokens,
                    output_tokens,
                    cache_creation_tokens,
                    cache_read_tokens,
                    cache_creation_1h_tokens,
                    web_search_requests,
                    web_fetch_requests,
                ]
                .map(|count| i64::from(count.unwrap_or(0)));
            let usage = response_usage(
                [
                    input,
                    output,
                    cache_creation,
                    cache_read,
                    cache_creation_1h,
                    searches,
                    fetches,
                ],
                speed,
                service_tier,
            );
            query_pricing(fcinfo).cost(model, at, &usage)
        }
        _ => None,
    };
    state_mut::<MessageSummary>(&mut state).add(MessageFacts {
        role: role.unwrap_or(""),
        content_length: content_length.map(i64::from),
        at_micros: at.map(unix_micros),
        is_root: starts_thread.unwrap_or(false),
        depth: depth.map(i64::from),
        cost,
    });
    state
}

#[pg_extern(immutable, parallel_safe)]
fn summarize_messages_combine(
    left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    combine_states(
        left,
        right,
        fcinfo,
        MessageSummary::new,
        MessageSummary::merge,
    )
}

#[pg_extern(immutable, parallel_safe, strict)]
fn summarize_messages_serialize(state: Internal) -> Vec<u8> {
    let mut state = state;
    state_mut::<MessageSummary>(&mut state).to_bytes()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn summarize_messages_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    decoded_state(MessageSummary::from_bytes(bytes), fcinfo)
}

#[pg_extern(immutable, parallel_safe, requires = ["types"])]
fn summarize_messages_final(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> pgrx::composite_type!('static, "cco.message_summary") {
    let mut state = state;
    let empty = MessageSummary::new();
    let summary = if state.initialized() {
        &*state_mut::<MessageSummary>(&mut state)
    } else {
        &empty
    };
    let time = |micros: Option<i64>| {
        micros
            .and_then(|micros| TimestampWithTimeZone::try_from(micros - POSTGRES_EPOCH_MICROS).ok())
    };
    let active = (summary.messages > 0)
        .then(|| Interval::new(0, 0, summary.active_micros(DEFAULT_IDLE_CUTOFF_MICROS)).ok())
        .flatten();
    composite_result(
        fcinfo,
        [
            summary.messages.into_datum(),
            summary.user_messages.into_datum(),
            summary.assistant_messages.into_datum(),
            bigint_sum("content_length_sum", summary.content_length.sum).into_datum(),
            summary.content_length.count.into_datum(),
            narrow(summary.content_length.max).into_datum(),
            time(summary.first_micros).into_datum(),
            time(summary.last_micros).into_datum(),
            active.into_datum(),
            summary.root_messages.into_datum(),
            bigint_sum("depth_sum", summary.depth.sum).into_datum(),
            summary.depth.count.into_datum(),
            narrow(summary.depth.max).into_datum(),
            summary.cost.into_datum(),
        ],
    )
}

#[pg_extern(immutable, parallel_safe)]
fn summarize_tool_calls_add(
    state: Internal,
    tool_name: Option<&str>,
    status: Option<&str>,
    execution_time_ms: Option<i64>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    let mut state = aggregate_state(state, fcinfo, ToolCallSummary::new);
    state_mut::<ToolCallSummary>(&mut state).add(tool_name, status, execution_time_ms);
    state
}

#[pg_extern(immutable, parallel_safe)]
fn summarize_tool_calls_combine(
    left: Internal,
    right: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    combine_states(
        left,
        right,
        fcinfo,
        ToolCallSummary::new,
        ToolCallSummary::merge,
    )
}

#[pg_extern(immutable, parallel_safe, strict)]
fn summarize_tool_calls_serialize(state: Internal) -> Vec<u8> {
    let mut state = state;
    state_mut::<ToolCallSummary>(&mut state).to_bytes()
}

#[pg_extern(immutable, parallel_safe, strict)]
fn summarize_tool_calls_deserialize(
    bytes: &[u8],
    _unused: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    decoded_state(ToolCallSummary::from_bytes(bytes), fcinfo)
}

#[pg_extern(immutable, parallel_safe, requires = ["types"])]
fn summarize_tool_calls_final(
    state: Internal,
    fcinfo: pg_sys::FunctionCallInfo,
) -> pgrx::composite_type!('static, "cco.tool_call_summary") {
    let mut state = state;
    let empty = ToolCallSummary::new();
    let summary = if state.initialized() {
        &*state_mut::<ToolCallSummary>(&mut state)
    } else {
        &empty
    };
    composite_result(
        fcinfo,
        [
            summary.calls.into_datum(),
            summary.successful.into_datum(),
            summary.failed.into_datum(),
            summary.distinct_tools().into_datum(),
            bigint_sum("execution_ms_sum", summary.execution_ms.sum).into_datum(),
            summary.execution_ms.count.into_datum(),
        ],
    )
}

/// An exact sum as the bigint the summary type declares; a sum past its range is an error, as
/// PostgreSQL's own integer arithmetic reports it, and the same in a serial and a parallel plan.
fn bigint_sum(field: &str, sum: i128) -> i64 {
    i64::try_from(sum).unwrap_or_else(|_| {
        raise(
            PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            format!("{field} {sum} is out of range for bigint"),
        )
    })
}

/// A maximum of integer columns, as the integer it was.
fn narrow(max: Option<i64>) -> Option<i32> {
    max.and_then(|max| i32::try_from(max).ok())
}

/// A row of the composite type the calling final function returns, from its fields in order.
/// Formed in one step: one group's row, where setting fields by name would re-form it per field.
fn composite_result<const N: usize>(
    fcinfo: pg_sys::FunctionCallInfo,
    fields: [Option<pg_sys::Datum>; N],
) -> PgHeapTuple<'static, AllocatedByRust> {
    // SAFETY: fcinfo is the call's own; its flinfo's expression is the aggregate's final call,
    // whose result type is the composite this function is declared to return.
    let type_oid = unsafe { pg_sys::get_fn_expr_rettype((*fcinfo).flinfo) };
    let descriptor = PgTupleDesc::for_composite_type_by_oid(type_oid).unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "summary result type is not a composite type",
        )
    });
    // SAFETY: each datum was made by IntoDatum from the Rust type of its field in sql/00_types.sql.
    unsafe { PgHeapTuple::from_datums(descriptor, fields) }.unwrap_or_else(|error| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("summary row: {error}"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Usage blocks

/// Groups usage entries (given as parallel arrays, any order) into 5-hour blocks and gaps, by the
/// rules in `cco_core::analytics::usage_blocks`, and prices each entry by `cco.model_pricing` as
/// `cco.response_cost` does.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn compute_usage_blocks(
    entry_times: Vec<Option<TimestampWithTimeZone>>,
    input_tokens: Vec<Option<i64>>,
    output_tokens: Vec<Option<i64>>,
    cache_creation_tokens: Vec<Option<i64>>,
    cache_read_tokens: Vec<Option<i64>>,
    models: Vec<Option<String>>,
    cache_creation_1h_tokens: Vec<Option<i64>>,
    web_search_requests: Vec<Option<i64>>,
    web_fetch_requests: Vec<Option<i64>>,
    speeds: Vec<Option<String>>,
    service_tiers: Vec<Option<String>>,
    now: TimestampWithTimeZone,
    block_length: default!(Interval, "'5 hours'"),
) -> TableIterator<
    'static,
    (
        name!(block_start, TimestampWithTimeZone),
        name!(block_end, TimestampWithTimeZone),
        name!(first_entry, Option<TimestampWithTimeZone>),
        name!(last_entry, Option<TimestampWithTimeZone>),
        name!(is_active, bool),
        name!(is_gap, bool),
        name!(entries, i64),
        name!(input_tokens, i64),
        name!(output_tokens, i64),
        name!(cache_creation_tokens, i64),
        name!(cache_read_tokens, i64),
        name!(total_tokens, i64),
        name!(cost, f64),
        name!(models, Vec<String>),
        name!(burn_tokens_per_minute, Option<f64>),
        name!(burn_cost_per_hour, Option<f64>),
        name!(projected_total_tokens, Option<i64>),
        name!(projected_cost, Option<f64>),
        name!(remaining_minutes, Option<i64>),
    ),
> {
    let n = entry_times.len();
    if [
        input_tokens.len(),
        output_tokens.len(),
        cache_creation_tokens.len(),
        cache_read_tokens.len(),
        models.len(),
        cache_creation_1h_tokens.len(),
        web_search_requests.len(),
        web_fetch_requests.len(),
        speeds.len(),
        service_tiers.len(),
    ]
    .iter()
    .any(|&len| len != n)
    {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "usage arrays must all have the same length",
        );
    }
    let length = interval_micros(&block_length);
    // A block's end must stay a timestamp PostgreSQL can hold.
    if length <= 0 || length > MAX_BLOCK_LENGTH_MICROS {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("block_length must be positive and at most 1000 years, not {block_length}"),
        );
    }
    let mut pricing = QueryPricing::load();
    let entries: Vec<UsageEntry> = entry_times
        .iter()
        .zip(models)
        .enumerate()
        .filter_map(|(i, (at, model))| {
            let at = (*at)?;
            let counts = [
                input_tokens[i],
                output_tokens[i],
                cache_creation_tokens[i],
                cache_read_tokens[i],
                cache_creation_1h_tokens[i],
                web_search_requests[i],
                web_fetch_requests[i],
            ]
            .map(|count| count.unwrap_or(0));
            let tokens = counts;
            let usage = response_usage(counts, speeds[i].as_deref(), service_tiers[i].as_deref());
            Some(UsageEntry {
                timestamp_micros: unix_micros(at),
                input_tokens: tokens[0],
                output_tokens: tokens[1],
                cache_creation_tokens: tokens[2],
                cache_read_tokens: tokens[3],
                // An unpriced response adds nothing here; cco.unpriced_models lists them.
                cost: model
                    .as_deref()
                    .and_then(|model| pricing.cost(model, at, &usage))
                    .unwrap_or(0.0),
                model,
            })
        })
        .collect();
    let to_time = |micros: i64| {
        TimestampWithTimeZone::try_from(micros - POSTGRES_EPOCH_MICROS).unwrap_or_else(|_| {
            raise(
                PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
                "usage block time out of range",
            )
        })
    };
    let rows: Vec<_> = compute_blocks(&entries, unix_micros(now), length)
        .into_iter()
        .map(|block| {
            (
                to_time(block.start_micros),
                to_time(block.end_micros),
                block.first_entry_micros.map(to_time),
                block.last_entry_micros.map(to_time),
                block.is_active,
                block.is_gap,
                i64::try_from(block.entries).unwrap_or(i64::MAX),
                block.input_tokens,
                block.output_tokens,
                block.cache_creation_tokens,
                block.cache_read_tokens,
                block.total_tokens,
                block.cost,
                block.models,
                block.burn_tokens_per_minute,
                block.burn_cost_per_hour,
                block.projected_total_tokens,
                block.projected_cost,
                block.remaining_minutes,
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// The cost in USD of one API response by `cco.model_pricing` (the rules of
/// `cco_core::analytics::pricing`: the model's own id or its id without the date suffix, the
/// latest price not after the response's day in the session's time zone, operators' prices before
/// imported before seeded ones); NULL when no price applies or the price does not cover the
/// response (a fast response without a fast price, say). The price list is read once per query and
/// each model and day priced once, so a view can cost every response in the same pass that counts
/// them, where a per-response SQL lookup would cost microseconds each.
#[allow(clippy::too_many_arguments)]
#[pg_extern(stable, parallel_safe)]
fn response_cost(
    model: Option<&str>,
    at: Option<TimestampWithTimeZone>,
    input_tokens: Option<i64>,
    output_tokens: Option<i64>,
    cache_creation_tokens: Option<i64>,
    cache_read_tokens: Option<i64>,
    cache_creation_1h_tokens: Option<i64>,
    web_search_requests: Option<i64>,
    web_fetch_requests: Option<i64>,
    speed: Option<&str>,
    service_tier: Option<&str>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<f64> {
    let counts = [
        input_tokens,
        output_tokens,
        cache_creation_tokens,
        cache_read_tokens,
        cache_creation_1h_tokens,
        web_search_requests,
        web_fetch_requests,
    ]
    .map(|count| count.unwrap_or(0));
    query_pricing(fcinfo).cost(model?, at?, &response_usage(counts, speed, service_tier))
}

/// A response's usage from the counts stored per message: input, output, all cache writes, cache
/// reads, the 1-hour part of the writes, web searches and web fetches.
fn response_usage(
    counts: [i64; 7],
    speed: Option<&str>,
    service_tier: Option<&str>,
) -> ResponseUsage {
    let [input, output, cache_creation, cache_read, cache_creation_1h, web_search_requests, web_fetch_requests] =
        counts;
    let cache_write_1h_tokens = cache_creation_1h.clamp(0, cache_creation.max(0));
    ResponseUsage {
        input_tokens: input,
        output_tokens: output,
        cache_write_5m_tokens: cache_creation - cache_write_1h_tokens,
        cache_write_1h_tokens,
        cache_read_tokens: cache_read,
        web_search_requests,
        web_fetch_requests,
        speed: Speed::from_label(speed),
        standard_service: is_standard_service_tier(service_tier),
    }
}

/// The Anthropic models of LiteLLM's price data (`model_prices_and_context_window.json`) as rows
/// of cco.model_pricing's price columns, prices as exact decimal strings; cco.import_prices
/// stores them. Malformed data is an error naming the entry and field.
///
/// Takes the JSON as text and reads it here, so that what JSON allows but a reader of numbers
/// cannot hold (`1e400`) is refused as bad input, not as an internal error.
#[pg_extern(immutable, parallel_safe)]
fn litellm_anthropic_prices(prices: &str) -> pgrx::JsonB {
    let prices: serde_json::Value = serde_json::from_str(prices).unwrap_or_else(|problem| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("LiteLLM's price data cannot be read: {problem}"),
        )
    });
    let models = anthropic_prices(&prices)
        .unwrap_or_else(|problem| raise(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, problem));
    let rates = |rates: &TierRates, prefix: &str, suffix: &str| {
        let name = |kind: &str| format!("{prefix}{kind}{suffix}");
        [
            (name("input"), rates.input.clone()),
            (name("output"), rates.output.clone()),
            (name("cache_write"), rates.cache_write_5m.clone()),
            (name("cache_write_1h"), rates.cache_write_1h.clone()),
            (name("cache_read"), rates.cache_read.clone()),
        ]
    };
    let rows: Vec<serde_json::Value> = models
        .iter()
        .map(|price| {
            let mut row = serde_json::Map::new();
            row.insert("model".into(), price.model.clone().into());
            for (field, value) in rates(&price.rates, "", "_per_million")
                .into_iter()
                .chain(rates(&price.long_context_rates, "", "_above_per_million"))
            {
                row.insert(field, value.into());
            }
            row.insert(
                "long_context_above_tokens".into(),
                price.long_context_above_tokens.into(),
            );
            row.insert(
                "web_search_per_request".into(),
                price.web_search_per_request.clone().into(),
            );
            row.insert(
                "fast_multiplier".into(),
                price.fast_multiplier.clone().into(),
            );
            serde_json::Value::Object(row)
        })
        .collect();
    pgrx::JsonB(serde_json::Value::Array(rows))
}

/// The price list of a query, with the days and prices it has already worked out.
struct QueryPricing {
    prices: PriceCache,
    days: LocalDays,
}

impl QueryPricing {
    fn load() -> QueryPricing {
        QueryPricing {
            prices: stored_price_list().cached(),
            days: LocalDays::default(),
        }
    }

    /// The cost of a response; None when no price applies to its model on its day.
    fn cost(
        &mut self,
        model: &str,
        at: TimestampWithTimeZone,
        usage: &ResponseUsage,
    ) -> Option<f64> {
        let day = self.days.day_of(at);
        self.prices.cost(model, day, usage)
    }
}

fn query_pricing<'a>(fcinfo: pg_sys::FunctionCallInfo) -> &'a mut QueryPricing {
    // SAFETY: fcinfo and its flinfo are the call's own; fn_extra belongs to this function and
    // holds nothing but a QueryPricing allocated in fn_mcxt, which outlives every call made
    // through this flinfo.
    unsafe {
        let flinfo = (*fcinfo).flinfo;
        if (*flinfo).fn_extra.is_null() {
            (*flinfo).fn_extra = PgMemoryContexts::For((*flinfo).fn_mcxt)
                .leak_and_drop_on_delete(QueryPricing::load())
                .cast();
        }
        &mut *(*flinfo).fn_extra.cast::<QueryPricing>()
    }
}

/// `cco.model_pricing`, as the caller may read it. Prices a row leaves empty are filled here, by
/// the rules its column comments state.
fn stored_price_list() -> PriceList {
    const PRICES: &str = "select model, effective_from, \
                                 input_per_million::float8, output_per_million::float8, cache_write_per_million::float8, \
                                 coalesce(cache_write_1h_per_million, 2 * input_per_million)::float8, cache_read_per_million::float8, \
                                 long_context_above_tokens, \
                                 coalesce(input_above_per_million, input_per_million)::float8, \
                                 coalesce(output_above_per_million, output_per_million)::float8, \
                                 coalesce(cache_write_above_per_million, cache_write_per_million)::float8, \
                                 coalesce(cache_write_1h_above_per_million, 2 * coalesce(input_above_per_million, input_per_million))::float8, \
                                 coalesce(cache_read_above_per_million, cache_read_per_million)::float8, \
                                 web_search_per_request::float8, web_fetch_per_request::float8, fast_multiplier::float8, \
                                 seeded, imported \
                          from cco.model_pricing";
    let prices = spi(Spi::connect(|client| {
        let mut prices = Vec::new();
        for row in client.select(PRICES, None, &[])? {
            let rate = |column: usize| row.get::<f64>(column).map(Option::unwrap_or_default);
            let rates_from = |first: usize| -> Result<Rates, pgrx::spi::Error> {
                Ok(Rates {
                    input: rate(first)?,
                    output: rate(first + 1)?,
                    cache_write_5m: rate(first + 2)?,
                    cache_write_1h: rate(first + 3)?,
                    cache_read: rate(first + 4)?,
                })
            };
            let (Some(model), Some(from)) = (row.get::<String>(1)?, row.get::<Date>(2)?) else {
                continue;
            };
            let long_context = match row.get::<i64>(8)? {
                Some(above_tokens) => Some(LongContext {
                    above_tokens,
                    rates: rates_from(9)?,
                }),
                None => None,
            };
            prices.push(Price {
                model,
                effective_from_day: from.to_pg_epoch_days(),
                source: match (row.get::<bool>(17)?, row.get::<bool>(18)?) {
                    (Some(true), _) => PriceSource::Seeded,
                    (_, Some(true)) => PriceSource::Imported,
                    _ => PriceSource::Operator,
                },
                rates: rates_from(3)?,
                long_context,
                web_search_per_request: row.get::<f64>(14)?,
                web_fetch_per_request: rate(15)?,
                fast_multiplier: row.get::<f64>(16)?,
            });
        }
        Ok::<_, pgrx::spi::Error>(prices)
    }));
    PriceList::new(prices)
}

/// Days in the session's time zone, as `timestamptz::date` gives them, asking PostgreSQL once
/// per day rather than once per timestamp: each answer comes with the day's bounds.
#[derive(Default)]
struct LocalDays {
    /// The last day looked up, its first microsecond and the first of the next day.
    last: Option<(i32, i64, i64)>,
}

impl LocalDays {
    fn day_of(&mut self, at: TimestampWithTimeZone) -> i32 {
        let micros = pg_sys::TimestampTz::from(at);
        if let Some((day, start, end)) = self.last {
            if (start..end).contains(&micros) {
                return day;
            }
        }
        let date = Date::from(at);
        let day = date.to_pg_epoch_days();
        // Infinite dates, and days near the end of the timestamp range (year 294276), are not
        // bounded: the next day may not be a timestamp.
        let bounded = date.is_finite() && day < LAST_BOUNDED_DAY;
        self.last = match bounded.then(|| Date::try_from(day + 1)) {
            Some(Ok(next)) => Some((
                day,
                pg_sys::TimestampTz::from(TimestampWithTimeZone::from(date)),
                pg_sys::TimestampTz::from(TimestampWithTimeZone::from(next)),
            )),
            _ => None,
        };
        day
    }
}
