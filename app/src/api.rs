//! Server functions and the data they carry.
//!
//! Each server function is a thin call into the [`crate::backend::Backend`]. They live under
//! `/rpc/` so that `/api/` stays the REST API's alone.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

pub use types::{SystemCheck, SystemStatus};

/// Reads the node's status.
#[server(prefix = "/rpc", endpoint = "system_status")]
pub async fn load_system_status() -> Result<SystemStatus, AppError> {
    let token = crate::session::token()?;
    let backend = crate::backend::backend()?;
    backend.identity(&token).await?;
    backend.system_status().await
}

/// Runs a self-check and records it.
#[server(prefix = "/rpc", endpoint = "run_system_check")]
pub async fn run_system_check() -> Result<SystemCheck, AppError> {
    let token = crate::session::token()?;
    let backend = crate::backend::backend()?;
    backend.identity(&token).await?;
    backend.run_system_check().await
}

/// One operation of the REST API, as the OpenAPI document describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// Group of the operation (its first OpenAPI tag).
    pub tag: String,
    /// HTTP method in capitals.
    pub method: String,
    /// Path template, for example `/api/v1/health`.
    pub path: String,
    /// One line on what it does.
    pub summary: String,
    /// Longer description, possibly empty.
    pub description: String,
    /// Path and query parameters.
    #[serde(default)]
    pub parameters: Vec<ParamDoc>,
    /// An example request body (pretty JSON), when the operation takes one.
    #[serde(default)]
    pub request_example: Option<String>,
    /// The request body's schema (pretty JSON, every reference inlined).
    #[serde(default)]
    pub request_schema: Option<String>,
    /// Every documented answer: status and what it means.
    #[serde(default)]
    pub responses: Vec<(String, String)>,
    /// The JSON schema of each answer that has one: status and schema (pretty JSON, every
    /// reference inlined).
    #[serde(default)]
    pub response_schemas: Vec<(String, String)>,
    /// Whether it needs a bearer token.
    #[serde(default)]
    pub secured: bool,
}

/// One parameter of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDoc {
    pub name: String,
    /// `path` or `query`.
    pub location: String,
    pub required: bool,
    pub description: String,
    /// An example value, when the document gives one.
    pub example: Option<String>,
}

/// Lists the REST API's operations, read from the served OpenAPI document.
#[server(prefix = "/rpc", endpoint = "api_endpoints")]
pub async fn api_endpoints() -> Result<Vec<EndpointSummary>, AppError> {
    crate::backend::backend()?.api_endpoints().await
}

pub use crate::model::{
    ContainerView, Identity, Overview, Project, RestoreOutcome, Schedule, ScheduleSpec, Snapshot,
    SnapshotChange, SnapshotDiff, SnapshotFiles, SnapshotVerified, Timeline,
};

/// Signs in with an API token: checks it, then keeps it in an HttpOnly session cookie.
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(token: String) -> Result<Identity, AppError> {
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(AppError::BadRequest(
            "Paste your API token (it starts with hdy_).".into(),
        ));
    }
    let identity = crate::backend::backend()?.identity(&token).await?;
    crate::session::set(Some(&token));
    leptos_axum::redirect("/");
    Ok(identity)
}

/// Signs out: the session cookie is cleared.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::session::set(None);
    leptos_axum::redirect("/signin");
    Ok(())
}

/// Who is signed in, if anyone.
#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Identity>, AppError> {
    let Some(token) = crate::session::read_token() else {
        return Ok(None);
    };
    match crate::backend::backend()?.identity(&token).await {
        Ok(i) => Ok(Some(i)),
        Err(AppError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The Containers page: live containers, deleted ones with their snapshots, images.
#[server(prefix = "/rpc", endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?.overview(&token).await
}

/// Creates a container from an image.
#[server(prefix = "/rpc", endpoint = "create_container")]
pub async fn create_container(
    project: String,
    name: String,
    image: String,
) -> Result<ContainerView, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .create_container(&token, &project, name.trim(), &image)
        .await
}

/// Starts, stops or deletes a container (`action` is `start`, `stop` or `delete`).
#[server(prefix = "/rpc", endpoint = "container_action")]
pub async fn container_action(id: String, action: String) -> Result<String, AppError> {
    let token = crate::session::token()?;
    if !matches!(action.as_str(), "start" | "stop" | "delete") {
        return Err(AppError::BadRequest(format!(
            "Unknown action {action:?}: use start, stop or delete."
        )));
    }
    crate::backend::backend()?
        .container_action(&token, &id, &action)
        .await?;
    Ok(action)
}

/// One container's timeline.
#[server(prefix = "/rpc", endpoint = "timeline")]
pub async fn load_timeline(id: String, all: bool) -> Result<Timeline, AppError> {
    let token = crate::session::token()?;
    let backend = crate::backend::backend()?;
    let mut t = backend.timeline(&token, &id).await?;
    if !all {
        t.snapshots.truncate(crate::model::CARD_LIMIT);
    }
    if t.container.status != crate::model::ContainerStatus::Deleted {
        t.schedule = backend.schedule(&token, &id).await?;
    }
    Ok(t)
}

/// Parses the expiry presets of the create form: `7`, `30`, `90` days or `never`.
pub fn parse_expiry(expiry: &str) -> Result<Option<i64>, AppError> {
    match expiry {
        "" | "never" => Ok(None),
        d => match d.parse::<i64>() {
            Ok(n @ 1..=3650) => Ok(Some(n)),
            _ => Err(AppError::BadRequest(format!(
                "Expiry {d:?} is not valid: choose 7, 30 or 90 days, or never."
            ))),
        },
    }
}

/// Takes a snapshot. `alias` may be empty; `expiry` is `7`, `30`, `90` or `never`.
#[server(prefix = "/rpc", endpoint = "create_snapshot")]
pub async fn create_snapshot(
    id: String,
    alias: String,
    expiry: String,
) -> Result<Snapshot, AppError> {
    let token = crate::session::token()?;
    let alias = alias.trim().to_string();
    if let Some(problem) = crate::model::alias_problem(&alias) {
        return Err(AppError::BadRequest(problem));
    }
    let expiry = parse_expiry(&expiry)?;
    crate::backend::backend()?
        .create_snapshot(&token, &id, (!alias.is_empty()).then_some(alias), expiry)
        .await
}

/// Restores a snapshot; with `safety` (a checked checkbox sends `on`) the current state is
/// snapshotted first, so the restore can be undone.
#[server(prefix = "/rpc", endpoint = "restore_snapshot")]
pub async fn restore_snapshot(
    id: String,
    name: String,
    #[server(default)] safety: Option<String>,
) -> Result<RestoreOutcome, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .restore_snapshot(&token, &id, &name, safety.is_some_and(|s| !s.is_empty()))
        .await
}

/// Deletes a snapshot.
#[server(prefix = "/rpc", endpoint = "delete_snapshot")]
pub async fn delete_snapshot(id: String, name: String) -> Result<String, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .delete_snapshot(&token, &id, &name)
        .await?;
    Ok(name)
}

/// Copies a snapshot into a new container, in any visible project.
#[server(prefix = "/rpc", endpoint = "copy_snapshot")]
pub async fn copy_snapshot(
    id: String,
    name: String,
    project: String,
    new_name: String,
) -> Result<ContainerView, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .copy_snapshot(&token, &id, &name, &project, new_name.trim())
        .await
}

/// Parses the edit form's expiry: `keep` leaves it, `never` pins the snapshot, a number of
/// days expires it that long from now.
pub fn parse_expiry_change(expiry: &str) -> Result<Option<Option<i64>>, AppError> {
    match expiry {
        "" | "keep" => Ok(None),
        other => parse_expiry(other).map(Some),
    }
}

/// Edits a snapshot's alias (empty for none) and expiry (`keep`, `7`, `30`, `90`, `never`).
#[server(prefix = "/rpc", endpoint = "update_snapshot")]
pub async fn update_snapshot(
    id: String,
    name: String,
    alias: String,
    expiry: String,
) -> Result<Snapshot, AppError> {
    let token = crate::session::token()?;
    let alias = alias.trim().to_string();
    if let Some(problem) = crate::model::alias_problem(&alias) {
        return Err(AppError::BadRequest(problem));
    }
    let change = SnapshotChange {
        alias: Some((!alias.is_empty()).then_some(alias)),
        expiry: parse_expiry_change(&expiry)?,
    };
    crate::backend::backend()?
        .update_snapshot(&token, &id, &name, change)
        .await
}

/// What changed from snapshot `from` to `against` (another snapshot's name, or `live`).
#[server(prefix = "/rpc", endpoint = "diff")]
pub async fn diff_snapshot(
    id: String,
    from: String,
    against: String,
) -> Result<SnapshotDiff, AppError> {
    let token = crate::session::token()?;
    if from.is_empty() {
        return Err(AppError::BadRequest("Choose a snapshot to compare.".into()));
    }
    let against = if against.is_empty() {
        "live".to_string()
    } else {
        against
    };
    crate::backend::backend()?
        .diff_snapshot(&token, &id, &from, &against)
        .await
}

/// A directory of a snapshot (`path` is absolute inside it; empty means `/`).
#[server(prefix = "/rpc", endpoint = "browse")]
pub async fn browse_snapshot(
    id: String,
    name: String,
    path: String,
) -> Result<SnapshotFiles, AppError> {
    let token = crate::session::token()?;
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    crate::backend::backend()?
        .browse_snapshot(&token, &id, &name, &path)
        .await
}

/// Verifies a snapshot; with `deep` (a checked checkbox sends `on`) all its data is re-read
/// and re-hashed.
#[server(prefix = "/rpc", endpoint = "verify")]
pub async fn verify_snapshot(
    id: String,
    name: String,
    #[server(default)] deep: Option<String>,
) -> Result<(String, SnapshotVerified), AppError> {
    let token = crate::session::token()?;
    let report = crate::backend::backend()?
        .verify_snapshot(&token, &id, &name, deep.is_some_and(|d| !d.is_empty()))
        .await?;
    Ok((name, report))
}

/// The container's schedule, if it has one.
#[server(prefix = "/rpc", endpoint = "schedule")]
pub async fn load_schedule(id: String) -> Result<Option<Schedule>, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?.schedule(&token, &id).await
}

/// Sets the container's schedule from the form: a cron expression or preset, the expiry of
/// the snapshots it takes (`7`, `30`, `90`, `never`), an alias pattern, and whether stopped
/// containers are snapshotted too.
#[server(prefix = "/rpc", endpoint = "save_schedule")]
pub async fn save_schedule(
    id: String,
    schedule: String,
    expiry: String,
    alias_pattern: String,
    #[server(default)] include_stopped: Option<String>,
) -> Result<Schedule, AppError> {
    let token = crate::session::token()?;
    let schedule = schedule.trim().to_string();
    if schedule.is_empty() {
        return Err(AppError::BadRequest(
            "Say when: @hourly, @daily, @weekly or five cron fields like 0 3 * * *.".into(),
        ));
    }
    let alias_pattern = alias_pattern.trim().to_string();
    let spec = ScheduleSpec {
        schedule,
        expiry: parse_expiry(&expiry)?,
        alias_pattern: (!alias_pattern.is_empty()).then_some(alias_pattern),
        include_stopped: Some(include_stopped.is_some_and(|s| !s.is_empty())),
    };
    crate::backend::backend()?
        .set_schedule(&token, &id, spec)
        .await
}

/// Removes the container's schedule.
#[server(prefix = "/rpc", endpoint = "delete_schedule")]
pub async fn delete_schedule(id: String) -> Result<(), AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .delete_schedule(&token, &id)
        .await
}

/// Sends one request to the REST API with the signed-in user's token (the API docs' "Run").
/// Only a method, a path under `/api/v1` and a JSON body are taken, never a URL; they are
/// checked before anything is sent.
#[server(prefix = "/rpc", endpoint = "run_request")]
pub async fn run_api_request(
    method: String,
    path: String,
    #[server(default)] body: Option<String>,
) -> Result<crate::model::RunResult, AppError> {
    let token = checked_token().await?;
    let req = crate::model::RunRequest {
        method: method.trim().to_ascii_uppercase(),
        path: path.trim().to_string(),
        body: body.filter(|b| !b.trim().is_empty()),
    };
    if let Some(problem) = crate::model::run_request_problem(&req) {
        return Err(AppError::BadRequest(problem));
    }
    let sent = req.body.clone().unwrap_or_default();
    let result = crate::backend::backend()?.run_request(&token, req).await?;
    crate::backend::docs_store()?
        .record_run(&token, "", "{}", &sent, &result)
        .await;
    Ok(result)
}

/// The session's token, checked with the backend: the API docs' saved state is keyed by the
/// token's hash, so an unchecked token would let anyone write drafts and runs under made-up
/// identities.
#[cfg(feature = "ssr")]
async fn checked_token() -> Result<String, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?.identity(&token).await?;
    Ok(token)
}

/// The project ids the signed-in user sees (examples are shared within them).
#[cfg(feature = "ssr")]
async fn visible_projects(token: &str) -> Result<Vec<String>, AppError> {
    let identity = crate::backend::backend()?.identity(token).await?;
    Ok(identity.projects.into_iter().map(|p| p.id).collect())
}

/// The API docs page's saved state: the user's runs and drafts, their projects' examples.
#[server(prefix = "/rpc", endpoint = "docs_state")]
pub async fn load_docs_state() -> Result<crate::model::DocsState, AppError> {
    let token = crate::session::token()?;
    let projects = visible_projects(&token).await?;
    crate::backend::docs_store()?.state(&token, &projects).await
}

/// Checks the sizes of what a widget keeps.
#[cfg(feature = "ssr")]
fn check_kept(operation: &str, params: &str, body: &str) -> Result<(), AppError> {
    if operation.is_empty() || operation.len() > 300 {
        return Err(AppError::BadRequest(
            "Say which operation (like \"GET /api/v1/containers\").".into(),
        ));
    }
    if params.len() > 8 * 1024 {
        return Err(AppError::BadRequest(
            "The parameters are longer than 8 KiB.".into(),
        ));
    }
    if body.len() > crate::model::RUN_BODY_LIMIT {
        return Err(AppError::BadRequest(format!(
            "The body is longer than {} KiB.",
            crate::model::RUN_BODY_LIMIT / 1024
        )));
    }
    Ok(())
}

/// Keeps what a widget was left with, so it survives a reload and a sign-out.
#[server(prefix = "/rpc", endpoint = "save_draft")]
pub async fn save_draft(operation: String, params: String, body: String) -> Result<(), AppError> {
    let token = checked_token().await?;
    check_kept(&operation, &params, &body)?;
    crate::backend::docs_store()?
        .save_draft(
            &token,
            crate::model::Draft {
                operation,
                params,
                body,
            },
        )
        .await
}

/// Saves an example (a new one when `id` is empty) in a project the user sees.
#[server(prefix = "/rpc", endpoint = "save_example")]
#[allow(clippy::too_many_arguments)]
pub async fn save_example(
    #[server(default)] id: String,
    project: String,
    operation: String,
    name: String,
    params: String,
    body: String,
    #[server(default)] note: String,
) -> Result<crate::model::Example, AppError> {
    let token = crate::session::token()?;
    check_kept(&operation, &params, &body)?;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "Name the example: 1 to 100 characters, no line breaks.".into(),
        ));
    }
    if note.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "A note has at most 2,000 characters.".into(),
        ));
    }
    let projects = visible_projects(&token).await?;
    let example = crate::model::Example {
        id,
        project_id: project,
        operation,
        name,
        params,
        body,
        note,
        updated_at: String::new(),
    };
    crate::backend::docs_store()?
        .save_example(&token, example, &projects)
        .await
}

/// Deletes an example of a project the user sees.
#[server(prefix = "/rpc", endpoint = "delete_example")]
pub async fn delete_example(id: String) -> Result<(), AppError> {
    let token = crate::session::token()?;
    let projects = visible_projects(&token).await?;
    crate::backend::docs_store()?
        .delete_example(&id, &projects)
        .await
}

/// Where the docs page shows an operation's widget: `/docs?op=...&<extra>#run-...`.
pub fn docs_widget_url(operation: &str, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("&{extra}")
    };
    format!(
        "/docs?op={}{extra}#{}",
        crate::model::query_escape(operation),
        crate::model::widget_anchor(operation)
    )
}

/// Finds an operation of the API document by its key (`"POST /api/v1/..."`).
#[cfg(feature = "ssr")]
async fn find_operation(operation: &str) -> Result<EndpointSummary, AppError> {
    crate::backend::backend()?
        .api_endpoints()
        .await?
        .into_iter()
        .find(|e| crate::run_form::operation_key(e) == operation)
        .ok_or_else(|| {
            AppError::NotFound(format!(
                "The API document has no operation {operation:?}; reload the docs page."
            ))
        })
}

/// The request a widget's fields describe, or why it may not be sent. `params` holds the
/// operation's path and query parameters; the raw widget ([`crate::run_form::CUSTOM`])
/// takes `method` and `path` from it instead.
#[cfg(feature = "ssr")]
async fn widget_request(
    operation: &str,
    params: &std::collections::BTreeMap<String, String>,
    body: &str,
) -> Result<crate::model::RunRequest, Vec<String>> {
    let body = (!body.trim().is_empty()).then(|| body.to_string());
    let req = if operation == crate::run_form::CUSTOM {
        let field = |k: &str| {
            params
                .get(k)
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let req = crate::model::RunRequest {
            method: field("method").to_ascii_uppercase(),
            path: field("path"),
            body,
        };
        let syntax = crate::run_form::body_problems(None, req.body.as_deref().unwrap_or(""));
        if !syntax.is_empty() {
            return Err(syntax);
        }
        req
    } else {
        let e = find_operation(operation)
            .await
            .map_err(|e| vec![e.to_string()])?;
        let path = crate::run_form::fill_path(&e, params).map_err(|p| vec![p])?;
        let problems = crate::run_form::body_problems(
            e.request_schema.as_deref(),
            body.as_deref().unwrap_or(""),
        );
        if !problems.is_empty() {
            return Err(problems);
        }
        crate::model::RunRequest {
            method: e.method.clone(),
            path,
            body,
        }
    };
    match crate::model::run_request_problem(&req) {
        Some(p) => Err(vec![p]),
        None => Ok(req),
    }
}

/// Sends a widget's request (after [`widget_request`] accepted it), keeps it in the history
/// and goes to the widget showing the answer; a refused request goes back to the widget,
/// which shows why (recomputed from the draft, so it survives a reload).
#[cfg(feature = "ssr")]
async fn run_widget(
    token: &str,
    operation: &str,
    params: &std::collections::BTreeMap<String, String>,
    body: &str,
) -> Result<(), AppError> {
    let req = match widget_request(operation, params, body).await {
        Ok(req) => req,
        Err(_) => {
            leptos_axum::redirect(&docs_widget_url(operation, "refused=1"));
            return Ok(());
        }
    };
    let params_json = serde_json::to_string(params).unwrap_or_else(|_| "{}".into());
    let result = crate::backend::backend()?.run_request(token, req).await?;
    let id = crate::backend::docs_store()?
        .record_run(token, operation, &params_json, body, &result)
        .await;
    let extra = id.map(|id| format!("run={id}")).unwrap_or_default();
    leptos_axum::redirect(&docs_widget_url(operation, &extra));
    Ok(())
}

/// The API docs' Run widget as a form: `action` is `run` (the default: keep the draft, check,
/// send), `draft` (only keep it) or `example` (keep it and save it as a project's example;
/// `example_id` set updates that one). `p[...]` are the operation's parameters.
#[server(prefix = "/rpc", endpoint = "docs_run")]
#[allow(clippy::too_many_arguments)]
pub async fn docs_run(
    op: String,
    #[server(default)] p: std::collections::BTreeMap<String, String>,
    #[server(default)] body: String,
    #[server(default)] action: String,
    #[server(default)] example_id: String,
    #[server(default)] example_name: String,
    #[server(default)] example_project: String,
    #[server(default)] example_note: String,
) -> Result<(), AppError> {
    let token = checked_token().await?;
    let params = serde_json::to_string(&p).unwrap_or_else(|_| "{}".into());
    check_kept(&op, &params, &body)?;
    if p.len() > 20 || p.keys().any(|k| k.len() > 100) {
        return Err(AppError::BadRequest(
            "A widget has at most 20 parameters with names of at most 100 characters.".into(),
        ));
    }
    let store = crate::backend::docs_store()?;
    store
        .save_draft(
            &token,
            crate::model::Draft {
                operation: op.clone(),
                params: params.clone(),
                body: body.clone(),
            },
        )
        .await?;
    match action.as_str() {
        "" | "run" => run_widget(&token, &op, &p, &body).await,
        "draft" => {
            leptos_axum::redirect(&docs_widget_url(&op, "kept=1"));
            Ok(())
        }
        "example" => {
            let saved = save_example(
                example_id,
                example_project,
                op.clone(),
                example_name,
                params,
                body,
                example_note,
            )
            .await?;
            leptos_axum::redirect(&docs_widget_url(
                &op,
                &format!("example={}", crate::model::query_escape(&saved.id)),
            ));
            Ok(())
        }
        other => Err(AppError::BadRequest(format!(
            "Unknown widget action {other:?}: run, draft or example."
        ))),
    }
}

/// Sends one of the user's earlier runs again, from its widget's operation, parameters and
/// body (checked again against today's API document).
#[server(prefix = "/rpc", endpoint = "docs_replay")]
pub async fn docs_replay(run: i64) -> Result<(), AppError> {
    let token = checked_token().await?;
    let record = crate::backend::docs_store()?
        .run(&token, run)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(
                "That run is not in your history (only the newest 200 are kept).".into(),
            )
        })?;
    let (operation, params) = if record.operation.is_empty() {
        let mut p = std::collections::BTreeMap::new();
        p.insert("method".to_string(), record.method.clone());
        p.insert("path".to_string(), record.path.clone());
        (crate::run_form::CUSTOM.to_string(), p)
    } else {
        (
            record.operation.clone(),
            serde_json::from_str(&record.params).unwrap_or_default(),
        )
    };
    run_widget(&token, &operation, &params, &record.body).await
}
