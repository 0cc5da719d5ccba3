//! Identity of the caller, read from the claims PostgREST and Supabase-style platforms set per
//! request. Row level security calls these once per statement (as initPlans), so they are cheap
//! and, whatever the settings hold, they never raise: bad claims simply mean no identity.

use std::ffi::CStr;

use cco_core::claims::Claims;
use pgrx::prelude::*;

/// Reads a setting without raising when it was never defined (it is NULL then).
fn setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption with missing_ok = true returns NULL or a pointer to a
    // NUL-terminated string owned by the GUC machinery, valid until the setting changes; it is
    // copied before anything else can run.
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}

/// The claims of the current request, from `request.jwt.claims` and the legacy per-claim settings.
pub fn request_claims() -> Claims {
    Claims::from_settings(
        setting(c"request.jwt.claims").as_deref(),
        setting(c"request.jwt.claim.sub").as_deref(),
        setting(c"request.jwt.claim.role").as_deref(),
    )
}

/// The caller's user id: the JWT `sub` claim as a uuid, NULL without a valid one.
#[pg_extern(stable, parallel_safe)]
fn current_user_id() -> Option<pgrx::Uuid> {
    request_claims().subject.map(|id| pgrx::Uuid::from_bytes(*id.as_bytes()))
}

/// The caller's JWT `role` claim, NULL without one.
#[pg_extern(stable, parallel_safe)]
fn current_user_role() -> Option<String> {
    request_claims().role
}

/// True when the request carries the `service_role` claim, which may see and change everything.
#[pg_extern(stable, parallel_safe)]
fn is_service_role() -> bool {
    request_claims().is_service_role()
}
