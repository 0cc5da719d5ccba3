#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn set_claims(claims: &str) {
        Spi::run_with_args(
            "select set_config('request.jwt.claims', $1, true)",
            &[claims.into()],
        )
        .unwrap();
    }

    #[pg_test]
    fn identity_comes_from_the_request_claims() {
        set_claims(r#"{"sub":"0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3","role":"authenticated"}"#);
        assert_eq!(
            Spi::get_one::<String>("select cco.current_user_id()::text")
                .unwrap()
                .as_deref(),
            Some("0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3")
        );
        assert_eq!(
            Spi::get_one::<String>("select cco.current_user_role()")
                .unwrap()
                .as_deref(),
            Some("authenticated")
        );
        assert_eq!(
            Spi::get_one::<bool>("select cco.is_service_role()").unwrap(),
            Some(false)
        );
    }

    #[pg_test]
    fn without_claims_there_is_no_identity() {
        assert_eq!(
            Spi::get_one::<bool>("select cco.current_user_id() is null").unwrap(),
            Some(true)
        );
        set_claims("");
        assert_eq!(
            Spi::get_one::<bool>("select cco.current_user_id() is null").unwrap(),
            Some(true)
        );
        set_claims("{broken");
        assert_eq!(
            Spi::get_one::<bool>("select cco.current_user_role() is null").unwrap(),
            Some(true)
        );
    }

    #[pg_test]
    fn the_service_role_claim_counts_only_with_the_service_database_role() {
        set_claims(r#"{"role":"service_role"}"#);
        // a superuser's session believes claims, but the claim alone grants nothing
        assert_eq!(
            Spi::get_one::<bool>("select cco.is_service_role()").unwrap(),
            Some(false)
        );
        Spi::run("create role service_role nologin").unwrap();
        Spi::run("grant usage on schema cco to service_role").unwrap();
        Spi::run("set local role service_role").unwrap();
        assert_eq!(
            Spi::get_one::<bool>("select cco.is_service_role()").unwrap(),
            Some(true)
        );
        Spi::run("reset role").unwrap();
    }

    #[pg_test]
    fn a_login_that_is_not_an_api_login_is_the_user_it_maps_to_whatever_it_claims() {
        Spi::run("create role tenant_login login").unwrap();
        Spi::run("grant usage on schema cco to tenant_login").unwrap();
        Spi::run("insert into cco.user_logins (login, user_id) values ('tenant_login', '0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3')")
            .unwrap();
        Spi::run("set local session authorization tenant_login").unwrap();
        set_claims(r#"{"sub":"00000000-0000-4000-8000-000000000001","role":"service_role"}"#);
        assert_eq!(
            Spi::get_one::<String>("select cco.current_user_id()::text")
                .unwrap()
                .as_deref(),
            Some("0b1c2d3e-4f50-4a6b-8c7d-8e9fa0b1c2d3")
        );
        assert_eq!(
            Spi::get_one::<bool>("select cco.current_user_role() is null").unwrap(),
            Some(true)
        );
        assert_eq!(
            Spi::get_one::<bool>("select cco.is_service_role()").unwrap(),
            Some(false)
        );
        Spi::run("reset session authorization").unwrap();
    }
}
