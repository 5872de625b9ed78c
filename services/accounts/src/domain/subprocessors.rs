//! The platform's sub-processors, as support records them.

use causerie_core::Error;

use crate::AppState;
use crate::domain::Name;
use crate::domain::page;
use crate::store::subprocessors::{self as subprocessor_store, SubprocessorRow};

/// A sub-processor as support records it: a slug id, a kind, a name, an ISO country code, and a
/// safeguard whenever data leaves the EU.
fn validate_subprocessor(row: &SubprocessorRow) -> Result<(), Error> {
    let valid_id = (1..=64).contains(&row.id.len())
        && row.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        return Err(Error::invalid_field("id", "1 to 64 lowercase letters, digits and hyphens"));
    }
    if !matches!(row.kind.as_str(), "hosting" | "tts" | "translation") {
        return Err(Error::invalid_field("kind", "must be hosting, tts or translation"));
    }
    Name::parse("name", &row.name)?;
    Name::parse("purpose", &row.purpose)?;
    if row.country.len() != 2 || !row.country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid_field("country", "an ISO 3166 code such as FR"));
    }
    if row.outside_eu && row.safeguard.is_none() {
        return Err(Error::invalid_field("safeguard", "is required for a transfer outside the EU (GDPR Art. 46)"));
    }
    Ok(())
}

/// A page of the platform's sub-processors, in id order.
pub async fn subprocessors(
    state: &AppState,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<SubprocessorRow>, Option<String>), Error> {
    let limit = page::limit(limit)?;
    let after = Some(cursor).filter(|cursor| !cursor.is_empty());
    let rows = subprocessor_store::subprocessors_page(&state.pool, after, limit + 1).await?;
    Ok(page::cut(rows, limit, |row| row.id.clone()))
}

/// Records a sub-processor, or replaces the one of the same id.
pub async fn put_subprocessor(state: &AppState, row: SubprocessorRow) -> Result<SubprocessorRow, Error> {
    validate_subprocessor(&row)?;
    subprocessor_store::upsert_subprocessor(&state.pool, &row, state.clock.now()).await?;
    Ok(row)
}
