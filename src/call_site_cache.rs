//! Work a call site does once per distinct argument rather than once per row.
//!
//! A function called for every row of a scan with the same argument (a query text in a join
//! condition under a generic plan, a ranking in an ORDER BY) keeps what it made of that argument
//! in `fn_extra`, in the call site's own memory context, with the argument's bytes: the next call
//! with equal bytes reuses it, a call with other bytes replaces it.

use pgrx::{pg_sys, PgMemoryContexts};

struct Cached<V> {
    key: Vec<u8>,
    value: V,
}

/// The value made from `key` by `make`, made at most once per call site and key in a row.
///
/// # Safety
/// `flinfo` is the calling function's own, and every call through it uses this function with the
/// same `V` (nothing else may use its `fn_extra`).
pub unsafe fn cached<'a, V: 'static>(
    flinfo: *mut pg_sys::FmgrInfo,
    key: &[u8],
    make: impl FnOnce() -> V,
) -> &'a V {
    unsafe {
        let slot = (*flinfo).fn_extra as *mut Cached<V>;
        if !slot.is_null() && (*slot).key == key {
            return &(*slot).value;
        }
        let fresh = Cached {
            key: key.to_vec(),
            value: make(),
        };
        if slot.is_null() {
            let stored = PgMemoryContexts::For((*flinfo).fn_mcxt).leak_and_drop_on_delete(fresh);
            (*flinfo).fn_extra = stored.cast();
            &(*stored).value
        } else {
            *slot = fresh;
            &(*slot).value
        }
    }
}
