//! PostgreSQL's `tsvector` and `tsquery` as Rust values: built from a payload the core encoded (or
//! from tsquery text), or received as arguments and read in place. The byte layout of tsvector
//! lives in `cco_core::tsvector`; this module only allocates, detoasts and tells pgrx how the
//! types appear in SQL.

use std::ffi::CString;

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable,
};
use pgrx::{FromDatum, IntoDatum};

/// Declares a Rust type for a varlena SQL type of PostgreSQL's own.
macro_rules! varlena_sql_type {
    ($(#[$doc:meta])* $name:ident, $sql:literal, $oid:expr) => {
        $(#[$doc])*
        pub struct $name {
            varlena: *mut pg_sys::varlena,
        }

        impl $name {
            /// Allocates a value around a payload (the bytes after the varlena header).
            pub fn from_payload(payload: &[u8]) -> $name {
                $name { varlena: allocate_varlena(payload) }
            }

            /// The bytes after the varlena header, for the readers in `cco_core`.
            pub fn payload(&self) -> &[u8] {
                // SAFETY: `varlena` is a detoasted, live value in the current memory context.
                unsafe { pgrx::varlena::varlena_to_byte_slice(self.varlena) }
            }
        }

        impl FromDatum for $name {
            unsafe fn from_polymorphic_datum(
                datum: pg_sys::Datum,
                is_null: bool,
                _type_oid: pg_sys::Oid,
            ) -> Option<$name> {
                if is_null || datum.is_null() {
                    return None;
                }
                // SAFETY: a non-null datum of this type points to a varlena, possibly toasted or
                // compressed; the packed detoast keeps short headers, which `payload` reads.
                let varlena = unsafe { pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr()) };
                Some($name { varlena })
            }
        }

        impl IntoDatum for $name {
            fn into_datum(self) -> Option<pg_sys::Datum> {
                Some(pg_sys::Datum::from(self.varlena))
            }

            fn type_oid() -> pg_sys::Oid {
                $oid
            }
        }

        // SAFETY: the SQL type named here is the one `FromDatum`/`IntoDatum` read and write.
        unsafe impl SqlTranslatable for $name {
            const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!($name);
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
                Ok(ReturnsRef::One(SqlMappingRef::literal($sql)));
        }

        // SAFETY: arguments declared with this SQL type carry datums of it.
        unsafe impl<'fcx> ArgAbi<'fcx> for $name {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> $name {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("{} argument {index} must not be null", $sql))
            }
        }

        // SAFETY: the datum returned is a complete value allocated in the function's context.
        unsafe impl BoxRet for $name {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
                unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.varlena)) }
            }
        }
    };
}

varlena_sql_type!(
    /// A `tsvector` datum in the current memory context (detoasted when it came from a table).
    TsVector, "tsvector", pg_sys::TSVECTOROID
);

varlena_sql_type!(
    /// A `tsquery` datum in the current memory context.
    TsQuery, "tsquery", pg_sys::TSQUERYOID
);

impl TsQuery {
    /// The query that matches nothing (PostgreSQL's empty tsquery: no items).
    pub fn empty() -> TsQuery {
        TsQuery::from_payload(&0i32.to_ne_bytes())
    }

    /// Parses tsquery text with PostgreSQL's own input function. The text must come from
    /// `cco_core::search::Query`, which only produces grammatical input.
    pub fn from_text(text: &str) -> TsQuery {
        if text.is_empty() {
            return TsQuery::empty();
        }
        // Lexemes never contain NUL (the tokenizer does not produce it), so this cannot fail;
        // if it ever did, the query would simply match nothing.
        let Ok(text) = CString::new(text) else {
            return TsQuery::empty();
        };
        // SAFETY: tsqueryin takes one cstring argument and returns a palloc'd tsquery datum, or
        // raises an ERROR (which pgrx turns into a proper PostgreSQL error).
        let datum = unsafe {
            pgrx::fcinfo::direct_function_call_as_datum(
                pg_sys::tsqueryin,
                &[text.as_c_str().into_datum()],
            )
        };
        match datum {
            Some(datum) => TsQuery {
                varlena: datum.cast_mut_ptr(),
            },
            None => TsQuery::empty(),
        }
    }
}

fn allocate_varlena(payload: &[u8]) -> *mut pg_sys::varlena {
    let total = pg_sys::VARHDRSZ + payload.len();
    // SAFETY: palloc returns a fresh, suitably aligned block of `total` bytes (or raises); the
    // header is set before the value is visible to anyone, and the copy stays in bounds.
    unsafe {
        let varlena = pg_sys::palloc(total).cast::<pg_sys::varlena>();
        pgrx::set_varsize_4b(varlena, total as i32);
        let data = varlena.cast::<u8>().add(pg_sys::VARHDRSZ);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), data, payload.len());
        varlena
    }
}
