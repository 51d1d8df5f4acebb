//! The OpenAPI document, generated from the handlers, and Swagger UI at `/docs`.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{definitions, health, jobs, queues, schedules, workers, workflows};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Conveyor",
        description = "Distributed job scheduler: submit jobs, watch them run, retry what failed."
    ),
    paths(
        jobs::submit, jobs::submit_batch, jobs::bulk, jobs::remove,
        definitions::list, definitions::create, definitions::show, definitions::replace, definitions::remove, jobs::list, jobs::show, jobs::cancel, jobs::retry,
        queues::queues, queues::pause, queues::resume, queues::stats_handler, workers::list,
        schedules::create, schedules::list, schedules::show, schedules::update, schedules::remove,
        schedules::pause, schedules::resume, schedules::preview,
        workflows::create, workflows::list, workflows::show, workflows::remove, workflows::add_node,
        workflows::remove_node, workflows::add_edge, workflows::remove_edge, workflows::start,
        workflows::runs, workflows::show_run, workflows::retry_run, workflows::cancel_run, health::healthz, health::readyz,
    ),
    components(schemas(
        conveyor_shared::model::JobSpec,
        conveyor_shared::events::StatusEvent,
        crate::error::ErrorBody,
    )),
    tags(
        (name = "jobs", description = "Submit, list, cancel and retry jobs"),
        (name = "definitions", description = "Reusable job templates"),
        (name = "queues", description = "Queue depths and statistics"),
        (name = "schedules", description = "Cron and one-time schedules that create jobs or start workflow runs"),
        (name = "workflows", description = "DAGs of jobs and their runs"),
        (name = "workers", description = "Live workers"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

pub fn router() -> Router<Arc<AppState>> {
    let doc = ApiDoc::openapi();
    Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(doc) }),
        )
        .merge(
            SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json")),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_id_is_unique() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("document");
        let mut seen = std::collections::BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let id = op["operationId"].as_str().unwrap_or_default().to_owned();
                if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
                    panic!("operationId {id} used by {other} and {method} {path}");
                }
            }
        }
    }
}
