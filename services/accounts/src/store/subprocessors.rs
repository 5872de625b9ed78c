//! The platform's sub-processors, shared by every tenant.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgPool;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SubprocessorRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub country: String,
    pub outside_eu: bool,
    pub safeguard: Option<String>,
    pub purpose: String,
}

pub async fn subprocessors(pool: &PgPool) -> Result<Vec<SubprocessorRow>, Error> {
    sqlx::query_as(
        "select id, kind, name, country, outside_eu, safeguard, purpose from subprocessors order by kind, id",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from)
}

/// A page of the platform's sub-processors in id order, after the id `after`.
pub async fn subprocessors_page(pool: &PgPool, after: Option<&str>, limit: i64) -> Result<Vec<SubprocessorRow>, Error> {
    sqlx::query_as(
        "select id, kind, name, country, outside_eu, safeguard, purpose from subprocessors
          where $1::text is null or id > $1 order by id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::from)
}

pub async fn upsert_subprocessor(pool: &PgPool, row: &SubprocessorRow, now: DateTime<Utc>) -> Result<(), Error> {
    sqlx::query(
        "insert into subprocessors (id, kind, name, country, outside_eu, safeguard, purpose, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         on conflict (id) do update set kind = excluded.kind, name = excluded.name, country = excluded.country,
             outside_eu = excluded.outside_eu, safeguard = excluded.safeguard, purpose = excluded.purpose,
             updated_at = excluded.updated_at",
    )
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.name)
    .bind(&row.country)
    .bind(row.outside_eu)
    .bind(&row.safeguard)
    .bind(&row.purpose)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
