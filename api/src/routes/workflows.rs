//! `/workflows` and `/workflow-runs`: DAGs of job templates, their edits,
//! and their runs. Every edit of the graph is checked for cycles under a lock
//! on the workflow; a rejected edit leaves the graph unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use conveyor_shared::dag::{self, GraphError};
use conveyor_shared::db::workflows::{self as db, Node, Run, RunSummary, StartError, Workflow};
use conveyor_shared::db::{definitions, workflows::WorkflowSummary};
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::{check_identifier, FieldError, Job, JobSpec, Limits};
use conveyor_shared::queue::QueueOp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/workflows", get(list).post(create))
        .route("/workflows/{id}", get(show).delete(remove))
        .route("/workflows/{id}/nodes", post(add_node))
        .route("/workflows/{id}/nodes/{key}", delete(remove_node))
        .route("/workflows/{id}/edges", post(add_edge))
        .route(
            "/workflows/{id}/edges/{parent}/{child}",
            delete(remove_edge),
        )
        .route("/workflows/{id}/runs", get(runs).post(start))
        .route("/workflow-runs/{id}", get(show_run))
        .route("/workflow-runs/{id}/retry", post(retry_run))
        .route("/workflow-runs/{id}/cancel", post(cancel_run))
}

/// A node as submitted: its key and job template (which may name a
/// definition and override its fields).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// 1-64 of letters, digits, `_ . : -`; unique in the workflow.
    pub key: String,
    pub job: JobSpec,
}

/// A workflow as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    pub description: Option<String>,
    pub nodes: Vec<NodeSpec>,
    /// `[parent_key, child_key]` pairs: the child runs after the parent succeeds.
    #[serde(default)]
    pub edges: Vec<[String; 2]>,
}

/// An edge to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    pub parent: String,
    pub child: String,
}

/// A node with its neighbours (children are derived from the edges).
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    pub key: String,
    #[schema(value_type = JobSpec)]
    #[serde(serialize_with = "conveyor_shared::secrets::serialize_redacted")]
    pub template: serde_json::Value,
    pub parents: Vec<String>,
    pub children: Vec<String>,
}

/// A workflow with its graph.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowDetail {
    #[serde(flatten)]
    pub workflow: Workflow,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<[String; 2]>,
    /// Parents before children.
    pub topological_order: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowList {
    pub workflows: Vec<WorkflowSummary>,
}

/// A node of a run: its job and neighbours.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunNode {
    pub key: String,
    pub job: Job,
    pub parents: Vec<String>,
    pub children: Vec<String>,
}

/// A run with every node's job and state.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: Run,
    /// running, succeeded, failed or cancelled (derived from the jobs).
    pub status: &'static str,
    pub nodes: Vec<RunNode>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
}

fn graph_error(e: GraphError) -> ApiError {
    match &e {
        GraphError::Cycle(path) => ApiError::Conflict {
            message: e.to_string(),
            details: Some(json!({ "field": "edges", "cycle": path })),
        },
        _ => ApiError::field(e.field(), e.to_string()),
    }
}

/// Checks a node's template makes a valid job (with its definition).
async fn check_template(state: &AppState, template: &JobSpec, field: &str) -> Result<(), ApiError> {
    let within = |e: FieldError| ApiError::Invalid(e.within(field));
    template.check_template().map_err(within)?;
    let found = definitions::for_specs(&state.pool, &[template]).await?;
    let spec = definitions::resolve(template, &found).map_err(within)?;
    let kinds = state
        .known_kinds(&[spec.kind.as_deref().unwrap_or_default()])
        .await?;
    let limits = Limits {
        max_payload_bytes: state.config.max_payload_bytes,
    };
    spec.validate(state.clock.now(), limits, &|k| kinds.contains(k))
        .map(|_| ())
        .map_err(within)
}

/// The workflow named by `id` (a UUID or the workflow's name).
async fn find(state: &AppState, id: &str) -> Result<Workflow, ApiError> {
    let found = match Uuid::parse_str(id) {
        Ok(uuid) => db::get(&state.pool, uuid).await?,
        Err(_) => db::by_name(&state.pool, id).await?,
    };
    found.ok_or_else(|| ApiError::not_found("workflow", id))
}

async fn detail(state: &AppState, workflow: Workflow) -> Result<WorkflowDetail, ApiError> {
    let nodes: Vec<Node> = db::nodes(&state.pool, workflow.id).await?;
    let edges = db::edges(&state.pool, workflow.id).await?;
    let keys: Vec<String> = nodes.iter().map(|n| n.key.clone()).collect();
    let order = dag::topological_order(&keys, &edges);
    let views = nodes
        .into_iter()
        .map(|n| NodeView {
            parents: edges
                .iter()
                .filter(|(_, c)| *c == n.key)
                .map(|(p, _)| p.clone())
                .collect(),
            children: edges
                .iter()
                .filter(|(p, _)| *p == n.key)
                .map(|(_, c)| c.clone())
                .collect(),
            template: serde_json::to_value(&n.template.0).unwrap_or_default(),
            key: n.key,
        })
        .collect();
    Ok(WorkflowDetail {
        workflow,
        nodes: views,
        edges: edges.into_iter().map(|(p, c)| [p, c]).collect(),
        topological_order: order,
    })
}

/// Create a workflow: nodes (job templates) and edges in one request.
///
/// A cycle answers 409 with its path (`a → b → c → a`); self-edges, duplicate
/// edges, unknown node keys and duplicate node keys answer 422.
#[utoipa::path(operation_id = "workflows_create", post, path = "/api/v1/workflows", tag = "workflows", request_body = WorkflowSpec,
    responses(
        (status = 201, description = "Created", body = WorkflowDetail),
        (status = 409, description = "A cycle, or the name is taken", body = ErrorBody),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(spec): ApiJson<WorkflowSpec>,
) -> Result<(StatusCode, Json<WorkflowDetail>), ApiError> {
    if spec.name.is_empty() || spec.name.len() > 200 {
        return Err(ApiError::field("name", "must be 1-200 characters"));
    }
    if spec.nodes.is_empty() {
        return Err(ApiError::field(
            "nodes",
            "a workflow needs at least one node",
        ));
    }
    for (i, node) in spec.nodes.iter().enumerate() {
        check_identifier(&node.key, &format!("nodes[{i}].key"))?;
    }
    let keys: Vec<String> = spec.nodes.iter().map(|n| n.key.clone()).collect();
    let edges: Vec<(String, String)> = spec
        .edges
        .iter()
        .map(|[p, c]| (p.clone(), c.clone()))
        .collect();
    dag::check(&keys, &edges).map_err(graph_error)?;
    for (i, node) in spec.nodes.iter().enumerate() {
        check_template(&state, &node.job, &format!("nodes[{i}].job")).await?;
    }
    let nodes: Vec<(String, JobSpec)> = spec
        .nodes
        .iter()
        .map(|n| (n.key.clone(), n.job.clone()))
        .collect();
    let mut tx = state.pool.begin().await?;
    let created = db::create(
        &mut tx,
        &spec.name,
        spec.description.as_deref(),
        &nodes,
        &edges,
    )
    .await?
    .ok_or_else(|| ApiError::Conflict {
        message: format!("a workflow named {:?} exists", spec.name),
        details: Some(json!({ "field": "name" })),
    })?;
    tx.commit().await?;
    info!(workflow = %created.name, workflow_id = %created.id, nodes = nodes.len(),
          edges = edges.len(), "workflow created");
    Ok((StatusCode::CREATED, Json(detail(&state, created).await?)))
}

/// List workflows.
#[utoipa::path(operation_id = "workflows_list", get, path = "/api/v1/workflows", tag = "workflows",
    responses((status = 200, description = "Workflows", body = WorkflowList)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<WorkflowList>, ApiError> {
    Ok(Json(WorkflowList {
        workflows: db::list(&state.pool).await?,
    }))
}

/// Get a workflow (by id or name): nodes with parents and children, edges,
/// and a topological order.
#[utoipa::path(operation_id = "workflows_show", get, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowDetail),
        (status = 404, description = "No such workflow", body = ErrorBody),
    ))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<WorkflowDetail>, ApiError> {
    let workflow = find(&state, &id).await?;
    Ok(Json(detail(&state, workflow).await?))
}

/// Delete a workflow with its finished runs. Refused (409) while a run has
/// unfinished jobs.
#[utoipa::path(operation_id = "workflows_remove", delete, path = "/api/v1/workflows/{id}", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 409, description = "A run is still going", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let workflow = find(&state, &id).await?;
    let mut tx = state.pool.begin().await?;
    db::lock(&mut tx, workflow.id).await?;
    if db::has_active_runs(&mut *tx, workflow.id).await? {
        return Err(ApiError::conflict(
            "the workflow has runs that have not finished; cancel them first",
        ));
    }
    db::delete(&mut tx, workflow.id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a node.
#[utoipa::path(operation_id = "workflows_add_node", post, path = "/api/v1/workflows/{id}/nodes", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name")),
    request_body = NodeSpec,
    responses(
        (status = 201, description = "Added", body = WorkflowDetail),
        (status = 422, description = "Bad or duplicate key, or bad template", body = ErrorBody),
    ))]
pub async fn add_node(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(node): ApiJson<NodeSpec>,
) -> Result<(StatusCode, Json<WorkflowDetail>), ApiError> {
    let workflow = find(&state, &id).await?;
    check_identifier(&node.key, "key")?;
    check_template(&state, &node.job, "job").await?;
    let mut tx = state.pool.begin().await?;
    db::lock(&mut tx, workflow.id).await?;
    if !db::add_node(&mut tx, workflow.id, &node.key, &node.job).await? {
        return Err(ApiError::field(
            "key",
            format!("node {:?} exists", node.key),
        ));
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(detail(&state, workflow).await?)))
}

/// Remove a node and its edges.
#[utoipa::path(operation_id = "workflows_remove_node", delete, path = "/api/v1/workflows/{id}/nodes/{key}", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name"),
           ("key" = String, Path, description = "Node key")),
    responses(
        (status = 200, description = "Removed", body = WorkflowDetail),
        (status = 404, description = "No such node", body = ErrorBody),
    ))]
pub async fn remove_node(
    State(state): State<Arc<AppState>>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Json<WorkflowDetail>, ApiError> {
    let workflow = find(&state, &id).await?;
    let mut tx = state.pool.begin().await?;
    db::lock(&mut tx, workflow.id).await?;
    if !db::remove_node(&mut tx, workflow.id, &key).await? {
        return Err(ApiError::not_found("node", key));
    }
    tx.commit().await?;
    Ok(Json(detail(&state, workflow).await?))
}

/// Add an edge. One that would close a cycle answers 409 with the cycle's
/// path, and the graph is unchanged.
#[utoipa::path(operation_id = "workflows_add_edge", post, path = "/api/v1/workflows/{id}/edges", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name")),
    request_body = EdgeSpec,
    responses(
        (status = 201, description = "Added", body = WorkflowDetail),
        (status = 409, description = "The edge closes a cycle", body = ErrorBody),
        (status = 422, description = "Self-edge, duplicate or unknown node", body = ErrorBody),
    ))]
pub async fn add_edge(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(edge): ApiJson<EdgeSpec>,
) -> Result<(StatusCode, Json<WorkflowDetail>), ApiError> {
    let workflow = find(&state, &id).await?;
    let mut tx = state.pool.begin().await?;
    // Under the lock, the graph we check is the graph we change.
    db::lock(&mut tx, workflow.id).await?;
    let keys: Vec<String> = db::nodes(&mut *tx, workflow.id)
        .await?
        .into_iter()
        .map(|n| n.key)
        .collect();
    let mut edges = db::edges(&mut *tx, workflow.id).await?;
    edges.push((edge.parent.clone(), edge.child.clone()));
    dag::check(&keys, &edges).map_err(|e| match e {
        GraphError::UnknownNode { key, .. } => {
            let field = if key == edge.parent {
                "parent"
            } else {
                "child"
            };
            ApiError::field(field, format!("no node {key:?} in this workflow"))
        }
        GraphError::SelfEdge { .. } => {
            ApiError::field("child", "an edge cannot join a node to itself")
        }
        GraphError::DuplicateEdge { .. } => ApiError::field("child", "this edge exists"),
        other => graph_error(other),
    })?;
    db::add_edge(&mut tx, workflow.id, &edge.parent, &edge.child).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(detail(&state, workflow).await?)))
}

/// Remove an edge.
#[utoipa::path(operation_id = "workflows_remove_edge", delete, path = "/api/v1/workflows/{id}/edges/{parent}/{child}", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name"),
           ("parent" = String, Path, description = "Parent key"),
           ("child" = String, Path, description = "Child key")),
    responses(
        (status = 200, description = "Removed", body = WorkflowDetail),
        (status = 404, description = "No such edge", body = ErrorBody),
    ))]
pub async fn remove_edge(
    State(state): State<Arc<AppState>>,
    Path((id, parent, child)): Path<(String, String, String)>,
) -> Result<Json<WorkflowDetail>, ApiError> {
    let workflow = find(&state, &id).await?;
    let mut tx = state.pool.begin().await?;
    db::lock(&mut tx, workflow.id).await?;
    if !db::remove_edge(&mut tx, workflow.id, &parent, &child).await? {
        return Err(ApiError::not_found("edge", format!("{parent} → {child}")));
    }
    tx.commit().await?;
    Ok(Json(detail(&state, workflow).await?))
}

/// Makes a run's queued jobs claimable and announces every job's state.
async fn announce(state: &AppState, jobs: &[Job], enqueue: &[Job]) {
    let now = state.clock.now();
    let mut ops = vec![QueueOp::Publish(
        jobs.iter().map(|j| StatusEvent::of(j, now)).collect(),
    )];
    ops.extend(enqueue.iter().map(QueueOp::enqueue));
    if let Err(e) = state.queue.apply(&ops).await {
        warn!(error = %format!("{e:#}"), "run saved but not yet in Redis; the reconciler will add it");
    }
}

async fn run_detail(state: &AppState, run: Run) -> Result<RunDetail, ApiError> {
    let jobs = db::run_jobs(&state.pool, run.id).await?;
    let dependencies = dependencies(state, &jobs).await?;
    let statuses: Vec<_> = jobs.iter().map(|j| j.status).collect();
    let nodes = jobs
        .into_iter()
        .map(|job| {
            let key = job.node_key.clone().unwrap_or_default();
            let (parents, children) = dependencies.get(&key).cloned().unwrap_or_default();
            RunNode {
                key,
                job,
                parents,
                children,
            }
        })
        .collect();
    Ok(RunDetail {
        status: db::run_status(&statuses),
        run,
        nodes,
    })
}

/// Parents and children by node key, from the run's own dependency
/// snapshot (the workflow may have been edited since the run started).
async fn dependencies(
    state: &AppState,
    jobs: &[Job],
) -> Result<BTreeMap<String, (Vec<String>, Vec<String>)>, ApiError> {
    let ids: Vec<Uuid> = jobs.iter().map(|j| j.id).collect();
    let results = db::parent_results(&state.pool, &ids).await?;
    let key_of: BTreeMap<Uuid, String> = jobs
        .iter()
        .map(|j| (j.id, j.node_key.clone().unwrap_or_default()))
        .collect();
    let mut out: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for (child, parent_key, _) in results {
        let child_key = key_of.get(&child).cloned().unwrap_or_default();
        out.entry(child_key.clone())
            .or_default()
            .0
            .push(parent_key.clone());
        out.entry(parent_key).or_default().1.push(child_key);
    }
    for (parents, children) in out.values_mut() {
        parents.sort();
        children.sort();
    }
    Ok(out)
}

/// Start a run: one job per node; nodes without parents are queued at once,
/// the others wait until all their parents have succeeded.
#[utoipa::path(operation_id = "workflows_start", post, path = "/api/v1/workflows/{id}/runs", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name")),
    responses(
        (status = 201, description = "Started", body = RunDetail),
        (status = 404, description = "No such workflow", body = ErrorBody),
        (status = 422, description = "A node's template is no longer valid", body = ErrorBody),
    ))]
pub async fn start(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunDetail>), ApiError> {
    let workflow = find(&state, &id).await?;
    let kinds = state.known_kinds(&[]).await?;
    let limits = Limits {
        max_payload_bytes: state.config.max_payload_bytes,
    };
    let mut tx = state.pool.begin().await?;
    let started = db::start_run(&mut tx, &workflow, None, state.clock.now(), limits, &|k| {
        kinds.contains(k)
    })
    .await
    .map_err(|e| match e {
        StartError::Db(e) => ApiError::from(e),
        StartError::Invalid(e) => ApiError::Invalid(e),
        StartError::Empty(_) => ApiError::field("nodes", e.to_string()),
    })?
    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("run was not created")))?;
    tx.commit().await?;
    let queued: Vec<Job> = started
        .jobs
        .iter()
        .filter(|j| j.status == conveyor_shared::model::JobStatus::Queued)
        .cloned()
        .collect();
    announce(&state, &started.jobs, &queued).await;
    info!(workflow = %workflow.name, run_id = %started.run_id, jobs = started.jobs.len(), "run started");
    crate::metrics::jobs_submitted(&started.jobs);
    let run = db::get_run(&state.pool, started.run_id)
        .await?
        .ok_or_else(|| ApiError::not_found("run", started.run_id))?;
    Ok((StatusCode::CREATED, Json(run_detail(&state, run).await?)))
}

/// The latest runs of a workflow (50), newest first, with their status.
#[utoipa::path(operation_id = "workflows_runs", get, path = "/api/v1/workflows/{id}/runs", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Workflow id or name")),
    responses((status = 200, description = "Runs", body = RunList)))]
pub async fn runs(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunList>, ApiError> {
    let workflow = find(&state, &id).await?;
    Ok(Json(RunList {
        runs: db::runs_of(&state.pool, workflow.id, 50).await?,
    }))
}

async fn find_run(state: &AppState, id: &str) -> Result<Run, ApiError> {
    let uuid = crate::routes::parse_id(id)?;
    db::get_run(&state.pool, uuid)
        .await?
        .ok_or_else(|| ApiError::not_found("run", id))
}

/// A run with every node's job and state.
#[utoipa::path(operation_id = "workflows_show_run", get, path = "/api/v1/workflow-runs/{id}", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub async fn show_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let run = find_run(&state, &id).await?;
    Ok(Json(run_detail(&state, run).await?))
}

/// Re-run a finished run's failed (dead), cancelled and skipped nodes,
/// keeping the succeeded ones.
#[utoipa::path(operation_id = "workflows_retry_run", post, path = "/api/v1/workflow-runs/{id}/retry", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Retried", body = RunDetail),
        (status = 409, description = "The run is still going, or succeeded", body = ErrorBody),
    ))]
pub async fn retry_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let run = find_run(&state, &id).await?;
    let mut tx = state.pool.begin().await?;
    sqlx::query("select id from workflow_runs where id = $1 for update")
        .bind(run.id)
        .execute(&mut *tx)
        .await?;
    let before: Vec<_> = db::run_jobs(&mut *tx, run.id)
        .await?
        .iter()
        .map(|j| j.status)
        .collect();
    match db::run_status(&before) {
        "running" => {
            return Err(ApiError::conflict(
                "the run is still going; cancel it or wait",
            ))
        }
        "succeeded" => return Err(ApiError::conflict("every node succeeded; nothing to retry")),
        _ => {}
    }
    let queued = db::retry_run(&mut tx, run.id).await?;
    let all = db::run_jobs(&mut *tx, run.id).await?;
    tx.commit().await?;
    let changed: Vec<Job> = all
        .into_iter()
        .filter(|j| {
            j.status == conveyor_shared::model::JobStatus::Blocked
                || queued.iter().any(|q| q.id == j.id)
        })
        .collect();
    announce(&state, &changed, &queued).await;
    info!(run_id = %run.id, requeued = queued.len(), "run retried");
    Ok(Json(run_detail(&state, run).await?))
}

/// Cancel every node of a run that has not finished.
#[utoipa::path(operation_id = "workflows_cancel_run", post, path = "/api/v1/workflow-runs/{id}/cancel", tag = "workflows",
    params(("id" = uuid::Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Cancelled", body = RunDetail),
        (status = 404, description = "No such run", body = ErrorBody),
    ))]
pub async fn cancel_run(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<RunDetail>, ApiError> {
    let run = find_run(&state, &id).await?;
    let mut tx = state.pool.begin().await?;
    let cancelled = db::cancel_run(&mut tx, run.id).await?;
    tx.commit().await?;
    let now = state.clock.now();
    let mut ops = vec![QueueOp::Publish(
        cancelled.iter().map(|j| StatusEvent::of(j, now)).collect(),
    )];
    ops.extend(cancelled.iter().map(QueueOp::remove));
    if let Err(e) = state.queue.apply(&ops).await {
        warn!(run_id = %run.id, error = %format!("{e:#}"), "could not update Redis after cancel");
    }
    info!(run_id = %run.id, cancelled = cancelled.len(), "run cancelled");
    Ok(Json(run_detail(&state, run).await?))
}
