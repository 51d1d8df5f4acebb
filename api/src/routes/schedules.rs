//! `/schedules`: cron and one-time schedules that create a job (or start a
//! workflow run) at each fire. The housekeeping leader of the workers fires
//! them; this module stores them and shows what they will do and did.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use conveyor_shared::db::{definitions, schedules};
use conveyor_shared::model::schedule::{
    Fire, FireTime, Misfire, NewSchedule, Rules, Schedule, ScheduleSpec, TargetSpec, Timing,
};
use conveyor_shared::model::Limits;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use tracing::info;
use utoipa::ToSchema;

use super::parse_id;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Fire times shown ahead, and fires shown back, by `GET /schedules/{id}`.
const UPCOMING: usize = 5;
const HISTORY: i64 = 20;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/schedules", post(create).get(list))
        .route("/schedules/preview", post(preview))
        .route("/schedules/{id}", get(show).patch(update).delete(remove))
        .route("/schedules/{id}/pause", post(pause))
        .route("/schedules/{id}/resume", post(resume))
}

/// A schedule with what it will do and what it did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleDetail {
    #[serde(flatten)]
    pub schedule: Schedule,
    /// The next 5 fire times on the schedule's wall clock and in UTC; empty
    /// while paused and once a one-time schedule is done.
    pub upcoming: Vec<FireTime>,
    /// The latest 20 fires with the job each created, newest first.
    pub fires: Vec<Fire>,
}

/// Every schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<Schedule>,
}

/// Validates a spec against the kinds workers run and the size limits.
async fn validate(
    state: &AppState,
    spec: &ScheduleSpec,
    kept_run_at: Option<DateTime<Utc>>,
) -> Result<NewSchedule, ApiError> {
    let found = match &spec.target {
        TargetSpec::Job(job) => definitions::for_specs(&state.pool, &[job]).await?,
        TargetSpec::Workflow(_) => Default::default(),
    };
    let wanted: Vec<String> = match &spec.target {
        TargetSpec::Job(job) => definitions::resolve(job, &found)
            .ok()
            .and_then(|resolved| resolved.kind)
            .into_iter()
            .collect(),
        TargetSpec::Workflow(_) => Vec::new(),
    };
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let kinds = state.known_kinds(&wanted).await?;
    let rules = Rules {
        now: state.clock.now(),
        limits: Limits {
            max_payload_bytes: state.config.max_payload_bytes,
        },
        is_known_kind: &|k| kinds.contains(k),
        kept_run_at,
        definitions: &found,
    };
    Ok(spec.validate(&rules)?)
}

/// A duplicate name is a 409 naming `name`; other errors pass through.
fn name_taken(e: sqlx::Error, name: &str) -> ApiError {
    if schedules::is_name_taken(&e) {
        ApiError::Conflict {
            message: format!("a schedule named {name:?} already exists"),
            details: Some(json!({ "field": "name" })),
        }
    } else {
        e.into()
    }
}

async fn detail(state: &AppState, schedule: Schedule) -> Result<ScheduleDetail, ApiError> {
    let timing = schedule
        .timing()
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored schedule is invalid: {e}")))?;
    let upcoming = if schedule.paused || schedule.next_fire_at.is_none() {
        Vec::new()
    } else {
        timing
            .upcoming(state.clock.now(), UPCOMING)
            .into_iter()
            .map(|at| FireTime::new(&timing, at))
            .collect()
    };
    let fires = schedules::fires(&state.pool, schedule.id, HISTORY).await?;
    Ok(ScheduleDetail {
        schedule,
        upcoming,
        fires,
    })
}

/// Create a schedule.
///
/// Give `cron` (5 fields, 6 with seconds first, or a shorthand such as
/// `@hourly`) with an IANA `timezone`, or a single future `run_at`; and a
/// `target`: `{"job": <the fields of POST /jobs>}` or `{"workflow": "<name>"}`.
#[utoipa::path(operation_id = "schedules_create", post, path = "/api/v1/schedules", tag = "schedules", request_body = ScheduleSpec,
    responses(
        (status = 201, description = "Created", body = ScheduleDetail),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid: a bad expression, an unknown time zone, a run_at in the past…", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(spec): ApiJson<ScheduleSpec>,
) -> Result<(StatusCode, Json<ScheduleDetail>), ApiError> {
    let new = validate(&state, &spec, None).await?;
    let schedule = schedules::insert(&state.pool, &new)
        .await
        .map_err(|e| name_taken(e, &new.name))?;
    info!(schedule_id = %schedule.id, name = %schedule.name, next_fire_at = ?schedule.next_fire_at,
          "schedule created");
    Ok((StatusCode::CREATED, Json(detail(&state, schedule).await?)))
}

/// List every schedule, by name, with its `next_fire_at`.
#[utoipa::path(operation_id = "schedules_list", get, path = "/api/v1/schedules", tag = "schedules",
    responses((status = 200, description = "Every schedule", body = ScheduleList)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<ScheduleList>, ApiError> {
    Ok(Json(ScheduleList {
        schedules: schedules::list(&state.pool).await?,
    }))
}

/// Get a schedule: its next fires (on its wall clock and in UTC) and its
/// latest fires with the job each created.
#[utoipa::path(operation_id = "schedules_show", get, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = uuid::Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleDetail),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let id = parse_id(&id)?;
    let schedule = schedules::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule", id))?;
    Ok(Json(detail(&state, schedule).await?))
}

/// Absent stays `None`; `null` becomes `Some(None)`.
fn present<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// The fields to change; those left out keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    pub name: Option<String>,
    /// A new expression; it replaces `run_at` unless `run_at` is given too.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub cron: Option<Option<String>>,
    /// `null` sets UTC.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub timezone: Option<Option<String>>,
    /// A new single time; it replaces `cron` unless `cron` is given too.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub run_at: Option<Option<String>>,
    /// Replaces the whole target.
    pub target: Option<TargetSpec>,
    pub misfire: Option<Misfire>,
    pub paused: Option<bool>,
}

impl SchedulePatch {
    fn apply(self, mut spec: ScheduleSpec) -> ScheduleSpec {
        // Giving one kind of time replaces the other.
        match (&self.cron, &self.run_at) {
            (Some(Some(_)), None) => spec.run_at = None,
            (None, Some(Some(_))) => spec.cron = None,
            _ => {}
        }
        if let Some(name) = self.name {
            spec.name = name;
        }
        if let Some(cron) = self.cron {
            spec.cron = cron;
        }
        if let Some(timezone) = self.timezone {
            spec.timezone = timezone;
        }
        if let Some(run_at) = self.run_at {
            spec.run_at = run_at;
        }
        if let Some(target) = self.target {
            spec.target = target;
        }
        if let Some(misfire) = self.misfire {
            spec.misfire = Some(misfire);
        }
        if let Some(paused) = self.paused {
            spec.paused = Some(paused);
        }
        spec
    }
}

/// Update a schedule.
///
/// Any field, with the same validation as on creation. A changed time
/// (`cron`, `timezone`, `run_at`) recomputes `next_fire_at` from now;
/// otherwise the pending fire is kept.
#[utoipa::path(operation_id = "schedules_update", patch, path = "/api/v1/schedules/{id}", tag = "schedules", request_body = SchedulePatch,
    params(("id" = uuid::Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Updated", body = ScheduleDetail),
        (status = 404, description = "No such schedule", body = ErrorBody),
        (status = 409, description = "The new name is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<SchedulePatch>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let old = schedules::get_for_update(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule", id))?;
    let stored = old.to_spec();
    let mut spec = patch.apply(stored.clone());
    // Secrets shown masked and sent back unchanged keep their stored value.
    if let (TargetSpec::Job(edited), TargetSpec::Job(stored)) = (&mut spec.target, &stored.target) {
        if let (Some(edited), Some(stored)) = (edited.payload.as_mut(), stored.payload.as_ref()) {
            conveyor_shared::secrets::restore_masked(edited, stored);
        }
    }
    let new = validate(&state, &spec, old.run_at).await?;
    let next_fire_at = new.next_fire_replacing(&old, state.clock.now());
    let schedule = schedules::update(&mut *tx, id, &new, next_fire_at)
        .await
        .map_err(|e| name_taken(e, &new.name))?
        .ok_or_else(|| ApiError::not_found("schedule", id))?;
    tx.commit().await?;
    info!(schedule_id = %id, next_fire_at = ?schedule.next_fire_at, "schedule updated");
    Ok(Json(detail(&state, schedule).await?))
}

/// Delete a schedule. The jobs it created stay, unlinked from it.
#[utoipa::path(operation_id = "schedules_remove", delete, path = "/api/v1/schedules/{id}", tag = "schedules",
    params(("id" = uuid::Uuid, Path, description = "Schedule id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if !schedules::delete(&state.pool, id).await? {
        return Err(ApiError::not_found("schedule", id));
    }
    info!(schedule_id = %id, "schedule deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses or resumes; a schedule already in that state is left as it is.
async fn set_paused(state: &AppState, raw_id: &str, paused: bool) -> Result<Schedule, ApiError> {
    let id = parse_id(raw_id)?;
    let mut tx = state.pool.begin().await?;
    let old = schedules::get_for_update(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule", id))?;
    if old.paused == paused {
        return Ok(old);
    }
    let next_fire_at = if paused {
        old.next_fire_at
    } else {
        let timing = old
            .timing()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("stored schedule is invalid: {e}")))?;
        old.next_fire_on_resume(&timing, old.misfire, state.clock.now())
    };
    let schedule = schedules::set_paused(&mut *tx, id, paused, next_fire_at)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule", id))?;
    tx.commit().await?;
    info!(schedule_id = %id, paused, next_fire_at = ?schedule.next_fire_at, "schedule paused or resumed");
    Ok(schedule)
}

/// Pause a schedule: it does not fire until resumed.
#[utoipa::path(operation_id = "schedules_pause", post, path = "/api/v1/schedules/{id}/pause", tag = "schedules",
    params(("id" = uuid::Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Paused", body = ScheduleDetail),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ))]
pub async fn pause(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let schedule = set_paused(&state, &id, true).await?;
    Ok(Json(detail(&state, schedule).await?))
}

/// Resume a schedule. Fires missed while paused follow its misfire policy:
/// `skip` goes on from the next time after now; `fire_once` and `fire_all`
/// fire the missed ones at the next tick.
#[utoipa::path(operation_id = "schedules_resume", post, path = "/api/v1/schedules/{id}/resume", tag = "schedules",
    params(("id" = uuid::Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Resumed", body = ScheduleDetail),
        (status = 404, description = "No such schedule", body = ErrorBody),
    ))]
pub async fn resume(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let schedule = set_paused(&state, &id, false).await?;
    Ok(Json(detail(&state, schedule).await?))
}

/// A schedule's time to try out: `cron` (with `timezone`) or `run_at`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub cron: Option<String>,
    /// IANA time zone (default UTC).
    pub timezone: Option<String>,
    pub run_at: Option<String>,
    /// How many fire times, 1-100 (default 5).
    pub count: Option<i64>,
}

/// The next fire times of a schedule's time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub timezone: String,
    pub fires: Vec<FireTime>,
}

/// Preview fire times without saving anything.
///
/// Answers the next fires of `cron` in `timezone` (or the one fire of
/// `run_at`), on that wall clock and in UTC; a bad expression, unknown zone
/// or past `run_at` is a 422 naming the field, as on creation.
#[utoipa::path(operation_id = "schedules_preview", post, path = "/api/v1/schedules/preview", tag = "schedules", request_body = PreviewRequest,
    responses(
        (status = 200, description = "The next fire times", body = Preview),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn preview(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    let count = match request.count {
        None => 5,
        Some(n @ 1..=100) => n as usize,
        Some(_) => return Err(ApiError::field("count", "must be an integer from 1 to 100")),
    };
    let timing = Timing::parse(
        request.cron.as_deref(),
        request.timezone.as_deref(),
        request.run_at.as_deref(),
    )?;
    let now = state.clock.now();
    timing.first_after(now, None)?;
    let fires = timing
        .upcoming(now, count)
        .into_iter()
        .map(|at| FireTime::new(&timing, at))
        .collect();
    Ok(Json(Preview {
        timezone: timing.zone.name().to_owned(),
        fires,
    }))
}
