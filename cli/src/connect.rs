//! Connecting the way psql does: a connection string or URL if given (`--dsn`, else `dsn` in
//! the configuration file), else the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
//! PGDATABASE, PGSSLMODE).

use std::env;

use native_tls::TlsConnector;
use postgres::{Client, Config};
use postgres_native_tls::MakeTlsConnector;

use crate::failure::{Failure, Kind, Outcome};

/// Connects to the database named by `connection` or, without it, by the libpq environment (which
/// also fills in what `connection` leaves out).
pub fn connect(connection: Option<&str>) -> Outcome<Client> {
    let (mut config, ssl_mode) = match connection {
        Some(text) => {
            let mut config = text.parse::<Config>().map_err(|e| {
                Failure::new(Kind::Connection, format!("invalid connection string: {e}"))
            })?;
            fill_from_environment(&mut config);
            (config, ssl_mode_of(text))
        }
        None => (
            config_from_environment(),
            env::var("PGSSLMODE").unwrap_or_default(),
        ),
    };
    // Like libpq: require encrypts without checking the certificate, verify-ca and verify-full
    // check it; prefer (the default) encrypts when the server offers it.
    let verify = matches!(ssl_mode.as_str(), "verify-ca" | "verify-full");
    let tls = TlsConnector::builder()
        .danger_accept_invalid_certs(!verify)
        .danger_accept_invalid_hostnames(ssl_mode != "verify-full")
        .build()
        .map_err(|e| Failure::new(Kind::Connection, format!("cannot set up TLS: {e}")))?;
    if config.get_application_name().is_none() {
        config.application_name("cco");
    }
    config
        .connect(MakeTlsConnector::new(tls))
        .map_err(|e| Failure::new(Kind::Connection, connection_failure(&e)))
}

/// The server's own words when it refused the login, else the client's.
fn connection_failure(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("cannot connect: {}", db.message()),
        None => format!("cannot connect: {error}"),
    }
}

fn ssl_mode_of(connection: &str) -> String {
    connection
        .split(|c: char| c.is_whitespace() || c == '&' || c == '?')
        .find_map(|part| part.strip_prefix("sslmode="))
        .unwrap_or_default()
        .to_owned()
}

fn config_from_environment() -> Config {
    let mut config = Config::new();
    fill_from_environment(&mut config);
    if matches!(
        env::var("PGSSLMODE").as_deref(),
        Ok("require" | "verify-ca" | "verify-full")
    ) {
        config.ssl_mode(postgres::config::SslMode::Require);
    } else if env::var("PGSSLMODE").as_deref() == Ok("disable") {
        config.ssl_mode(postgres::config::SslMode::Disable);
    }
    config
}

/// What the connection string leaves out comes from the libpq environment, as in libpq: host,
/// port, user, password, database.
fn fill_from_environment(config: &mut Config) {
    if config.get_user().is_none() {
        let user = env::var("PGUSER")
            .or_else(|_| env::var("USER"))
            .unwrap_or_else(|_| "postgres".into());
        config.user(&user);
    }
    if config.get_hosts().is_empty() {
        config.host(&env::var("PGHOST").unwrap_or_else(|_| "/var/run/postgresql".into()));
    }
    if config.get_ports().is_empty() {
        if let Some(port) = env::var("PGPORT").ok().and_then(|port| port.parse().ok()) {
            config.port(port);
        }
    }
    if config.get_dbname().is_none() {
        let user = config.get_user().unwrap_or("postgres").to_owned();
        config.dbname(&env::var("PGDATABASE").unwrap_or(user));
    }
    if config.get_password().is_none() {
        if let Ok(password) = env::var("PGPASSWORD") {
            config.password(password);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_ssl_mode_in_both_connection_forms() {
        assert_eq!(
            ssl_mode_of("host=db sslmode=verify-full user=x"),
            "verify-full"
        );
        assert_eq!(
            ssl_mode_of("postgresql://u@db/app?sslmode=require&x=1"),
            "require"
        );
        assert_eq!(ssl_mode_of("host=db"), "");
    }
}
