//! Small helpers over SPI for the read-only lookups the triggers and functions make.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::FromDatum;

use crate::errors::spi;

/// The first column of the first row, or None when the query returns no row or NULL.
pub fn optional_one<A: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid<'_>]) -> Option<A> {
    spi(Spi::connect(|client| {
        let table = client.select(query, Some(1), args)?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_one::<A>()
    }))
}

/// The first two columns of the first row, or None when the query returns no row.
pub fn optional_two<A, B>(query: &str, args: &[DatumWithOid<'_>]) -> Option<(Option<A>, Option<B>)>
where
    A: FromDatum + IntoDatum,
    B: FromDatum + IntoDatum,
{
    spi(Spi::connect(|client| {
        let table = client.select(query, Some(1), args)?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_two::<A, B>().map(Some)
    }))
}
