//! Workflows (DAGs of job templates) and their runs.
//!
//! A run has one job per node. A job with parents starts `blocked` with
//! `pending_parents` set to its parent count; each parent that succeeds
//! decrements it in the same transaction as the parent's outcome, and the job
//! that reaches zero is queued. Decrementing the child row (rather than
//! re-counting parents) is what makes two parents finishing at once in two
//! transactions safe: the row lock orders them and the second sees the first.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::{definitions, jobs, kinds};
use crate::model::{FieldError, Job, JobSpec, JobStatus, Limits, NewJob, Origin, BUILTIN_KINDS};

/// A workflow's row.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Workflow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A node: a key and the job template it runs.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Node {
    pub key: String,
    #[schema(value_type = JobSpec)]
    #[serde(serialize_with = "crate::secrets::serialize_masked")]
    pub template: sqlx::types::Json<JobSpec>,
}

/// Creates a workflow with its nodes and edges (already checked by
/// `dag::check`); `None` when the name is taken.
pub async fn create(
    tx: &mut PgConnection,
    name: &str,
    description: Option<&str>,
    nodes: &[(String, JobSpec)],
    edges: &[(String, String)],
) -> sqlx::Result<Option<Workflow>> {
    let created: Option<Workflow> = sqlx::query_as(
        "insert into workflows (id, name, description) values ($1, $2, $3)
         on conflict (name) do nothing returning *",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(description)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(workflow) = created else {
        return Ok(None);
    };
    let keys: Vec<&str> = nodes.iter().map(|(k, _)| k.as_str()).collect();
    let templates: Vec<sqlx::types::Json<&JobSpec>> =
        nodes.iter().map(|(_, t)| sqlx::types::Json(t)).collect();
    sqlx::query(
        "insert into workflow_nodes (workflow_id, key, template)
         select $1, * from unnest($2::text[], $3::jsonb[])",
    )
    .bind(workflow.id)
    .bind(&keys)
    .bind(&templates)
    .execute(&mut *tx)
    .await?;
    insert_edges(tx, workflow.id, edges).await?;
    Ok(Some(workflow))
}

async fn insert_edges(
    tx: &mut PgConnection,
    workflow: Uuid,
    edges: &[(String, String)],
) -> sqlx::Result<()> {
    if edges.is_empty() {
        return Ok(());
    }
    let parents: Vec<&str> = edges.iter().map(|(p, _)| p.as_str()).collect();
    let children: Vec<&str> = edges.iter().map(|(_, c)| c.as_str()).collect();
    sqlx::query(
        "insert into workflow_edges (workflow_id, parent_key, child_key)
         select $1, * from unnest($2::text[], $3::text[])",
    )
    .bind(workflow)
    .bind(&parents)
    .bind(&children)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn get<'e>(exec: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Workflow>> {
    sqlx::query_as("select * from workflows where id = $1")
        .bind(id)
        .fetch_optional(exec)
        .await
}

pub async fn by_name<'e>(exec: impl PgExecutor<'e>, name: &str) -> sqlx::Result<Option<Workflow>> {
    sqlx::query_as("select * from workflows where name = $1")
        .bind(name)
        .fetch_optional(exec)
        .await
}

/// Locks a workflow for an edit of its graph; `None` when there is none.
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Workflow>> {
    sqlx::query_as("select * from workflows where id = $1 for update")
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// A workflow in the list, with its size.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct WorkflowSummary {
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub workflow: Workflow,
    pub node_count: i64,
    pub edge_count: i64,
    pub run_count: i64,
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<WorkflowSummary>> {
    sqlx::query_as(
        "select w.*,
                (select count(*) from workflow_nodes n where n.workflow_id = w.id) as node_count,
                (select count(*) from workflow_edges e where e.workflow_id = w.id) as edge_count,
                (select count(*) from workflow_runs r where r.workflow_id = w.id) as run_count
         from workflows w order by w.name",
    )
    .fetch_all(pool)
    .await
}

pub async fn nodes<'e>(exec: impl PgExecutor<'e>, workflow: Uuid) -> sqlx::Result<Vec<Node>> {
    sqlx::query_as("select key, template from workflow_nodes where workflow_id = $1 order by key")
        .bind(workflow)
        .fetch_all(exec)
        .await
}

pub async fn edges<'e>(
    exec: impl PgExecutor<'e>,
    workflow: Uuid,
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "select parent_key, child_key from workflow_edges where workflow_id = $1
         order by parent_key, child_key",
    )
    .bind(workflow)
    .fetch_all(exec)
    .await
}

/// Adds a node; false when the key exists.
pub async fn add_node(
    tx: &mut PgConnection,
    workflow: Uuid,
    key: &str,
    template: &JobSpec,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into workflow_nodes (workflow_id, key, template) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(workflow)
    .bind(key)
    .bind(sqlx::types::Json(template))
    .execute(&mut *tx)
    .await?;
    touch(tx, workflow).await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a node and its edges; false when there is no such node.
pub async fn remove_node(tx: &mut PgConnection, workflow: Uuid, key: &str) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from workflow_nodes where workflow_id = $1 and key = $2")
        .bind(workflow)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    touch(tx, workflow).await?;
    Ok(done.rows_affected() == 1)
}

/// Adds an edge already checked against the locked graph.
pub async fn add_edge(
    tx: &mut PgConnection,
    workflow: Uuid,
    parent: &str,
    child: &str,
) -> sqlx::Result<()> {
    insert_edges(tx, workflow, &[(parent.to_owned(), child.to_owned())]).await?;
    touch(tx, workflow).await
}

/// Removes an edge; false when there is no such edge.
pub async fn remove_edge(
    tx: &mut PgConnection,
    workflow: Uuid,
    parent: &str,
    child: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "delete from workflow_edges where workflow_id = $1 and parent_key = $2 and child_key = $3",
    )
    .bind(workflow)
    .bind(parent)
    .bind(child)
    .execute(&mut *tx)
    .await?;
    touch(tx, workflow).await?;
    Ok(done.rows_affected() == 1)
}

async fn touch(tx: &mut PgConnection, workflow: Uuid) -> sqlx::Result<()> {
    sqlx::query("update workflows set updated_at = now() where id = $1")
        .bind(workflow)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether any run of the workflow has jobs that have not finished.
pub async fn has_active_runs<'e>(exec: impl PgExecutor<'e>, workflow: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from jobs j join workflow_runs r on r.id = j.workflow_run_id
                        where r.workflow_id = $1
                          and j.status in ('blocked', 'scheduled', 'queued', 'running'))",
    )
    .bind(workflow)
    .fetch_one(exec)
    .await
}

/// Deletes a workflow with its finished runs and their jobs.
pub async fn delete(tx: &mut PgConnection, workflow: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from workflows where id = $1")
        .bind(workflow)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// A node's template (with its definition) does not make a valid job.
    #[error("{0}")]
    Invalid(FieldError),
    #[error("workflow {0:?} has no nodes")]
    Empty(String),
}

/// A run that was started: its id and its jobs (the queued ones must be
/// made visible in Redis once the transaction commits).
#[derive(Debug)]
pub struct StartedRun {
    pub run_id: Uuid,
    pub jobs: Vec<Job>,
}

/// Starts a run of `workflow` in the caller's transaction: one job per node,
/// nodes without parents queued, the others blocked on their parents. With a
/// schedule fire as origin, a second start for the same fire returns `None`.
pub async fn start_run(
    tx: &mut PgConnection,
    workflow: &Workflow,
    fire: Option<(Uuid, DateTime<Utc>)>,
    now: DateTime<Utc>,
    limits: Limits,
    is_known_kind: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Option<StartedRun>, StartError> {
    // Share-lock the workflow so its graph does not change under us.
    sqlx::query("select id from workflows where id = $1 for share")
        .bind(workflow.id)
        .execute(&mut *tx)
        .await?;
    let nodes = nodes(&mut *tx, workflow.id).await?;
    if nodes.is_empty() {
        return Err(StartError::Empty(workflow.name.clone()));
    }
    let edges = edges(&mut *tx, workflow.id).await?;
    let run_id = Uuid::now_v7();
    let inserted = sqlx::query(
        "insert into workflow_runs (id, workflow_id, workflow_name, schedule_id, fire_time)
         values ($1, $2, $3, $4, $5) on conflict do nothing",
    )
    .bind(run_id)
    .bind(workflow.id)
    .bind(&workflow.name)
    .bind(fire.map(|(s, _)| s))
    .bind(fire.map(|(_, t)| t))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let mut parent_count: HashMap<&str, i32> = HashMap::new();
    for (_, child) in &edges {
        *parent_count.entry(child.as_str()).or_default() += 1;
    }
    let templates: Vec<&JobSpec> = nodes.iter().map(|n| &n.template.0).collect();
    let found = definitions::for_specs(&mut *tx, &templates).await?;
    let mut new_jobs: Vec<NewJob> = Vec::with_capacity(nodes.len());
    for node in &nodes {
        let field = |e: FieldError| StartError::Invalid(e.within(&format!("nodes.{}", node.key)));
        let spec = definitions::resolve(&node.template.0, &found).map_err(field)?;
        let mut job = spec.validate(now, limits, is_known_kind).map_err(field)?;
        job.run_at = now;
        job.status = if parent_count.contains_key(node.key.as_str()) {
            JobStatus::Blocked
        } else {
            JobStatus::Queued
        };
        job.origin = Origin {
            schedule: None,
            workflow: Some((run_id, node.key.clone())),
        };
        new_jobs.push(job);
    }
    let mut created = jobs::insert(&mut *tx, &new_jobs).await?;
    let id_of: HashMap<&str, Uuid> = nodes
        .iter()
        .zip(&new_jobs)
        .map(|(n, j)| (n.key.as_str(), j.id))
        .collect();
    if !edges.is_empty() {
        let children: Vec<Uuid> = edges.iter().map(|(_, c)| id_of[c.as_str()]).collect();
        let parents: Vec<Uuid> = edges.iter().map(|(p, _)| id_of[p.as_str()]).collect();
        sqlx::query(
            "insert into job_dependencies (job_id, parent_id)
             select * from unnest($1::uuid[], $2::uuid[])",
        )
        .bind(&children)
        .bind(&parents)
        .execute(&mut *tx)
        .await?;
        let blocked: Vec<Uuid> = parent_count.keys().map(|k| id_of[k]).collect();
        let counts: Vec<i32> = parent_count.values().copied().collect();
        sqlx::query(
            "update jobs j set pending_parents = t.n
             from unnest($1::uuid[], $2::int4[]) as t(id, n) where j.id = t.id",
        )
        .bind(&blocked)
        .bind(&counts)
        .execute(&mut *tx)
        .await?;
    }
    created.sort_by_key(|j| j.id);
    Ok(Some(StartedRun {
        run_id,
        jobs: created,
    }))
}

/// Starts a run of the workflow named `workflow_name` for a schedule's fire,
/// in the caller's transaction. Returns the jobs to enqueue (none when this
/// fire already started a run). An unknown workflow or an invalid node is an
/// error that names it.
pub async fn start_run_for_schedule(
    tx: &mut PgConnection,
    workflow_name: &str,
    schedule_id: Uuid,
    fire_time: DateTime<Utc>,
) -> Result<Vec<Job>, sqlx::Error> {
    let Some(workflow) = by_name(&mut *tx, workflow_name).await? else {
        return Err(sqlx::Error::Protocol(format!(
            "no workflow named {workflow_name:?}"
        )));
    };
    let mut known: Vec<String> = kinds::all(&mut *tx).await?;
    known.extend(BUILTIN_KINDS.iter().map(|k| k.to_string()));
    let limits = Limits {
        max_payload_bytes: usize::MAX,
    };
    let now = Utc::now().max(fire_time);
    match start_run(
        tx,
        &workflow,
        Some((schedule_id, fire_time)),
        now,
        limits,
        &|k| known.iter().any(|x| x == k),
    )
    .await
    {
        Ok(Some(run)) => Ok(run.jobs),
        Ok(None) => Ok(Vec::new()),
        Err(StartError::Db(e)) => Err(e),
        Err(other) => Err(sqlx::Error::Protocol(format!(
            "workflow {workflow_name:?}: {other}"
        ))),
    }
}

/// A run's row.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Run {
    pub id: Uuid,
    pub workflow_id: Uuid,
    pub workflow_name: String,
    pub schedule_id: Option<Uuid>,
    pub fire_time: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A run's status, derived from its jobs: `running` while any has not
/// finished; then `succeeded` if all did, `failed` if any is dead or
/// skipped, else `cancelled`.
pub fn run_status(statuses: &[JobStatus]) -> &'static str {
    if statuses.iter().any(|s| !s.is_final()) {
        "running"
    } else if statuses.iter().all(|s| *s == JobStatus::Succeeded) {
        "succeeded"
    } else if statuses
        .iter()
        .any(|s| matches!(s, JobStatus::Dead | JobStatus::Skipped))
    {
        "failed"
    } else {
        "cancelled"
    }
}

pub async fn get_run<'e>(exec: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<Run>> {
    sqlx::query_as("select * from workflow_runs where id = $1")
        .bind(id)
        .fetch_optional(exec)
        .await
}

/// The jobs of a run.
pub async fn run_jobs<'e>(exec: impl PgExecutor<'e>, run: Uuid) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as("select * from jobs where workflow_run_id = $1 order by node_key")
        .bind(run)
        .fetch_all(exec)
        .await
}

/// A run in a list: its row and how many of its jobs are in each state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunSummary {
    #[serde(flatten)]
    pub run: Run,
    pub status: &'static str,
    pub counts: BTreeMap<String, i64>,
}

/// The latest runs of a workflow, newest first.
pub async fn runs_of(pool: &PgPool, workflow: Uuid, limit: i64) -> sqlx::Result<Vec<RunSummary>> {
    let runs: Vec<Run> = sqlx::query_as(
        "select * from workflow_runs where workflow_id = $1 order by created_at desc, id desc
         limit $2",
    )
    .bind(workflow)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = runs.iter().map(|r| r.id).collect();
    let counts: Vec<(Uuid, JobStatus, i64)> = sqlx::query_as(
        "select workflow_run_id, status, count(*) from jobs where workflow_run_id = any($1)
         group by 1, 2",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    Ok(runs
        .into_iter()
        .map(|run| {
            let mine: Vec<(JobStatus, i64)> = counts
                .iter()
                .filter(|(r, _, _)| *r == run.id)
                .map(|(_, s, n)| (*s, *n))
                .collect();
            let statuses: Vec<JobStatus> = mine.iter().map(|(s, _)| *s).collect();
            RunSummary {
                status: run_status(&statuses),
                counts: mine
                    .iter()
                    .map(|(s, n)| (s.as_str().to_owned(), *n))
                    .collect(),
                run,
            }
        })
        .collect())
}

/// After `succeeded` parents finished: each child loses one pending parent
/// per parent here, and a child left with none is queued. Returns the
/// children that were queued now.
pub async fn release_children(tx: &mut PgConnection, succeeded: &[Uuid]) -> sqlx::Result<Vec<Job>> {
    if succeeded.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "with counts as (
             select d.job_id, count(*)::int as n from job_dependencies d
             where d.parent_id = any($1) group by d.job_id
         )
         update jobs c set
             pending_parents = greatest(c.pending_parents - counts.n, 0),
             status = case when c.pending_parents - counts.n <= 0 then 'queued'
                           else 'blocked' end::job_status,
             run_at = case when c.pending_parents - counts.n <= 0 then now() else c.run_at end,
             updated_at = now()
         from counts
         where c.id = counts.job_id and c.status = 'blocked'
         returning c.*",
    )
    .bind(succeeded)
    .fetch_all(tx)
    .await
    .map(|jobs: Vec<Job>| {
        jobs.into_iter()
            .filter(|j| j.status == JobStatus::Queued)
            .collect()
    })
}

/// After jobs ended dead or cancelled: every blocked descendant is skipped.
pub async fn skip_descendants(tx: &mut PgConnection, ended: &[Uuid]) -> sqlx::Result<Vec<Job>> {
    if ended.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "with recursive below(id) as (
             select d.job_id from job_dependencies d where d.parent_id = any($1)
             union
             select d.job_id from job_dependencies d join below b on d.parent_id = b.id
         )
         update jobs j set status = 'skipped', finished_at = now(), updated_at = now(),
                last_error = 'skipped: an upstream job ended dead, cancelled or skipped'
         from below b
         where j.id = b.id and j.status = 'blocked'
         returning j.*",
    )
    .bind(ended)
    .fetch_all(tx)
    .await
}

/// After `retried` jobs of workflow runs were queued again: their skipped
/// descendants go back to `blocked`, waiting on their parents that have not
/// succeeded (the retried jobs among them), so they run when those succeed.
/// Descendants that also wait on another job that ended dead, cancelled or
/// skipped are skipped again at once. Returns the jobs left blocked.
pub async fn unskip_descendants(tx: &mut PgConnection, retried: &[Uuid]) -> sqlx::Result<Vec<Job>> {
    if retried.is_empty() {
        return Ok(Vec::new());
    }
    let unskipped: Vec<Job> = sqlx::query_as(
        "with recursive below(id) as (
             select d.job_id from job_dependencies d where d.parent_id = any($1)
             union
             select d.job_id from job_dependencies d join below b on d.parent_id = b.id
         )
         update jobs j set status = 'blocked', finished_at = null, attempt_base = j.attempt,
                run_at = now(), updated_at = now(),
                pending_parents = (select count(*) from job_dependencies d
                                   join jobs p on p.id = d.parent_id
                                   where d.job_id = j.id and p.status <> 'succeeded')
         from below b
         where j.id = b.id and j.status = 'skipped'
         returning j.*",
    )
    .bind(retried)
    .fetch_all(&mut *tx)
    .await?;
    if unskipped.is_empty() {
        return Ok(unskipped);
    }
    let runs: Vec<Uuid> = unskipped.iter().filter_map(|j| j.workflow_run_id).collect();
    let still_failed: Vec<Uuid> = sqlx::query_scalar(
        "select id from jobs where workflow_run_id = any($1)
           and status in ('dead', 'cancelled', 'skipped')",
    )
    .bind(&runs)
    .fetch_all(&mut *tx)
    .await?;
    let skipped_again: std::collections::HashSet<Uuid> = skip_descendants(tx, &still_failed)
        .await?
        .into_iter()
        .map(|j| j.id)
        .collect();
    Ok(unskipped
        .into_iter()
        .filter(|j| !skipped_again.contains(&j.id))
        .collect())
}

/// Cancels every job of a run that has not finished. Returns them.
pub async fn cancel_run(tx: &mut PgConnection, run: Uuid) -> sqlx::Result<Vec<Job>> {
    sqlx::query_as(
        "update jobs set status = 'cancelled', finished_at = now(), updated_at = now(),
                lease_owner = null, lease_expires_at = null,
                last_error = 'cancelled by request'
         where workflow_run_id = $1 and status in ('blocked', 'scheduled', 'queued', 'running')
         returning *",
    )
    .bind(run)
    .fetch_all(tx)
    .await
}

/// Re-runs a finished run's dead, cancelled and skipped jobs, keeping the
/// succeeded ones: each is blocked on its parents that have not succeeded,
/// and those with none are queued. Returns the queued jobs.
pub async fn retry_run(tx: &mut PgConnection, run: Uuid) -> sqlx::Result<Vec<Job>> {
    sqlx::query(
        "update jobs j set status = 'blocked', attempt_base = j.attempt, finished_at = null,
                result = null, run_at = now(), updated_at = now(),
                pending_parents = (select count(*) from job_dependencies d
                                   join jobs p on p.id = d.parent_id
                                   where d.job_id = j.id and p.status <> 'succeeded')
         where j.workflow_run_id = $1 and j.status in ('dead', 'cancelled', 'skipped')",
    )
    .bind(run)
    .execute(&mut *tx)
    .await?;
    sqlx::query_as(
        "update jobs set status = 'queued', updated_at = now()
         where workflow_run_id = $1 and status = 'blocked' and pending_parents = 0
         returning *",
    )
    .bind(run)
    .fetch_all(tx)
    .await
}

/// The results of the parents of `jobs`: (child id, parent node key, result).
pub async fn parent_results(
    pool: &PgPool,
    jobs: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, String, Option<Value>)>> {
    sqlx::query_as(
        "select d.job_id, coalesce(p.node_key, p.id::text), p.result
         from job_dependencies d join jobs p on p.id = d.parent_id
         where d.job_id = any($1)",
    )
    .bind(jobs)
    .fetch_all(pool)
    .await
}
