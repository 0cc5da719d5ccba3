//! Identity of the caller. A session opened by an API login (PostgREST's `authenticator`, or the
//! logins named in the `cco.api_logins` setting) is identified by the JWT claims the gateway sets
//! per request; any other session by its login, through `cco.user_logins`. The rule itself is
//! `cco_core::claims::Session::identity_source`. Row level security calls these once per statement
//! (as initPlans), so they are cheap and, whatever the settings hold, they never raise: bad claims
//! simply mean no identity.

use std::ffi::{CStr, CString};

use cco_core::claims::{Claims, IdentitySource, Session, DEFAULT_API_LOGINS};
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;

/// `cco.api_logins`: the logins whose sessions carry verified JWT claims. Only a superuser may
/// change it (postgresql.conf, `ALTER SYSTEM`, `ALTER DATABASE ... SET`), so a user cannot name
/// their own login an API login.
static API_LOGINS: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"authenticator"));

/// Defines the settings; called once when the library is loaded.
pub fn define_settings() {
    GucRegistry::define_string_guc(
        c"cco.api_logins",
        c"Logins whose sessions are identified by the JWT claims in request.jwt.claims.",
        c"A comma-separated list of role names, the logins an API gateway such as PostgREST connects as. Sessions of any other login are identified by cco.user_logins; their claims are ignored.",
        &API_LOGINS,
        GucContext::Suset,
        GucFlags::default(),
    );
}

/// Reads a setting without raising when it was never defined (it is NULL then).
pub fn setting(name: &CStr) -> Option<String> {
    // SAFETY: GetConfigOption with missing_ok = true returns NULL or a pointer to a
    // NUL-terminated string owned by the GUC machinery, valid until the setting changes; it is
    // copied before anything else can run.
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}

/// The claims of the current request, from `request.jwt.claims` and the legacy per-claim settings.
fn request_claims() -> Claims {
    Claims::from_settings(
        setting(c"request.jwt.claims").as_deref(),
        setting(c"request.jwt.claim.sub").as_deref(),
        setting(c"request.jwt.claim.role").as_deref(),
    )
}

/// Who the server authenticated and the role the request acts as.
struct ServerSession {
    login: String,
    login_is_superuser: bool,
    acting_role: String,
}

impl ServerSession {
    fn current() -> ServerSession {
        // SAFETY: the session user always exists while the session runs; GetUserNameFromId with
        // noerr = true returns NULL instead of raising, and the name is copied at once.
        let (login, login_is_superuser) = unsafe {
            let oid = pg_sys::GetSessionUserId();
            let name = pg_sys::GetUserNameFromId(oid, true);
            let login = if name.is_null() {
                String::new()
            } else {
                CStr::from_ptr(name).to_string_lossy().into_owned()
            };
            (login, pg_sys::superuser_arg(oid))
        };
        // The "role" setting is what SET ROLE chose ("none" without one); SECURITY DEFINER
        // functions change current_user but not this.
        let acting_role = setting(c"role")
            .filter(|role| role != "none")
            .unwrap_or_else(|| login.clone());
        ServerSession {
            login,
            login_is_superuser,
            acting_role,
        }
    }

    fn identity_source(&self) -> IdentitySource {
        let api_logins =
            setting(c"cco.api_logins").unwrap_or_else(|| DEFAULT_API_LOGINS.to_owned());
        Session {
            login: &self.login,
            login_is_superuser: self.login_is_superuser,
            acting_role: &self.acting_role,
        }
        .identity_source(&api_logins)
    }
}

/// The claims, when this session's claims are believed; `None` on a session identified by login.
fn trusted_claims(session: &ServerSession) -> Option<Claims> {
    (session.identity_source() == IdentitySource::Claims).then(request_claims)
}

/// The user id `cco.user_logins` gives the session's login, if any.
fn login_user_id() -> Option<pgrx::Uuid> {
    Spi::get_one::<pgrx::Uuid>("select user_id from cco.user_logins where login = session_user")
        .ok()
        .flatten()
}

/// The caller's user id: the JWT `sub` claim on an API login's session, the login's mapped user id
/// on any other; NULL without one.
#[pg_extern(stable, parallel_safe)]
fn current_user_id() -> Option<pgrx::Uuid> {
    match trusted_claims(&ServerSession::current()) {
        Some(claims) => claims
            .subject
            .map(|id| pgrx::Uuid::from_bytes(*id.as_bytes())),
        None => login_user_id(),
    }
}

/// The caller's JWT `role` claim on an API login's session; NULL without one and on other sessions.
#[pg_extern(stable, parallel_safe)]
fn current_user_role() -> Option<String> {
    trusted_claims(&ServerSession::current()).and_then(|claims| claims.role)
}

/// True when a believed request carries the `service_role` claim and runs as the `service_role`
/// database role: it may see and change everything.
#[pg_extern(stable, parallel_safe)]
pub fn is_service_role() -> bool {
    let session = ServerSession::current();
    trusted_claims(&session).is_some_and(|claims| claims.grants_service_role(&session.acting_role))
}
