//! Who is asking: the caller's identity as PostgREST and Supabase-style platforms pass it, and
//! when those claims may be believed at all.
//!
//! Anyone who can run SQL can write `request.jwt.claims`, so the claims mean something only on a
//! session the API gateway opened: its login (`session_user`) is one of the configured API logins.
//! Every other session is identified by its login alone (a table maps logins to user ids). A
//! superuser may read and change everything anyway, so its claims are believed too: that is how an
//! administrator acts as a user, and it grants nothing a superuser does not already have.
//!
//! PostgREST stores the verified JWT claims as JSON in the transaction-local setting
//! `request.jwt.claims`; older versions set one setting per claim (`request.jwt.claim.sub`). After
//! the transaction ends those settings read as `''`, and a misconfigured proxy can leave anything
//! in them. Identity must therefore be read defensively: every malformed, empty or mistyped input
//! means "no identity", never an error that would break the request and never someone else's
//! access.

use serde_json::Value;
use uuid::Uuid;

/// The role claim that grants access to every project, as on Supabase; honoured only when the
/// request also runs as the database role of the same name.
pub const SERVICE_ROLE: &str = "service_role";

/// The API logins when nothing is configured: PostgREST's login on Supabase-style stacks.
pub const DEFAULT_API_LOGINS: &str = "authenticator";

/// Where a session's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentitySource {
    /// The JWT claims the API gateway set for the request.
    Claims,
    /// The login the server authenticated, through the table of logins.
    Login,
}

/// The session as the server knows it: who logged in, and the role the request acts as.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// `session_user`: the role the server authenticated.
    pub login: &'a str,
    /// Whether that login is a superuser.
    pub login_is_superuser: bool,
    /// The role chosen with `SET ROLE`, else the login; not changed by SECURITY DEFINER functions.
    pub acting_role: &'a str,
}

impl Session<'_> {
    /// Claims are believed on sessions of an API login (a comma-separated list of role names, as
    /// the `cco.api_logins` setting holds them) and of superusers; everywhere else the login
    /// decides.
    pub fn identity_source(&self, api_logins: &str) -> IdentitySource {
        let is_api_login = api_logins
            .split(',')
            .map(role_name)
            .any(|name| name == self.login);
        if is_api_login || self.login_is_superuser {
            IdentitySource::Claims
        } else {
            IdentitySource::Login
        }
    }
}

/// A role name as written in a list: trimmed, and unquoted when it is in double quotes.
fn role_name(text: &str) -> &str {
    let trimmed = text.trim();
    trimmed
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(trimmed)
}

/// The claims of one request, parsed once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The `sub` claim when it is a well-formed UUID.
    pub subject: Option<Uuid>,
    /// The `role` claim when it is a non-empty string.
    pub role: Option<String>,
}

impl Claims {
    /// Reads the claims from the JSON setting, falling back to the legacy per-claim settings for
    /// whichever claim the JSON does not provide.
    pub fn from_settings(
        claims_json: Option<&str>,
        legacy_sub: Option<&str>,
        legacy_role: Option<&str>,
    ) -> Claims {
        let object = claims_json
            .filter(|text| !text.trim().is_empty())
            .and_then(|text| serde_json::from_str::<Value>(text).ok())
            .filter(Value::is_object);
        let claim = |name: &str| {
            object
                .as_ref()
                .and_then(|o| o.get(name))
                .and_then(Value::as_str)
        };

        Claims {
            subject: claim("sub").or(legacy_sub).and_then(parse_subject),
            role: claim("role")
                .or(legacy_role)
                .and_then(non_empty)
                .map(str::to_owned),
        }
    }

    /// True when the request carries the service role claim.
    pub fn is_service_role(&self) -> bool {
        self.role.as_deref() == Some(SERVICE_ROLE)
    }

    /// The service role claim counts only together with the service database role: a token that
    /// says `service_role` on a request running as `authenticated` or `anon` is a forgery.
    pub fn grants_service_role(&self, acting_role: &str) -> bool {
        self.is_service_role() && acting_role == SERVICE_ROLE
    }
}

fn parse_subject(text: &str) -> Option<Uuid> {
    non_empty(text).and_then(|t| Uuid::try_parse(t).ok())
}

fn non_empty(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f";

    fn from_json(json: &str) -> Claims {
        Claims::from_settings(Some(json), None, None)
    }

    #[test]
    fn reads_subject_and_role_from_json_claims() {
        let claims = from_json(&format!(r#"{{"sub":"{ALICE}","role":"authenticated"}}"#));
        assert_eq!(claims.subject, Some(Uuid::parse_str(ALICE).unwrap()));
        assert_eq!(claims.role.as_deref(), Some("authenticated"));
        assert!(!claims.is_service_role());
    }

    #[test]
    fn recognises_the_service_role() {
        assert!(from_json(r#"{"role":"service_role"}"#).is_service_role());
        assert!(!from_json(r#"{"role":"service_role_x"}"#).is_service_role());
    }

    #[test]
    fn absent_empty_and_malformed_settings_mean_no_identity() {
        for text in [
            "",
            "   ",
            "null",
            "[]",
            "42",
            "\"text\"",
            "{",
            "{\"sub\":",
            "not json",
        ] {
            assert_eq!(from_json(text), Claims::default(), "input {text:?}");
        }
        assert_eq!(Claims::from_settings(None, None, None), Claims::default());
    }

    #[test]
    fn a_subject_that_is_not_a_uuid_is_no_identity() {
        for sub in [
            r#""""#,
            r#""anonymous""#,
            "42",
            "null",
            r#"{"a":1}"#,
            r#""6f1c2d3e""#,
        ] {
            let claims = from_json(&format!(r#"{{"sub":{sub},"role":"authenticated"}}"#));
            assert_eq!(claims.subject, None, "sub {sub}");
            assert_eq!(claims.role.as_deref(), Some("authenticated"));
        }
    }

    #[test]
    fn a_role_that_is_not_a_string_is_no_role() {
        assert_eq!(from_json(r#"{"role":["service_role"]}"#).role, None);
        assert_eq!(from_json(r#"{"role":""}"#).role, None);
    }

    fn session(login: &str, login_is_superuser: bool) -> Session<'_> {
        Session {
            login,
            login_is_superuser,
            acting_role: login,
        }
    }

    #[test]
    fn claims_are_believed_only_from_api_logins_and_superusers() {
        assert_eq!(
            session("authenticator", false).identity_source(DEFAULT_API_LOGINS),
            IdentitySource::Claims
        );
        assert_eq!(
            session("alice", false).identity_source(DEFAULT_API_LOGINS),
            IdentitySource::Login
        );
        assert_eq!(
            session("postgres", true).identity_source(DEFAULT_API_LOGINS),
            IdentitySource::Claims
        );
        assert_eq!(
            session("authenticator", false).identity_source(""),
            IdentitySource::Login
        );
    }

    #[test]
    fn api_logins_are_a_comma_separated_list_of_exact_role_names() {
        let logins = r#" gateway , "Edge Proxy",authenticator"#;
        for login in ["gateway", "Edge Proxy", "authenticator"] {
            assert_eq!(
                session(login, false).identity_source(logins),
                IdentitySource::Claims,
                "{login}"
            );
        }
        for login in ["Gateway", "edge proxy", "authenticator2", "", "gate"] {
            assert_eq!(
                session(login, false).identity_source(logins),
                IdentitySource::Login,
                "{login:?}"
            );
        }
    }

    #[test]
    fn the_service_role_claim_needs_the_service_database_role() {
        let claims = from_json(r#"{"role":"service_role"}"#);
        assert!(claims.grants_service_role("service_role"));
        for acting in ["authenticated", "anon", "authenticator", "postgres"] {
            assert!(!claims.grants_service_role(acting), "{acting}");
        }
        assert!(!from_json(r#"{"role":"authenticated"}"#).grants_service_role("service_role"));
    }

    #[test]
    fn legacy_per_claim_settings_fill_what_the_json_lacks() {
        let claims = Claims::from_settings(Some(""), Some(ALICE), Some("authenticated"));
        assert_eq!(claims.subject, Some(Uuid::parse_str(ALICE).unwrap()));
        assert_eq!(claims.role.as_deref(), Some("authenticated"));

        let json_wins = Claims::from_settings(
            Some(r#"{"sub":"00000000-0000-0000-0000-000000000001"}"#),
            Some(ALICE),
            None,
        );
        assert_eq!(json_wins.subject, Some(Uuid::from_u128(1)));
    }
}
