//! What can go wrong, each kind with its own exit code, reported as one line on standard error.

use std::fmt;

/// Why a command failed; the exit code tells scripts which kind it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Some files or statements failed while others succeeded.
    Partial,
    /// Wrong arguments or a wrong configuration file.
    Usage,
    /// The database could not be reached (or the connection string is wrong).
    Connection,
    /// The database has no cco extension, or an older one.
    Extension,
    /// A folder, a file or the standard input could not be read.
    Input,
    /// The database refused a statement.
    Database,
}

impl Kind {
    /// The process exit code of this kind of failure (documented in the README).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Partial => 1,
            Kind::Usage => 2,
            Kind::Connection => 3,
            Kind::Extension => 4,
            Kind::Input => 5,
            Kind::Database => 6,
        }
    }
}

/// A failure and the one line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// A statement's error: a database without the cco extension (or with an older one) is told
    /// apart from other refusals, since its fix is different.
    pub fn from_database(error: &postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            return Failure::new(Kind::Connection, format!("lost the connection: {error}"));
        };
        let code = db.code().code();
        // invalid_schema_name, undefined_table, undefined_function
        if matches!(code, "3F000" | "42P01" | "42883") && db.message().contains("cco") {
            return Failure::new(
                Kind::Extension,
                format!(
                    "this database has no cco extension, or an older one ({}): run `create extension cco cascade` or `alter extension cco update`",
                    db.message()
                ),
            );
        }
        Failure::new(Kind::Database, format!("{} ({code})", db.message()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Outcome<T> = Result<T, Failure>;
