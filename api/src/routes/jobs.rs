//! `/jobs`: submit, list, read, cancel and retry jobs.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use conveyor_shared::auth::Scope;
use conveyor_shared::db::jobs::{self, Cursor, JobFilter, JobSort};
use conveyor_shared::db::{definitions, workflows};
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::{Attempt, Job, JobSpec, JobStatus, Limits, NewJob};
use conveyor_shared::queue::QueueOp;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use utoipa::{IntoParams, ToSchema};

use super::parse_id;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/jobs", post(submit).get(list))
        .route("/jobs/batch", post(submit_batch))
        .route("/jobs/bulk", post(bulk))
        .route("/jobs/{id}", get(show).delete(remove))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/retry", post(retry))
}

/// Validates specs against the current kinds and limits; in a batch a field
/// is named as `jobs[i].field`.
async fn validate_all(
    state: &AppState,
    specs: &[JobSpec],
    batch: bool,
    scope: Scope,
) -> Result<Vec<NewJob>, ApiError> {
    let name = |i: usize, e: conveyor_shared::model::FieldError| {
        if batch {
            ApiError::Invalid(e.within(&format!("jobs[{i}]")))
        } else {
            ApiError::Invalid(e)
        }
    };
    // Only specs naming a definition need one read; the others are used as
    // they are, without a copy.
    let definitions = if specs.iter().any(|s| s.definition.is_some()) {
        let refs: Vec<&JobSpec> = specs.iter().collect();
        definitions::for_specs(&state.pool, &refs).await?
    } else {
        HashMap::new()
    };
    if scope != Scope::Admin {
        for (i, spec) in specs.iter().enumerate() {
            let Some(definition) = spec.definition.as_ref().and_then(|n| definitions.get(n)) else {
                continue;
            };
            if let Some(field) = spec.redirects_secrets_of(definition) {
                let field = if batch {
                    format!("jobs[{i}].{field}")
                } else {
                    field
                };
                return Err(ApiError::ForbiddenField {
                    message: format!(
                        "{field} cannot be overridden: the definition holds secrets, \
                         and only an admin token may point it elsewhere"
                    ),
                    field,
                });
            }
        }
    }
    let resolved = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| match spec.definition {
            None => Ok(Cow::Borrowed(spec)),
            Some(_) => definitions::resolve(spec, &definitions)
                .map(Cow::Owned)
                .map_err(|e| name(i, e)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let wanted: Vec<&str> = resolved.iter().filter_map(|s| s.kind.as_deref()).collect();
    let kinds = state.known_kinds(&wanted).await?;
    let limits = Limits {
        max_payload_bytes: state.config.max_payload_bytes,
    };
    let now = state.clock.now();
    let is_known = |k: &str| kinds.contains(k);
    resolved
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut job = spec
                .validate(now, limits, &is_known)
                .map_err(|e| name(i, e))?;
            // A replay is recognised by what the client sent, not by what
            // the definition made of it (validate hashed the resolved spec).
            if job.request_hash.is_some() && specs[i].definition.is_some() {
                job.request_hash = Some(conveyor_shared::model::canonical_hash(
                    &serde_json::to_value(&specs[i]).unwrap_or_default(),
                ));
            }
            Ok(job)
        })
        .collect()
}

/// The caller's scope; the authentication middleware always sets one, so a
/// missing principal is treated as the smallest scope.
fn scope_of(principal: &Option<Extension<Principal>>) -> Scope {
    principal.as_ref().map_or(Scope::Read, |p| p.scope)
}

/// Makes freshly inserted jobs visible in Redis and announces them. A Redis
/// failure is logged, not returned: the jobs are safe in Postgres and the
/// reconciler makes them visible when Redis is back.
async fn publish_new(state: &AppState, jobs: &[Job]) {
    crate::submitter::publish_new(&state.queue, state.clock.now(), jobs).await;
}

/// Inserts validated jobs. Replays of an idempotency key with the same body
/// return the existing job; a different body is a 409. Returns each job in
/// input order and whether it was created now.
///
/// Without idempotency keys the insert is one statement, atomic by itself;
/// with them, the insert and the look-up of replays share a transaction.
async fn insert_all(
    state: &AppState,
    new_jobs: &[NewJob],
    batch: bool,
) -> Result<Vec<(Job, bool)>, ApiError> {
    if new_jobs.iter().all(|j| j.idempotency_key.is_none()) {
        let inserted = jobs::insert(&state.pool, new_jobs).await?;
        return crate::submitter::in_request_order(new_jobs, inserted)
            .map(|job| job.map(|job| (job, true)))
            .collect();
    }
    let mut tx = state.pool.begin().await?;
    let inserted = jobs::insert(&mut *tx, new_jobs).await?;
    let mut by_id: HashMap<uuid::Uuid, Job> = inserted.into_iter().map(|j| (j.id, j)).collect();
    let mut out = Vec::with_capacity(new_jobs.len());
    for (i, new) in new_jobs.iter().enumerate() {
        if let Some(job) = by_id.remove(&new.id) {
            out.push((job, true));
            continue;
        }
        let key = new.idempotency_key.as_deref().unwrap_or_default();
        let existing = jobs::by_idempotency_key(&mut *tx, new.queue.as_str(), key).await?;
        let field = if batch {
            format!("jobs[{i}].idempotency_key")
        } else {
            "idempotency_key".into()
        };
        match existing {
            Some((job, hash)) if hash.is_some() && hash == new.request_hash => {
                out.push((job, false))
            }
            Some((job, _)) => {
                return Err(ApiError::Conflict {
                    message: format!(
                    "idempotency key {key:?} was already used in queue {} with a different body",
                    new.queue
                ),
                    details: Some(serde_json::json!({ "field": field, "job_id": job.id })),
                })
            }
            None => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "job with idempotency key {key:?} was neither inserted nor found"
                )))
            }
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// Submit a job.
///
/// Answers 201 with the new job; 200 with the existing job when the same
/// `idempotency_key` and body were submitted before; 409 when the key was used
/// with a different body.
#[utoipa::path(operation_id = "jobs_submit", post, path = "/api/v1/jobs", tag = "jobs", request_body = JobSpec,
    responses(
        (status = 201, description = "Created", body = Job),
        (status = 200, description = "Idempotent replay: the existing job", body = Job),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "Idempotency key reused with a different body", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn submit(
    State(state): State<Arc<AppState>>,
    principal: Option<Extension<Principal>>,
    ApiJson(spec): ApiJson<JobSpec>,
) -> Result<(StatusCode, Json<Job>), ApiError> {
    let Some(new_job) = validate_all(
        &state,
        std::slice::from_ref(&spec),
        false,
        scope_of(&principal),
    )
    .await?
    .pop() else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "validation returned nothing"
        )));
    };
    if new_job.idempotency_key.is_none() {
        // Nothing to replay or conflict with: group-committed with the
        // other single submits, published and counted there.
        let job = state.submitter().submit(new_job).await?;
        info!(job_id = %job.id, queue = %job.queue, kind = %job.kind, attempt = job.attempt,
              status = ?job.status, "job submitted");
        return Ok((StatusCode::CREATED, Json(job)));
    }
    let mut results = insert_all(&state, std::slice::from_ref(&new_job), false).await?;
    let Some((job, created)) = results.pop() else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "insert returned nothing"
        )));
    };
    if created {
        info!(job_id = %job.id, queue = %job.queue, kind = %job.kind, attempt = job.attempt,
              status = ?job.status, "job submitted");
        crate::metrics::jobs_submitted([&job]);
        publish_new(&state, std::slice::from_ref(&job)).await;
        Ok((StatusCode::CREATED, Json(job)))
    } else {
        info!(job_id = %job.id, "idempotent replay");
        Ok((StatusCode::OK, Json(job)))
    }
}

/// A batch of jobs to submit together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 jobs (configurable with MAX_BATCH).
    pub jobs: Vec<JobSpec>,
}

/// The jobs of a batch, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub jobs: Vec<Job>,
}

/// Submit up to 1,000 jobs in one transaction.
///
/// All are created or none: any invalid job rejects the whole batch, naming
/// it as `jobs[i].field`.
#[utoipa::path(operation_id = "jobs_submit_batch", post, path = "/api/v1/jobs/batch", tag = "jobs", request_body = BatchRequest,
    responses(
        (status = 201, description = "Created", body = BatchResponse),
        (status = 409, description = "Idempotency key reused with a different body", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn submit_batch(
    State(state): State<Arc<AppState>>,
    principal: Option<Extension<Principal>>,
    ApiJson(batch): ApiJson<BatchRequest>,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    if batch.jobs.is_empty() || batch.jobs.len() > state.config.max_batch {
        return Err(ApiError::field(
            "jobs",
            format!("must hold 1 to {} jobs", state.config.max_batch),
        ));
    }
    let new_jobs = validate_all(&state, &batch.jobs, true, scope_of(&principal)).await?;
    let results = insert_all(&state, &new_jobs, true).await?;
    let created: Vec<Job> = results
        .iter()
        .filter(|(_, created)| *created)
        .map(|(j, _)| j.clone())
        .collect();
    info!(count = created.len(), "batch submitted");
    crate::metrics::jobs_submitted(&created);
    publish_new(&state, &created).await;
    Ok((
        StatusCode::CREATED,
        Json(BatchResponse {
            jobs: results.into_iter().map(|(j, _)| j).collect(),
        }),
    ))
}

/// Filters and pagination of the jobs list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// One of blocked, scheduled, queued, running, succeeded, dead, cancelled, skipped.
    pub status: Option<String>,
    pub queue: Option<String>,
    pub kind: Option<String>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Page size, 1-500 (default 50).
    pub limit: Option<String>,
    /// `created` (newest first, the default) or `priority` (highest first).
    pub sort: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Pass as `cursor` for the next page (with the same filters and sort);
    /// null on the last page.
    pub next_cursor: Option<String>,
}

/// List jobs, newest first, with filters and keyset pagination.
#[utoipa::path(operation_id = "jobs_list", get, path = "/api/v1/jobs", tag = "jobs", params(ListParams),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 422, description = "A filter is invalid", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<JobPage>, ApiError> {
    let Query(params) = params?;
    let status = match params.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => Some(
            JobStatus::parse(raw)
                .ok_or_else(|| ApiError::field("status", format!("unknown status {raw:?}")))?,
        ),
    };
    let limit = match params.limit.as_deref() {
        None => 50,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=state.config.max_page).contains(l))
            .ok_or_else(|| {
                ApiError::field(
                    "limit",
                    format!("must be an integer from 1 to {}", state.config.max_page),
                )
            })?,
    };
    let sort = match params.sort.as_deref() {
        None | Some("") | Some("created") => JobSort::Created,
        Some("priority") => JobSort::Priority,
        Some(other) => {
            return Err(ApiError::field(
                "sort",
                format!("unknown sort {other:?}: expected created or priority"),
            ))
        }
    };
    let cursor = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(Cursor::decode(raw, sort).ok_or_else(|| {
            ApiError::field(
                "cursor",
                "is not a cursor from a previous page of this sort",
            )
        })?),
    };
    let filter = filter_of(params.queue, params.kind, params.name, status);
    let running = match filter.status {
        Some(JobStatus::Running) => state.running_ids(filter.queue.as_deref()).await,
        _ => None,
    };
    let mut jobs = jobs::list(
        &state.pool,
        &filter,
        sort,
        cursor,
        limit + 1,
        running.as_deref(),
    )
    .await?;
    let next_cursor = if jobs.len() > limit as usize {
        jobs.truncate(limit as usize);
        jobs.last().map(|j| Cursor::after(j, sort).encode())
    } else {
        None
    };
    Ok(Json(JobPage { jobs, next_cursor }))
}

/// A job with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: Job,
    pub attempts: Vec<Attempt>,
}

/// Get a job with its attempts.
#[utoipa::path(operation_id = "jobs_show", get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobDetail),
        (status = 404, description = "No such job", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<JobDetail>, ApiError> {
    let id = parse_id(&id)?;
    let job = jobs::get(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job", id))?;
    let attempts = jobs::attempts(&state.pool, id).await?;
    Ok(Json(JobDetail { job, attempts }))
}

/// Why a state change was refused: the job exists but is in the wrong state.
async fn wrong_state(state: &AppState, id: uuid::Uuid, action: &str, allowed: &str) -> ApiError {
    match jobs::status(&state.pool, id).await {
        Ok(Some(status)) => ApiError::Conflict {
            message: format!(
                "cannot {action} a job that is {}; only {allowed} jobs can be",
                status.as_str()
            ),
            details: Some(serde_json::json!({ "field": "status", "status": status })),
        },
        Ok(None) => ApiError::not_found("job", id),
        Err(e) => e.into(),
    }
}

/// Cancel a job.
///
/// A blocked, scheduled or queued job will never start; a running job is
/// stopped (its shell process group is killed).
#[utoipa::path(operation_id = "jobs_cancel", post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "Cancelled", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already finished", body = ErrorBody),
    ))]
pub async fn cancel(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin().await?;
    let Some(job) = jobs::cancel(&mut *tx, id).await? else {
        drop(tx);
        return Err(wrong_state(
            &state,
            id,
            "cancel",
            "blocked, scheduled, queued or running",
        )
        .await);
    };
    // In a workflow run, what waited on this job will never run.
    let skipped = if job.workflow_run_id.is_some() {
        workflows::skip_descendants(&mut tx, &[job.id]).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    info!(job_id = %job.id, skipped = skipped.len(), "job cancelled");
    let now = state.clock.now();
    let ops = [
        QueueOp::Publish(
            std::iter::once(&job)
                .chain(&skipped)
                .map(|j| StatusEvent::of(j, now))
                .collect(),
        ),
        QueueOp::remove(&job),
    ];
    if let Err(e) = state.queue.apply(&ops).await {
        // The worker's conditional claim refuses a cancelled job anyway.
        warn!(job_id = %job.id, error = %format!("{e:#}"), "could not update Redis after cancel");
    }
    Ok(Json(job))
}

/// Retry a dead, cancelled or skipped job as a new attempt, with a fresh
/// budget of `max_attempts`.
#[utoipa::path(operation_id = "jobs_retry", post, path = "/api/v1/jobs/{id}/retry", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses(
        (status = 200, description = "Queued again", body = Job),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job is not dead, cancelled or skipped, or a parent of it in its workflow run has not succeeded (the parent is named)", body = ErrorBody),
    ))]
pub async fn retry(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    let id = parse_id(&id)?;
    let retried = jobs::retry(&state.pool, id, state.clock.now()).await?;
    let Some(job) = retried.queued.first().cloned() else {
        if let Some((parent, status)) = jobs::failed_parent(&state.pool, id).await? {
            return Err(ApiError::Conflict {
                message: format!(
                    "cannot retry a job whose parent {parent:?} is {}; retry the parent first \
                     (its skipped descendants run again when it succeeds)",
                    status.as_str()
                ),
                details: Some(serde_json::json!({ "field": "parent", "parent": parent,
                                                  "status": status })),
            });
        }
        return Err(wrong_state(&state, id, "retry", "dead, cancelled or skipped").await);
    };
    info!(job_id = %job.id, unskipped = retried.unskipped.len(), "job retried by request");
    publish_retried(&state, &retried).await;
    Ok(Json(job))
}

/// Makes retried jobs claimable and tells subscribers about them and about
/// the descendants they released from `skipped` (blocked: not in Redis).
async fn publish_retried(state: &AppState, retried: &jobs::Retried) {
    publish_new(state, &retried.queued).await;
    if retried.unskipped.is_empty() {
        return;
    }
    let now = state.clock.now();
    let events = retried
        .unskipped
        .iter()
        .map(|j| StatusEvent::of(j, now))
        .collect();
    if let Err(e) = state.queue.apply(&[QueueOp::Publish(events)]).await {
        warn!(error = %format!("{e:#}"), "could not publish the unskipped jobs");
    }
}

fn filter_of(
    queue: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    status: Option<JobStatus>,
) -> JobFilter {
    JobFilter {
        status,
        queue: queue.filter(|q| !q.is_empty()),
        kind: kind.filter(|k| !k.is_empty()),
        name: name.filter(|n| !n.is_empty()),
    }
}

/// Most jobs one bulk request acts on; call again while `more` is true.
const BULK_LIMIT: usize = 10_000;

/// What a bulk request does.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Cancel,
    Retry,
    Delete,
}

/// A filter for bulk actions (the filters of the jobs list).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkFilter {
    pub status: Option<String>,
    pub queue: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
}

/// Act on jobs named by id, or on every job matching a filter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub action: BulkAction,
    /// At most 10,000 ids.
    pub ids: Option<Vec<uuid::Uuid>>,
    pub filter: Option<BulkFilter>,
}

/// What a bulk request did.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// Jobs named or matched (at most 10,000).
    pub matched: usize,
    /// Jobs the action applied to.
    pub changed: usize,
    /// Jobs in a state the action does not apply to (for example a running
    /// job asked to retry), left as they were.
    pub skipped: usize,
    /// A filter matched more than 10,000 jobs: call again for the rest.
    pub more: bool,
}

/// Cancel, retry or delete many jobs: by ids, or every job matching a filter
/// (10,000 per call). Jobs whose state does not allow the action are skipped
/// and counted.
#[utoipa::path(operation_id = "jobs_bulk", post, path = "/api/v1/jobs/bulk", tag = "jobs",
    request_body = BulkRequest,
    responses(
        (status = 200, description = "Done", body = BulkResult),
        (status = 422, description = "Neither or both of ids and filter, or a bad filter", body = ErrorBody),
    ))]
pub async fn bulk(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<BulkRequest>,
) -> Result<Json<BulkResult>, ApiError> {
    let (ids, more) = match (request.ids, request.filter) {
        (Some(ids), None) => {
            if ids.len() > BULK_LIMIT {
                return Err(ApiError::field("ids", format!("at most {BULK_LIMIT} ids")));
            }
            (ids, false)
        }
        (None, Some(f)) => {
            let status = match f.status.as_deref().filter(|s| !s.is_empty()) {
                None => None,
                Some(raw) => Some(JobStatus::parse(raw).ok_or_else(|| {
                    ApiError::field("filter.status", format!("unknown status {raw:?}"))
                })?),
            };
            let filter = filter_of(f.queue, f.kind, f.name, status);
            // Only jobs the action applies to, so `more` means more to do.
            let eligible: &[JobStatus] = match request.action {
                BulkAction::Cancel => &[
                    JobStatus::Blocked,
                    JobStatus::Scheduled,
                    JobStatus::Queued,
                    JobStatus::Running,
                ],
                BulkAction::Retry => &[JobStatus::Dead, JobStatus::Cancelled, JobStatus::Skipped],
                BulkAction::Delete => &[
                    JobStatus::Succeeded,
                    JobStatus::Dead,
                    JobStatus::Cancelled,
                    JobStatus::Skipped,
                ],
            };
            let wants_running = eligible.contains(&JobStatus::Running)
                && filter.status.is_none_or(|s| s == JobStatus::Running);
            let running = if wants_running {
                state.running_ids(filter.queue.as_deref()).await
            } else {
                None
            };
            let mut ids = jobs::matching_ids(
                &state.pool,
                &filter,
                eligible,
                BULK_LIMIT as i64 + 1,
                running.as_deref(),
            )
            .await?;
            let more = ids.len() > BULK_LIMIT;
            ids.truncate(BULK_LIMIT);
            (ids, more)
        }
        _ => return Err(ApiError::field("ids", "give either ids or filter")),
    };
    let now = state.clock.now();
    let changed = match request.action {
        BulkAction::Cancel => {
            let mut tx = state.pool.begin().await?;
            let cancelled = jobs::cancel_many(&mut *tx, &ids).await?;
            let in_runs: Vec<uuid::Uuid> = cancelled
                .iter()
                .filter(|j| j.workflow_run_id.is_some())
                .map(|j| j.id)
                .collect();
            let skipped = workflows::skip_descendants(&mut tx, &in_runs).await?;
            tx.commit().await?;
            let mut ops = vec![QueueOp::Publish(
                cancelled
                    .iter()
                    .chain(&skipped)
                    .map(|j| StatusEvent::of(j, now))
                    .collect(),
            )];
            ops.extend(cancelled.iter().map(QueueOp::remove));
            if let Err(e) = state.queue.apply(&ops).await {
                warn!(error = %format!("{e:#}"), "could not update Redis after a bulk cancel");
            }
            cancelled.len()
        }
        BulkAction::Retry => {
            let retried = jobs::retry_many(&state.pool, &ids, now).await?;
            publish_retried(&state, &retried).await;
            retried.queued.len()
        }
        BulkAction::Delete => jobs::delete_finished(&state.pool, &ids).await?.len(),
    };
    info!(action = ?request.action, matched = ids.len(), changed, "bulk action");
    Ok(Json(BulkResult {
        matched: ids.len(),
        changed,
        skipped: ids.len() - changed,
        more,
    }))
}

/// Delete a finished job (succeeded, dead, cancelled or skipped) with its
/// attempts. A job that has not finished answers 409: cancel it first.
#[utoipa::path(operation_id = "jobs_remove", delete, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = uuid::Uuid, Path, description = "Job id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job has not finished", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    if jobs::delete_finished(&state.pool, &[id]).await?.is_empty() {
        return Err(wrong_state(
            &state,
            id,
            "delete",
            "succeeded, dead, cancelled or skipped",
        )
        .await);
    }
    info!(job_id = %id, "job deleted");
    Ok(StatusCode::NO_CONTENT)
}
