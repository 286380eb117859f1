//! The API docs page's server functions: the REST API's operations, the "Run" widgets (a
//! request sent with the signed-in user's token), and what the page keeps (runs, drafts and
//! examples).

use leptos::prelude::*;

use crate::error::AppError;
pub use crate::model::{EndpointSummary, ParamDoc};

/// Lists the REST API's operations, read from the served OpenAPI document.
#[server(prefix = "/rpc", endpoint = "api_endpoints")]
pub async fn api_endpoints() -> Result<Vec<EndpointSummary>, AppError> {
    let backend = crate::backend::backend()?;
    backend.api_endpoints().await
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
    let docs = Docs::take()?;
    let token = docs.checked_token().await?;
    let req = crate::model::RunRequest {
        method: method.trim().to_ascii_uppercase(),
        path: path.trim().to_string(),
        body: body.filter(|b| !b.trim().is_empty()),
    };
    if let Some(problem) = crate::model::run_request_problem(&req) {
        return Err(AppError::BadRequest(problem));
    }
    let sent = req.body.clone().unwrap_or_default();
    let result = docs.backend.run_request(&token, req).await?;
    docs.store
        .record_run(&token, "", "{}", &sent, &result)
        .await;
    Ok(result)
}

/// What the docs' server functions use, taken from the request's context before their first
/// `.await` (see [`crate::backend::backend`] for why): the backend, the docs store, and the
/// request's session and response, which [`crate::session::token`] and a redirect need.
#[cfg(feature = "ssr")]
struct Docs {
    backend: crate::backend::SharedBackend,
    store: crate::backend::SharedDocs,
    session: crate::session::Request,
}

#[cfg(feature = "ssr")]
impl Docs {
    fn take() -> Result<Self, AppError> {
        Ok(Self {
            backend: crate::backend::backend()?,
            store: crate::backend::docs_store()?,
            session: crate::session::Request::take(),
        })
    }

    /// The session's token, or `Unauthorized`.
    async fn token(&self) -> Result<String, AppError> {
        self.session.token().await
    }

    /// The session's token, checked with the backend: the API docs' saved state is keyed by
    /// the token's hash, so an unchecked token would let anyone write drafts and runs under
    /// made-up identities.
    async fn checked_token(&self) -> Result<String, AppError> {
        let token = self.token().await?;
        self.backend.identity(&token).await?;
        Ok(token)
    }

    /// The project ids the signed-in user sees (examples are shared within them).
    async fn visible_projects(&self, token: &str) -> Result<Vec<String>, AppError> {
        let identity = self.backend.identity(token).await?;
        Ok(identity.projects.into_iter().map(|p| p.id).collect())
    }

    /// Answers with a redirect to `to` (taken before any await, so it cannot be lost).
    fn redirect(&self, to: &str) {
        self.session.redirect(to);
    }
}

/// The API docs page's saved state: the user's runs and drafts, their projects' examples.
#[server(prefix = "/rpc", endpoint = "docs_state")]
pub async fn load_docs_state() -> Result<crate::model::DocsState, AppError> {
    let docs = Docs::take()?;
    let token = docs.token().await?;
    let projects = docs.visible_projects(&token).await?;
    docs.store.state(&token, &projects).await
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
    let docs = Docs::take()?;
    let token = docs.checked_token().await?;
    check_kept(&operation, &params, &body)?;
    docs.store
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
    let docs = Docs::take()?;
    let token = docs.token().await?;
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
    keep_example(&docs, &token, example).await
}

/// Checks and saves an example (see [`save_example`]).
#[cfg(feature = "ssr")]
async fn keep_example(
    docs: &Docs,
    token: &str,
    mut example: crate::model::Example,
) -> Result<crate::model::Example, AppError> {
    check_kept(&example.operation, &example.params, &example.body)?;
    example.name = example.name.trim().to_string();
    let name = &example.name;
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "Name the example: 1 to 100 characters, no line breaks.".into(),
        ));
    }
    if example.note.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "A note has at most 2,000 characters.".into(),
        ));
    }
    let projects = docs.visible_projects(token).await?;
    docs.store.save_example(token, example, &projects).await
}

/// Deletes an example of a project the user sees. `operation` and `name` (the page's form
/// sends them) bring the browser back to that widget, which says the example was deleted.
#[server(prefix = "/rpc", endpoint = "delete_example")]
pub async fn delete_example(
    id: String,
    #[server(default)] operation: String,
    #[server(default)] name: String,
) -> Result<(), AppError> {
    let docs = Docs::take()?;
    let token = docs.token().await?;
    let projects = docs.visible_projects(&token).await?;
    docs.store.delete_example(&id, &projects).await?;
    // The page's form comes back to its widget, which says what went (signed, so a link
    // made by someone else cannot claim it).
    if !operation.is_empty() && operation.len() <= 300 && name.chars().count() <= 100 {
        let done = crate::model::Done::ExampleDeleted(name);
        docs.redirect(&docs_widget_url(&operation, &done.to_query(&token)));
    }
    Ok(())
}

/// A Run widget's request written out as code for what its form holds now (`op`, `p[...]`,
/// `body`, as the form sends them): the docs page's script asks as the user types. It
/// reads nothing of anyone's, and sends nothing: it only writes out what it is given, so it
/// needs no session (like the API reference itself).
#[server(prefix = "/rpc", endpoint = "docs_snippets")]
pub async fn docs_snippets(
    op: String,
    #[server(default)] p: std::collections::BTreeMap<String, String>,
    #[server(default)] body: String,
) -> Result<crate::model::SnippetsNow, AppError> {
    let backend = crate::backend::backend()?;
    let base = crate::pages::docs::base_url();
    let params = serde_json::to_string(&p).unwrap_or_default();
    check_kept(&op, &params, &body)?;
    let (method, path) = if op == crate::run_form::CUSTOM {
        let field = |k: &str| p.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
        (field("method").to_ascii_uppercase(), field("path"))
    } else {
        let e = find_operation(&backend, &op).await?;
        let path = crate::run_form::fill_path(&e, &p).unwrap_or_else(|_| e.path.clone());
        (e.method, path)
    };
    let snippets = crate::run_form::snippets(&base, &method, &path, &body)
        .into_iter()
        .map(|s| (s.kind.to_string(), s.code))
        .collect();
    Ok(crate::model::SnippetsNow { path, snippets })
}

/// Clears the signed-in user's run history (`what` = `runs`) or drafts (`drafts`); returns
/// how many went, and brings a plain form back to the history, which says so.
#[server(prefix = "/rpc", endpoint = "docs_clear")]
pub async fn docs_clear(what: String) -> Result<u64, AppError> {
    let docs = Docs::take()?;
    let token = docs.checked_token().await?;
    let done = match what.as_str() {
        "runs" => crate::model::Done::RunsCleared(docs.store.clear_runs(&token).await?),
        "drafts" => crate::model::Done::DraftsCleared(docs.store.clear_drafts(&token).await?),
        other => {
            return Err(AppError::BadRequest(format!(
                "Clear what? {other:?} is neither runs nor drafts."
            )));
        }
    };
    docs.redirect(&format!("/docs?{}#history", done.to_query(&token)));
    Ok(match done {
        crate::model::Done::RunsCleared(n) | crate::model::Done::DraftsCleared(n) => n,
        _ => 0,
    })
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
async fn find_operation(
    backend: &crate::backend::SharedBackend,
    operation: &str,
) -> Result<EndpointSummary, AppError> {
    backend
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
    docs: &Docs,
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
        let e = find_operation(&docs.backend, operation)
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
    docs: &Docs,
    token: &str,
    operation: &str,
    params: &std::collections::BTreeMap<String, String>,
    body: &str,
) -> Result<(), AppError> {
    let req = match widget_request(docs, operation, params, body).await {
        Ok(req) => req,
        Err(_) => {
            docs.redirect(&docs_widget_url(operation, "refused=1"));
            return Ok(());
        }
    };
    let params_json = serde_json::to_string(params).unwrap_or_else(|_| "{}".into());
    let result = docs.backend.run_request(token, req).await?;
    let id = docs
        .store
        .record_run(token, operation, &params_json, body, &result)
        .await;
    let extra = id.map(|id| format!("run={id}")).unwrap_or_default();
    docs.redirect(&docs_widget_url(operation, &extra));
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
    let docs = Docs::take()?;
    let token = docs.checked_token().await?;
    let params = serde_json::to_string(&p).unwrap_or_else(|_| "{}".into());
    check_kept(&op, &params, &body)?;
    if p.len() > 20 || p.keys().any(|k| k.len() > 100) {
        return Err(AppError::BadRequest(
            "A widget has at most 20 parameters with names of at most 100 characters.".into(),
        ));
    }
    docs.store
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
        "" | "run" => run_widget(&docs, &token, &op, &p, &body).await,
        "draft" => {
            docs.redirect(&docs_widget_url(&op, "kept=1"));
            Ok(())
        }
        "example" => {
            let example = crate::model::Example {
                id: example_id,
                project_id: example_project,
                operation: op.clone(),
                name: example_name,
                params,
                body,
                note: example_note,
                updated_at: String::new(),
            };
            let saved = keep_example(&docs, &token, example).await?;
            docs.redirect(&docs_widget_url(
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
    let docs = Docs::take()?;
    let token = docs.checked_token().await?;
    let record = docs.store.run(&token, run).await?.ok_or_else(|| {
        AppError::NotFound("That run is not in your history (only the newest 200 are kept).".into())
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
    run_widget(&docs, &token, &operation, &params, &record.body).await
}
