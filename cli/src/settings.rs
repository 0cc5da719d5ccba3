//! The configuration file: the one `--config` names, else `$CCO_CONFIG`, else
//! `$XDG_CONFIG_HOME/cco/config`, else `~/.config/cco/config`. Lines of `key = value`; `#` starts
//! a comment. Keys: `dsn` (a connection string or URL, used when `--dsn` is not given) and
//! `timezone` (an IANA name, used when `--timezone` is not given). A missing file is no error,
//! unless `--config` names it.

use std::path::{Path, PathBuf};

use crate::failure::{Failure, Kind, Outcome};

/// What the configuration file says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dsn: Option<String>,
    pub timezone: Option<String>,
}

/// Where the configuration file is looked for.
pub fn settings_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CCO_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = match std::env::var_os("XDG_CONFIG_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("cco").join("config"))
}

/// Reads the configuration file: `named` (`--config`), which must exist, else the one of
/// `settings_path`, if there is one.
pub fn load(named: Option<&Path>) -> Outcome<Settings> {
    let Some(path) = named.map(Path::to_path_buf).or_else(settings_path) else {
        return Ok(Settings::default());
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text)
            .map_err(|message| Failure::new(Kind::Usage, format!("{}: {message}", path.display()))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && named.is_none() => {
            Ok(Settings::default())
        }
        Err(error) => Err(Failure::new(
            Kind::Input,
            format!("cannot read {}: {error}", path.display()),
        )),
    }
}

fn parse(text: &str) -> Result<Settings, String> {
    let mut settings = Settings::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: expected `key = value`", number + 1));
        };
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim() {
            "dsn" => settings.dsn = Some(value),
            "timezone" => settings.timezone = Some(value),
            other => {
                return Err(format!(
                    "line {}: unknown key `{other}` (known: dsn, timezone)",
                    number + 1
                ))
            }
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_skips_comments() {
        let settings = parse(
            "# mine\ndsn = postgresql://me@db/observatory\n\ntimezone = \"Asia/Kathmandu\"  # home\n",
        )
        .unwrap();
        assert_eq!(
            settings.dsn.as_deref(),
            Some("postgresql://me@db/observatory")
        );
        assert_eq!(settings.timezone.as_deref(), Some("Asia/Kathmandu"));
    }

    #[test]
    fn names_the_wrong_line() {
        assert_eq!(
            parse("dsn = x\nport 5432\n").unwrap_err(),
            "line 2: expected `key = value`"
        );
        assert!(parse("colour = yes")
            .unwrap_err()
            .contains("unknown key `colour`"));
    }

    #[test]
    fn a_named_file_must_exist() {
        let missing = Path::new("/nonexistent/cco-config-named");
        let failure = load(Some(missing)).unwrap_err();
        assert_eq!(failure.kind, Kind::Input);
        assert!(failure.message.contains("cco-config-named"));
    }
}
