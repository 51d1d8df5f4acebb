//! The OpenAPI document, generated from the handlers, and Swagger UI at `/docs`.

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::routes::{
    definitions, health, jobs, queues, schedules, session, tokens, webhooks, workers, workflows,
};
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
        session::show, session::sign_in, session::sign_out, tokens::list, tokens::create, tokens::revoke,
        webhooks::create, webhooks::list, webhooks::show, webhooks::update, webhooks::remove,
        webhooks::rotate_secret, webhooks::test, webhooks::deliveries, webhooks::show_delivery, webhooks::redeliver,
    ),
    modifiers(&Security, &CommonErrors),
    security(("bearer" = []), ("session_cookie" = [])),
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
        (name = "session", description = "Dashboard sign-in with a session cookie"),
        (name = "tokens", description = "API tokens and their scopes (admin)"),
        (name = "webhooks", description = "Signed HTTP deliveries of job and workflow run events, with their log"),
    )
)]
pub struct ApiDoc;

/// Declares how callers authenticate: a bearer token, or the dashboard's
/// session cookie.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `Authorization: Bearer cvr_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Answers every route under `/api/v1` can give whatever it does: no or a
/// wrong token (401), too small a scope (403), the database away (503), an
/// unreadable query or path (400, 422), and for bodies the size and type
/// limits (413, 415); routes with an id in the path add 404. Each operation
/// documents its own further answers (201, 409, …).
struct CommonErrors;

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") || path == "/api/v1/openapi.json" {
                continue;
            }
            let has_id = path.contains('{');
            let operations = [
                (&mut item.get, false),
                (&mut item.delete, false),
                (&mut item.post, true),
                (&mut item.put, true),
                (&mut item.patch, true),
            ];
            for (operation, takes_body) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let mut add = vec![
                    ("400", "The request is malformed"),
                    ("401", "No token, or not a valid one"),
                    ("403", "The token's scope does not allow this"),
                    ("422", "A field or parameter is invalid"),
                    ("503", "The database is unavailable"),
                ];
                if takes_body {
                    add.push(("413", "The body is larger than MAX_BODY_BYTES"));
                    add.push(("415", "The body is not application/json"));
                }
                if has_id {
                    add.push(("404", "No such resource"));
                }
                for (code, description) in add {
                    operation
                        .responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| error(description).into());
                }
            }
        }
    }
}

/// OpenAPI links from each create to the routes of what it created, so
/// clients and tools (the fuzzer's stateful phase) can follow a new job,
/// schedule, workflow, run, webhook, delivery, definition or token.
/// (creating operation's path, its success status, JSON pointer of the new
/// resource's key in the answer, path prefix of that resource's routes, the
/// path parameter the key fills.)
const LINKS: [(&str, &str, &str, &str, &str); 8] = [
    ("/api/v1/jobs", "201", "/id", "/api/v1/jobs/", "id"),
    (
        "/api/v1/schedules",
        "201",
        "/id",
        "/api/v1/schedules/",
        "id",
    ),
    (
        "/api/v1/workflows",
        "201",
        "/id",
        "/api/v1/workflows/",
        "id",
    ),
    (
        "/api/v1/workflows/{id}/runs",
        "201",
        "/id",
        "/api/v1/workflow-runs/",
        "id",
    ),
    (
        "/api/v1/webhooks",
        "201",
        "/webhook/id",
        "/api/v1/webhooks/",
        "id",
    ),
    (
        "/api/v1/webhooks/{id}/test",
        "202",
        "/id",
        "/api/v1/webhook-deliveries/",
        "id",
    ),
    (
        "/api/v1/definitions",
        "201",
        "/name",
        "/api/v1/definitions/",
        "name",
    ),
    (
        "/api/v1/tokens",
        "201",
        "/token/id",
        "/api/v1/tokens/",
        "id",
    ),
];

/// The document as served: utoipa's, with [`LINKS`] added. Added to the JSON
/// because utoipa 5 writes a link's `operationId` as `operation_id`.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    for (source, status, pointer, prefix, param) in LINKS {
        let placeholder = format!("{{{param}}}");
        let mut links = serde_json::Map::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let below = path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(&placeholder));
            if !below {
                continue;
            }
            for op in item.as_object().into_iter().flat_map(|ops| ops.values()) {
                if let Some(id) = op["operationId"].as_str() {
                    links.insert(
                        id.to_owned(),
                        json!({"operationId": id,
                               "parameters": {param: format!("$response.body#{pointer}")}}),
                    );
                }
            }
        }
        if let Some(response) = doc
            .pointer_mut(&format!(
                "/paths/{}/post/responses/{status}",
                source.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
        {
            response.insert("links".into(), Value::Object(links));
        }
    }
    doc
}

pub fn router() -> Router<Arc<AppState>> {
    let doc = document();
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
    fn creates_link_to_the_routes_of_what_they_created() {
        let doc = document();
        let links = &doc["paths"]["/api/v1/jobs"]["post"]["responses"]["201"]["links"];
        assert_eq!(links["jobs_show"]["operationId"], "jobs_show");
        assert_eq!(
            links["jobs_cancel"]["parameters"]["id"],
            "$response.body#/id"
        );
        let hooks = &doc["paths"]["/api/v1/webhooks"]["post"]["responses"]["201"]["links"];
        assert!(hooks.as_object().is_some_and(|l| l.len() >= 5), "{hooks}");
        // Every link names an operation that exists.
        let ids: std::collections::HashSet<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().expect("item").values())
            .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
            .collect();
        for (source, status, ..) in LINKS {
            let links = &doc["paths"][source]["post"]["responses"][status]["links"];
            let links = links
                .as_object()
                .unwrap_or_else(|| panic!("no links on {source}"));
            assert!(!links.is_empty(), "{source}");
            for link in links.values() {
                let target = link["operationId"].as_str().expect("operationId");
                assert!(ids.contains(target), "{source} links to unknown {target}");
            }
        }
    }

    #[test]
    fn every_operation_id_is_unique() {
        let doc = document();
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
