//! What a failed SQL statement means, decided once for every service: the database being away
//! is worth waiting for (503, or a consumer that pauses), a lost race is worth retrying, and
//! anything else is a bug or bad data that retrying will not fix (500, or the dead-letter queue).

use crate::Error;

/// The three ways a statement fails, by what the caller should do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlFailure {
    /// The database did not answer: connection refused or lost, pool exhausted or closed, the
    /// server shutting down or out of connections. The same statement later may well succeed.
    DatabaseAway,
    /// The statement lost a race with another transaction (serialization failure, deadlock, a
    /// lock not available): running it again can succeed at once.
    Contention,
    /// The database refused the statement itself (a constraint, bad data, a broken query, a row
    /// that is not there): running it again changes nothing.
    Refused,
}

impl SqlFailure {
    pub fn of(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::DatabaseAway,
            sqlx::Error::Database(database) => match database.code().as_deref() {
                // Class 08: connection exception; 53: insufficient resources (disk, memory,
                // connections); 57: operator intervention (shutdown, statement timeout); 58: system
                // error (I/O); 25006: a read-only transaction, as on a standby during a fail-over.
                Some(code)
                    if code.starts_with("08")
                        || code.starts_with("53")
                        || code.starts_with("57")
                        || code.starts_with("58")
                        || code == "25006" =>
                {
                    Self::DatabaseAway
                }
                Some("40001" | "40P01" | "55P03") => Self::Contention,
                _ => Self::Refused,
            },
            _ => Self::Refused,
        }
    }
}

/// Whether `error` is a unique violation, which only the query that made it can name.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.code().as_deref() == Some("23505"))
}

impl From<sqlx::Error> for Error {
    /// A database that is away is `503 unavailable`; anything else is `500 internal`, its cause
    /// logged and never shown. A unique violation the query expects is its own 409
    /// (`Error::conflict_if_unique`).
    fn from(error: sqlx::Error) -> Self {
        match SqlFailure::of(&error) {
            SqlFailure::DatabaseAway | SqlFailure::Contention => Error::unavailable(error),
            SqlFailure::Refused => Error::internal(error),
        }
    }
}

impl Error {
    /// `409 conflict` with `detail` when `error` is a unique violation, which the calling query
    /// knows how to describe; otherwise as `From<sqlx::Error>`.
    pub fn conflict_if_unique(error: sqlx::Error, detail: impl Into<String>) -> Self {
        if is_unique_violation(&error) { Error::conflict(detail) } else { Error::from(error) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_database_is_away_and_a_missing_row_is_refused() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(SqlFailure::of(&sqlx::Error::Io(refused)), SqlFailure::DatabaseAway);
        assert_eq!(SqlFailure::of(&sqlx::Error::PoolTimedOut), SqlFailure::DatabaseAway);
        assert_eq!(SqlFailure::of(&sqlx::Error::RowNotFound), SqlFailure::Refused);
        assert_eq!(Error::from(sqlx::Error::PoolTimedOut).code(), crate::ErrorCode::Unavailable);
        assert_eq!(Error::from(sqlx::Error::RowNotFound).code(), crate::ErrorCode::Internal);
    }
}
