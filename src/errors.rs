//! Raising PostgreSQL errors with the SQLSTATE a client can act on.
//!
//! Input a user got wrong is reported through `ereport`, never through a Rust panic: the client
//! then sees a proper SQLSTATE, a message naming what is wrong and, where useful, a detail or hint.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

/// Aborts the current statement with `code` and `message`.
pub fn raise(code: PgSqlErrorCode, message: impl Into<String>) -> ! {
    raise_with_detail(code, message, None)
}

/// Aborts the current statement with `code`, `message` and an optional detail line.
pub fn raise_with_detail(
    code: PgSqlErrorCode,
    message: impl Into<String>,
    detail: Option<String>,
) -> ! {
    let mut report = ErrorReport::new(code, message.into(), "cco");
    if let Some(detail) = detail {
        report = report.set_detail(detail);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Aborts the current statement with `code`, `message` and a hint that says what to do instead.
pub fn raise_with_hint(code: PgSqlErrorCode, message: impl Into<String>, hint: &str) -> ! {
    ErrorReport::new(code, message.into(), "cco")
        .set_hint(hint)
        .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// The value of an argument that must not be NULL, in a function that is not STRICT because some
/// other argument may be: NULL here is the caller's mistake, reported as such (22004) with the
/// argument's name, never as a Rust panic.
pub fn required<T>(value: Option<T>, argument: &str) -> T {
    value.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{argument} must not be NULL"),
        )
    })
}

/// Unwraps the result of an SPI call. SPI errors that PostgreSQL itself raised have already
/// aborted the statement with their own SQLSTATE; what reaches here is a misuse of the SPI API,
/// which is a bug in cco and reported as such.
pub fn spi<T>(result: Result<T, pgrx::spi::Error>) -> T {
    result.unwrap_or_else(|error| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("cco internal query failed: {error}"),
        )
    })
}
