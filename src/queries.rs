//! The read-only lookups that triggers and functions make, planned once per backend.
//!
//! A trigger that looks something up for every inserted row must not parse and plan its query
//! every time: each query here is prepared on first use, kept for the life of the backend
//! (PostgreSQL re-plans it by itself when the schema changes) and executed with parameters.

use std::cell::RefCell;
use std::collections::HashMap;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::PgOid;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::FromDatum;

use crate::errors::spi;

/// A query with its parameter types, as written in the source.
pub struct Lookup {
    pub sql: &'static str,
    pub arg_types: &'static [PgOid],
}

thread_local! {
    /// Kept plans by query text. Plans live as long as the backend, so they are leaked on
    /// purpose: handing out `&'static` references means no borrow is held while a plan runs, and
    /// a lookup that fires another lookup cannot trip over this cache.
    static KEPT_PLANS: RefCell<HashMap<&'static str, &'static OwnedPreparedStatement>> =
        RefCell::new(HashMap::new());
}

fn kept_plan(client: &SpiClient<'_>, lookup: &Lookup) -> &'static OwnedPreparedStatement {
    if let Some(plan) = KEPT_PLANS.with_borrow(|plans| plans.get(lookup.sql).copied()) {
        return plan;
    }
    let plan: &'static OwnedPreparedStatement = Box::leak(Box::new(
        spi(client.prepare(lookup.sql, lookup.arg_types)).keep(),
    ));
    KEPT_PLANS.with_borrow_mut(|plans| plans.insert(lookup.sql, plan));
    plan
}

/// The first column of the first row, or None when the lookup finds no row or NULL.
pub fn optional_one<A: FromDatum + IntoDatum>(
    lookup: &Lookup,
    args: &[DatumWithOid<'_>],
) -> Option<A> {
    spi(Spi::connect(|client| {
        let table = client.select(kept_plan(client, lookup), Some(1), args)?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_one::<A>()
    }))
}

/// The first two columns of the first row, or None when the lookup finds no row.
pub fn optional_two<A, B>(
    lookup: &Lookup,
    args: &[DatumWithOid<'_>],
) -> Option<(Option<A>, Option<B>)>
where
    A: FromDatum + IntoDatum,
    B: FromDatum + IntoDatum,
{
    spi(Spi::connect(|client| {
        let table = client.select(kept_plan(client, lookup), Some(1), args)?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_two::<A, B>().map(Some)
    }))
}
