//! PostgreSQL's `tsvector` as a Rust value: built from a payload the core encoded, or received
//! as an argument and read in place. The byte layout itself lives in `cco_core::tsvector`; this
//! module only allocates, detoasts and tells pgrx how the type appears in SQL.

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable,
};
use pgrx::{FromDatum, IntoDatum};

/// A `tsvector` datum in the current memory context (detoasted when it came from a table).
pub struct TsVector {
    varlena: *mut pg_sys::varlena,
}

impl TsVector {
    /// Allocates a tsvector around a payload produced by `cco_core::tsvector::encode`.
    pub fn from_payload(payload: &[u8]) -> TsVector {
        let total = pg_sys::VARHDRSZ + payload.len();
        // SAFETY: palloc returns a fresh, suitably aligned block of `total` bytes (or raises);
        // the header is set before the value is visible to anyone, and the copy stays in bounds.
        unsafe {
            let varlena = pg_sys::palloc(total).cast::<pg_sys::varlena>();
            pgrx::set_varsize_4b(varlena, total as i32);
            let data = varlena.cast::<u8>().add(pg_sys::VARHDRSZ);
            std::ptr::copy_nonoverlapping(payload.as_ptr(), data, payload.len());
            TsVector { varlena }
        }
    }

    /// The bytes after the varlena header, for `cco_core::tsvector::TsVectorView`.
    pub fn payload(&self) -> &[u8] {
        // SAFETY: `varlena` is a detoasted, live tsvector in the current memory context.
        unsafe { pgrx::varlena::varlena_to_byte_slice(self.varlena) }
    }
}

impl FromDatum for TsVector {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _type_oid: pg_sys::Oid,
    ) -> Option<TsVector> {
        if is_null || datum.is_null() {
            return None;
        }
        // SAFETY: a non-null tsvector datum points to a varlena, possibly toasted or compressed;
        // the packed detoast keeps short headers, which `payload` reads correctly.
        let varlena = unsafe { pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr()) };
        Some(TsVector { varlena })
    }
}

impl IntoDatum for TsVector {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(pg_sys::Datum::from(self.varlena))
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::TSVECTOROID
    }
}

// SAFETY: the SQL type named here is the one `FromDatum`/`IntoDatum` read and write.
unsafe impl SqlTranslatable for TsVector {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(TsVector);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("tsvector"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("tsvector")));
}

// SAFETY: arguments declared `tsvector` in SQL carry tsvector datums.
unsafe impl<'fcx> ArgAbi<'fcx> for TsVector {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> TsVector {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("tsvector argument {index} must not be null"))
    }
}

// SAFETY: the datum returned is a complete tsvector allocated in the function's memory context.
unsafe impl BoxRet for TsVector {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.varlena)) }
    }
}
