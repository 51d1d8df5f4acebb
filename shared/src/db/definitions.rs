//! The `definitions` table: named, reusable job templates.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use utoipa::ToSchema;

use crate::model::{FieldError, JobSpec};

/// A stored definition.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Definition {
    pub name: String,
    pub description: Option<String>,
    /// The job template (the fields of a job without timing or idempotency).
    #[schema(value_type = JobSpec)]
    #[serde(serialize_with = "crate::secrets::serialize_masked")]
    pub template: sqlx::types::Json<JobSpec>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Creates a definition; `None` when the name is taken.
pub async fn create(
    pool: &PgPool,
    name: &str,
    description: Option<&str>,
    template: &JobSpec,
) -> sqlx::Result<Option<Definition>> {
    sqlx::query_as(
        "insert into definitions (name, description, template) values ($1, $2, $3)
         on conflict (name) do nothing returning *",
    )
    .bind(name)
    .bind(description)
    .bind(sqlx::types::Json(template))
    .fetch_optional(pool)
    .await
}

/// Replaces a definition's description and template; `None` if there is none.
pub async fn update(
    pool: &PgPool,
    name: &str,
    description: Option<&str>,
    template: &JobSpec,
) -> sqlx::Result<Option<Definition>> {
    sqlx::query_as(
        "update definitions set description = $2, template = $3, updated_at = now()
         where name = $1 returning *",
    )
    .bind(name)
    .bind(description)
    .bind(sqlx::types::Json(template))
    .fetch_optional(pool)
    .await
}

pub async fn get<'e>(exec: impl PgExecutor<'e>, name: &str) -> sqlx::Result<Option<Definition>> {
    sqlx::query_as("select * from definitions where name = $1")
        .bind(name)
        .fetch_optional(exec)
        .await
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Definition>> {
    sqlx::query_as("select * from definitions order by name")
        .fetch_all(pool)
        .await
}

/// Deletes a definition; whether there was one.
pub async fn delete(pool: &PgPool, name: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from definitions where name = $1")
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The definitions named by `specs`, by name.
pub async fn for_specs<'e>(
    exec: impl PgExecutor<'e>,
    specs: &[&JobSpec],
) -> sqlx::Result<HashMap<String, JobSpec>> {
    let mut names: Vec<String> = specs.iter().filter_map(|s| s.definition.clone()).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, sqlx::types::Json<JobSpec>)> =
        sqlx::query_as("select name, template from definitions where name = any($1)")
            .bind(&names)
            .fetch_all(exec)
            .await?;
    Ok(rows.into_iter().map(|(n, t)| (n, t.0)).collect())
}

/// `spec` with its definition applied (unchanged when it names none).
pub fn resolve(
    spec: &JobSpec,
    definitions: &HashMap<String, JobSpec>,
) -> Result<JobSpec, FieldError> {
    match &spec.definition {
        None => Ok(spec.clone()),
        Some(name) => definitions
            .get(name)
            .map(|definition| spec.with_definition(definition))
            .ok_or_else(|| FieldError::new("definition", format!("no definition named {name:?}"))),
    }
}
