//! `/definitions`: named, reusable job templates that jobs, workflow nodes
//! and schedules refer to by name (`"definition": "<name>"`), overriding any
//! field.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use conveyor_shared::db::definitions::{self, Definition};
use conveyor_shared::model::{check_identifier, FieldError, JobSpec, Limits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/definitions", get(list).post(create))
        .route("/definitions/{name}", get(show).put(replace).delete(remove))
}

/// A definition as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefinitionSpec {
    /// 1-64 of letters, digits, `_ . : -` (ignored by PUT, which takes the path's).
    pub name: Option<String>,
    pub description: Option<String>,
    /// The template: the fields of a job, without `run_at`, `delay_ms`,
    /// `idempotency_key` or `definition`. `kind` is required.
    pub template: JobSpec,
}

/// Checks a template as a job would be checked, so a definition that would
/// make invalid jobs is refused now.
async fn check_template(state: &AppState, template: &JobSpec) -> Result<(), ApiError> {
    let within = |e: FieldError| ApiError::Invalid(e.within("template"));
    template.check_template().map_err(within)?;
    if template.definition.is_some() {
        return Err(within(FieldError::new(
            "definition",
            "a definition cannot refer to another",
        )));
    }
    let kind = template.kind.as_deref().unwrap_or_default();
    let kinds = state.known_kinds(&[kind]).await?;
    let limits = Limits {
        max_payload_bytes: state.config.max_payload_bytes,
    };
    template
        .validate(state.clock.now(), limits, &|k| kinds.contains(k))
        .map(|_| ())
        .map_err(within)
}

/// List definitions.
#[utoipa::path(operation_id = "definitions_list", get, path = "/api/v1/definitions", tag = "definitions",
    responses((status = 200, description = "Every definition", body = DefinitionList)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<DefinitionList>, ApiError> {
    Ok(Json(DefinitionList {
        definitions: definitions::list(&state.pool).await?,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DefinitionList {
    pub definitions: Vec<Definition>,
}

/// Create a definition.
#[utoipa::path(operation_id = "definitions_create", post, path = "/api/v1/definitions", tag = "definitions",
    request_body = DefinitionSpec,
    responses(
        (status = 201, description = "Created", body = Definition),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(spec): ApiJson<DefinitionSpec>,
) -> Result<(StatusCode, Json<Definition>), ApiError> {
    let name = spec
        .name
        .clone()
        .ok_or_else(|| ApiError::field("name", "is required"))?;
    check_identifier(&name, "name")?;
    check_template(&state, &spec.template).await?;
    let created = definitions::create(
        &state.pool,
        &name,
        spec.description.as_deref(),
        &spec.template,
    )
    .await?
    .ok_or_else(|| ApiError::Conflict {
        message: format!("a definition named {name:?} exists"),
        details: Some(serde_json::json!({ "field": "name" })),
    })?;
    tracing::info!(definition = %name, "definition created");
    Ok((StatusCode::CREATED, Json(created)))
}

/// Get a definition.
#[utoipa::path(operation_id = "definitions_show", get, path = "/api/v1/definitions/{name}", tag = "definitions",
    params(("name" = String, Path, description = "Definition name")),
    responses(
        (status = 200, description = "The definition", body = Definition),
        (status = 404, description = "No such definition", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Definition>, ApiError> {
    definitions::get(&state.pool, &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("definition", name))
}

/// Replace a definition's description and template. Jobs already made from
/// it keep what they were given; new jobs, runs and fires use the new one.
#[utoipa::path(operation_id = "definitions_replace", put, path = "/api/v1/definitions/{name}", tag = "definitions",
    params(("name" = String, Path, description = "Definition name")),
    request_body = DefinitionSpec,
    responses(
        (status = 200, description = "Replaced", body = Definition),
        (status = 404, description = "No such definition", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn replace(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    ApiJson(mut spec): ApiJson<DefinitionSpec>,
) -> Result<Json<Definition>, ApiError> {
    // Secrets shown masked and sent back unchanged keep their stored value.
    if let (Some(edited), Some(stored)) = (
        spec.template.payload.as_mut(),
        definitions::get(&state.pool, &name)
            .await?
            .and_then(|d| d.template.0.payload),
    ) {
        conveyor_shared::secrets::restore_masked(edited, &stored);
    }
    check_template(&state, &spec.template).await?;
    definitions::update(
        &state.pool,
        &name,
        spec.description.as_deref(),
        &spec.template,
    )
    .await?
    .map(Json)
    .ok_or_else(|| ApiError::not_found("definition", name))
}

/// Delete a definition. Nodes and schedules that name it fail to start
/// until it exists again (they are checked when a run or fire starts).
#[utoipa::path(operation_id = "definitions_remove", delete, path = "/api/v1/definitions/{name}", tag = "definitions",
    params(("name" = String, Path, description = "Definition name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such definition", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if definitions::delete(&state.pool, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("definition", name))
    }
}
