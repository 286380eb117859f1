//! The dashboard's server functions: sign-in, containers, the timeline's snapshot actions,
//! schedules and the System page. Each is a thin call into the [`crate::backend::Backend`].

use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::Done;
pub use crate::model::{
    ContainerView, Identity, Overview, Project, RestoreOutcome, Schedule, ScheduleSpec, Snapshot,
    SnapshotChange, SnapshotDiff, SnapshotFiles, SnapshotVerified, SystemCheck, SystemStatus,
    Timeline,
};

/// Reads the node's status.
#[server(prefix = "/rpc", endpoint = "system_status")]
pub async fn load_system_status() -> Result<SystemStatus, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.identity(&token).await?;
    backend.system_status().await
}

/// Every node serving from the database, this one first.
#[server(prefix = "/rpc", endpoint = "servers")]
pub async fn load_servers() -> Result<Vec<types::Server>, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.servers(&token).await
}

/// Runs a self-check and records it.
#[server(prefix = "/rpc", endpoint = "run_system_check")]
pub async fn run_system_check() -> Result<SystemCheck, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.identity(&token).await?;
    backend.run_system_check().await
}

/// Signs in with an API token: checks it, then keeps it in an HttpOnly session cookie.
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(token: String) -> Result<Identity, AppError> {
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(AppError::BadRequest(
            "Paste your API token (it starts with hdy_).".into(),
        ));
    }
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let identity = backend.identity(&token).await?;
    request.start(&token).await?;
    // A plain form goes back to the page it was on (the sign-in page itself leads to the
    // containers). With JavaScript the form reloads its page itself (see `SignInForm`): a
    // redirect to the address the router is already on would change nothing.
    if plain {
        let back = request
            .parts()
            .and_then(referer_path)
            .unwrap_or_else(|| "/".into());
        request.redirect(&back);
    }
    Ok(identity)
}

/// Signs out: the session is deleted on the server and the cookie cleared.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let request = crate::session::Request::take();
    request.end().await?;
    request.redirect("/signin");
    Ok(())
}

/// Who is signed in, if anyone.
#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Identity>, AppError> {
    let (backend, sessions) = (crate::backend::backend()?, crate::backend::sessions()?);
    let Some(token) = crate::session::read_token().await else {
        return Ok(None);
    };
    match backend.identity(&token).await {
        Ok(i) => Ok(Some(i)),
        Err(AppError::Unauthorized(_)) => {
            // The token was revoked: its sessions end here, not only at their expiry.
            sessions.end_all(&token).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The Containers page: live containers, deleted ones with their snapshots, images.
#[server(prefix = "/rpc", endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.overview(&token).await
}

/// Creates a container from an image.
#[server(prefix = "/rpc", endpoint = "create_container")]
pub async fn create_container(
    project: String,
    name: String,
    image: String,
    #[server(default)] memory_mb: Option<String>,
    #[server(default)] pids: Option<String>,
    #[server(default)] cpus: Option<String>,
) -> Result<ContainerView, AppError> {
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let token = request.token().await?;
    let made = match crate::model::limits_from_form(
        memory_mb.as_deref(),
        pids.as_deref(),
        cpus.as_deref(),
    ) {
        Ok(limits) => {
            backend
                .create_container(&token, &project, name.trim(), &image, limits)
                .await
        }
        Err(e) => Err(e),
    };
    // Without JavaScript the page comes back to the form: saying what was made, or why not
    // with what was typed still in the fields.
    if plain {
        let esc = crate::model::query_escape;
        match &made {
            Ok(c) => request.redirect(&format!(
                "/?{}",
                Done::ContainerCreated(c.name.clone()).to_query(&token)
            )),
            Err(e) => {
                let typed = [
                    ("name", Some(&name)),
                    ("image", Some(&image)),
                    ("project", Some(&project)),
                    ("memory_mb", memory_mb.as_ref()),
                    ("pids", pids.as_ref()),
                    ("cpus", cpus.as_ref()),
                ];
                let fields: Vec<String> = typed
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", esc(v))))
                    .collect();
                request.redirect(&format!(
                    "/?{}&{}#create-container-title",
                    fields.join("&"),
                    crate::model::url_error::query(&token, "/rpc/create_container", e.clone())
                ));
            }
        }
    }
    made
}

/// Starts, stops, pauses, resumes or deletes a container (`action` is one of those words);
/// `name` is the container's name as the page showed it, for the sentence that says what was
/// done. A plain form (no JavaScript) comes back to the page it was sent from with that
/// outcome in the address (signed, see [`Done`]).
#[server(prefix = "/rpc", endpoint = "container_action")]
pub async fn container_action(
    id: String,
    action: String,
    #[server(default)] name: String,
) -> Result<crate::model::ContainerActed, AppError> {
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let token = request.token().await?;
    let op: crate::model::ContainerOp = action.parse()?;
    backend.container_action(&token, &id, op).await?;
    let name = name.trim();
    let acted = crate::model::ContainerActed {
        op,
        id: id.clone(),
        name: if name.is_empty() || name.len() > 200 {
            id.clone()
        } else {
            name.to_string()
        },
    };
    if plain {
        let back = request
            .parts()
            .and_then(referer_path)
            .map(|p| p.split('?').next().unwrap_or("/").to_string())
            .unwrap_or_else(|| "/".into());
        request.redirect(&format!(
            "{back}?{}",
            Done::Container(acted.clone()).to_query(&token)
        ));
    }
    Ok(acted)
}

/// Deletes a project (admin only); `name` names it in the answer. Refused, naming what it
/// still holds, while it has containers, snapshots of deleted containers or published
/// images. A plain form comes back to the System page with the outcome (signed, see
/// [`Done`]).
#[server(prefix = "/rpc", endpoint = "delete_project")]
pub async fn delete_project(
    id: String,
    #[server(default)] name: String,
) -> Result<String, AppError> {
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let token = request.token().await?;
    backend.delete_project(&token, &id).await?;
    let name = match name.trim() {
        n if n.is_empty() || n.len() > 200 => id.clone(),
        n => n.to_string(),
    };
    if plain {
        request.redirect(&format!(
            "/system?{}",
            Done::ProjectDeleted(name.clone()).to_query(&token)
        ));
    }
    Ok(name)
}

/// The path of this site a request came from (its `Referer`), if any: never another origin,
/// never `//host`, never the sign-in page.
#[cfg(feature = "ssr")]
fn referer_path(p: &http::request::Parts) -> Option<String> {
    let referer = p.headers.get(http::header::REFERER)?.to_str().ok()?;
    let uri: http::Uri = referer.parse().ok()?;
    let path = uri.path_and_query()?.as_str().to_string();
    (path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/signin"))
        .then_some(path)
}

/// One container's timeline.
#[server(prefix = "/rpc", endpoint = "timeline")]
pub async fn load_timeline(id: String, all: bool) -> Result<Timeline, AppError> {
    page_container(&id)?;
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let mut t = backend.timeline(&token, &id).await?;
    if !all {
        t.snapshots.truncate(crate::model::CARD_LIMIT);
    }
    if t.container.status != crate::model::ContainerStatus::Deleted {
        t.schedule = backend.schedule(&token, &id).await?;
    }
    // Where a copy may be built (the copy dialog's server picker). Advisory: an upstream
    // without `GET /api/v1/servers` leaves the picker out.
    t.servers = backend
        .servers(&token)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| crate::model::ServerChoice {
            active: s.status == "active",
            id: s.id,
            name: s.name,
        })
        .collect();
    Ok(t)
}

/// A container id from a page's address: one that cannot be an id is a page that does not
/// exist (404 in the dashboard's words), not a malformed request.
#[cfg(feature = "ssr")]
fn page_container(id: &str) -> Result<(), AppError> {
    if id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Ok(());
    }
    let shown: String = id.chars().take(40).collect();
    Err(AppError::NotFound(format!(
        "There is no container {shown:?} (a container's address holds its 24-character id); open one from the Containers page."
    )))
}

/// The outcome a plain form's redirect carries (`done`, `sig`: see [`crate::model::Done`]),
/// if its signature holds for this session; `None` otherwise (a link made by someone else).
#[server(prefix = "/rpc", endpoint = "check_outcome")]
pub async fn check_outcome(
    done: String,
    sig: String,
) -> Result<Option<crate::model::Done>, AppError> {
    let token = crate::session::token().await?;
    Ok(crate::model::Done::from_query(&token, &done, &sig))
}

/// The error a refused plain form's redirect carries (`__path`, `__err`, `__sig`: see
/// [`crate::model::url_error`]), if its signature holds for this session; `None` otherwise
/// (a link made by someone else, or no session).
#[server(prefix = "/rpc", endpoint = "check_url_error")]
pub async fn check_url_error(
    path: String,
    err: String,
    sig: String,
) -> Result<Option<AppError>, AppError> {
    let Some(token) = crate::session::Request::take().read_token().await else {
        return Ok(None);
    };
    Ok(crate::model::url_error::holds(&token, &path, &err, &sig)
        .then(|| leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(&err)))
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
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let alias = alias.trim().to_string();
    if let Some(problem) = crate::model::alias_problem(&alias) {
        return Err(AppError::BadRequest(problem));
    }
    let expiry = parse_expiry(&expiry)?;
    let s = backend
        .create_snapshot(&token, &id, (!alias.is_empty()).then_some(alias), expiry)
        .await?;
    come_back(&token, &id, || Done::Taken(s.clone()));
    Ok(s)
}

/// Restores a snapshot; with `safety` (a checked checkbox sends `on`) the current state is
/// snapshotted first, so the restore can be undone.
#[server(prefix = "/rpc", endpoint = "restore_snapshot")]
pub async fn restore_snapshot(
    id: String,
    name: String,
    #[server(default)] safety: Option<String>,
) -> Result<RestoreOutcome, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let req = types::RestoreSnapshot {
        safety_snapshot: Some(safety.is_some_and(|s| !s.is_empty())),
        ..Default::default()
    };
    let o = backend.restore_snapshot(&token, &id, &name, req).await?;
    come_back(&token, &id, || Done::Restored(Box::new(o.clone())));
    Ok(o)
}

/// Restores one file or folder of a snapshot from the server-rendered confirmation page (a
/// plain form POST; `path` percent-encoded, [`types::raw::encode`], so names that are not
/// UTF-8 get through), then goes back to that page showing what was done: `restored=1`, and
/// `safety=` the safety snapshot that "Undo" restores the path from; `back` (the page the
/// confirmation was opened from) is kept. An error goes back to the page with the error in
/// the address (see [`crate::components::UrlError`]).
#[server(prefix = "/rpc", endpoint = "restore_path")]
pub async fn restore_path(
    id: String,
    name: String,
    path: String,
    #[server(default)] safety: Option<String>,
    #[server(default)] restart: Option<String>,
    #[server(default)] back: Option<String>,
) -> Result<(), AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let checked = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.is_empty());
    // The form carries the path percent-encoded (names need not be UTF-8): text when it is
    // UTF-8, so a server that predates `raw_paths` understands it, else as bytes.
    let bytes = types::raw::decode(&path);
    let (paths, raw_paths) = match String::from_utf8(bytes.clone()) {
        Ok(text) => (Some(vec![text]), None),
        Err(_) => (None, Some(vec![types::raw::encode(&bytes)])),
    };
    let req = types::RestoreSnapshot {
        safety_snapshot: Some(checked(&safety)),
        restart: Some(checked(&restart)),
        paths,
        raw_paths,
    };
    let o = backend.restore_snapshot(&token, &id, &name, req).await?;
    let page =
        crate::model::restore_page_bytes(&id, &o.restored.name, &bytes, &back.unwrap_or_default());
    leptos_axum::redirect(&format!(
        "{page}&restored=1&safety={}",
        crate::model::query_escape(&o.safety.map(|s| s.name).unwrap_or_default())
    ));
    Ok(())
}

/// Deletes a snapshot. `alias` (the card sends it) names it in the answer, which is the
/// snapshot as messages name it ([`crate::model::snapshot_label`]).
#[server(prefix = "/rpc", endpoint = "delete_snapshot")]
pub async fn delete_snapshot(
    id: String,
    name: String,
    #[server(default)] alias: String,
) -> Result<String, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.delete_snapshot(&token, &id, &name).await?;
    let label =
        crate::model::snapshot_label(Some(alias.as_str()).filter(|a| a.len() <= 400), &name);
    come_back(&token, &id, || Done::Deleted(label.clone()));
    Ok(label)
}

/// Copies a snapshot into a new container named `new_name`, in any visible project. With
/// `count` N (the form's "How many", 1 to 50), forks it into `new_name-1` … `new_name-N`: the
/// same rule as the REST API's `count`, so one typed 1 makes `new_name-1`. With `server` (a
/// node id; empty is the container's node) the copy is built on that node, from the store.
#[server(prefix = "/rpc", endpoint = "copy_snapshot")]
pub async fn copy_snapshot(
    id: String,
    name: String,
    project: String,
    new_name: String,
    #[server(default)] count: Option<String>,
    #[server(default)] server: Option<String>,
) -> Result<crate::model::Copied, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let count = match count.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => match n.parse::<u32>() {
            Ok(n @ 1..=50) => Some(n),
            _ => {
                return Err(AppError::BadRequest(format!(
                    "How many must be a whole number from 1 to 50 (got {n:?})."
                )));
            }
        },
    };
    // The server picker: empty means the container's own node.
    let server = server.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let copied = match count {
        None => backend
            .copy_snapshot(&token, &id, &name, &project, new_name.trim(), server)
            .await
            .map(|c| crate::model::Copied::one(&c))?,
        Some(n) => backend
            .fork_snapshot(&token, &id, &name, &project, new_name.trim(), n, server)
            .await
            .map(crate::model::Copied::from)?,
    };
    come_back(&token, &id, || Done::Copied(copied.clone()));
    Ok(copied)
}

/// After a plain form (no JavaScript), whose answer the page does not read, sends the
/// browser back to the timeline of `id` with what was done in the address, signed for this
/// session (see [`Done`]). With JavaScript the action's own value says it, and nothing
/// happens here.
#[cfg(feature = "ssr")]
fn come_back(token: &str, id: &str, done: impl FnOnce() -> Done) {
    come_back_to(token, id, "", done);
}

/// [`come_back`] to a place of the timeline (`#schedule-title`), so the page comes back
/// where the form was, not at its top (on a phone, a long way up).
#[cfg(feature = "ssr")]
fn come_back_to(token: &str, id: &str, anchor: &str, done: impl FnOnce() -> Done) {
    if plain_form() {
        leptos_axum::redirect(&format!(
            "/containers/{}?{}{anchor}",
            crate::model::query_escape(id),
            done().to_query(token)
        ));
    }
}

/// Whether the request is a plain HTML form POST (no JavaScript ran): the browser then
/// follows a redirect, not the JSON answer.
#[cfg(feature = "ssr")]
fn plain_form() -> bool {
    use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Publishes a snapshot as an image that new containers can start from.
#[server(prefix = "/rpc", endpoint = "publish_image")]
pub async fn publish_image(
    id: String,
    name: String,
    image: String,
) -> Result<types::Image, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let image = backend
        .publish_image(&token, &id, &name, image.trim())
        .await?;
    come_back(&token, &id, || Done::Published(image.clone()));
    Ok(image)
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
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let alias = alias.trim().to_string();
    if let Some(problem) = crate::model::alias_problem(&alias) {
        return Err(AppError::BadRequest(problem));
    }
    let change = SnapshotChange {
        alias: Some((!alias.is_empty()).then_some(alias)),
        expiry: parse_expiry_change(&expiry)?,
    };
    let s = backend.update_snapshot(&token, &id, &name, change).await?;
    come_back(&token, &id, || Done::Saved(s.clone()));
    Ok(s)
}

/// What changed from snapshot `from` to `against` (another snapshot's name, or `live`).
#[server(prefix = "/rpc", endpoint = "diff")]
pub async fn diff_snapshot(
    id: String,
    from: String,
    against: String,
) -> Result<SnapshotDiff, AppError> {
    page_container(&id)?;
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    if from.is_empty() {
        return Err(AppError::BadRequest("Choose a snapshot to compare.".into()));
    }
    let against = if against.is_empty() {
        "live".to_string()
    } else {
        against
    };
    backend.diff_snapshot(&token, &id, &from, &against).await
}

/// A directory of a snapshot, and how the page names the snapshot
/// ([`crate::model::snapshot_label`]). `path` is absolute inside it and percent-encoded
/// ([`types::raw::encode`]), so names that are not UTF-8 get through; empty means `/`.
#[server(prefix = "/rpc", endpoint = "browse")]
pub async fn browse_snapshot(
    id: String,
    name: String,
    path: String,
) -> Result<(SnapshotFiles, String), AppError> {
    page_container(&id)?;
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let path = crate::model::normalize_bytes(&types::raw::decode(&path));
    let files = backend.browse_snapshot(&token, &id, &name, &path).await?;
    // The heading names the snapshot as its card does: `name` may be a name or an alias.
    let label = backend
        .list_snapshots(&token, &id)
        .await?
        .into_iter()
        .find(|s| s.name == name || s.alias.as_deref() == Some(name.as_str()))
        .map(|s| crate::model::snapshot_label(s.alias.as_deref(), &s.name))
        .unwrap_or(name);
    Ok((files, label))
}

/// Verifies a snapshot; with `deep` (a checked checkbox sends `on`) all its data is re-read
/// and re-hashed.
#[server(prefix = "/rpc", endpoint = "verify")]
pub async fn verify_snapshot(
    id: String,
    name: String,
    #[server(default)] deep: Option<String>,
    #[server(default)] alias: String,
) -> Result<(String, SnapshotVerified), AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let report = backend
        .verify_snapshot(&token, &id, &name, deep.is_some_and(|d| !d.is_empty()))
        .await?;
    let label =
        crate::model::snapshot_label(Some(alias.as_str()).filter(|a| a.len() <= 400), &name);
    come_back(&token, &id, || {
        Done::verified(label.clone(), report.clone())
    });
    Ok((label, report))
}

/// The container's schedule, if it has one.
#[server(prefix = "/rpc", endpoint = "schedule")]
pub async fn load_schedule(id: String) -> Result<Option<Schedule>, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.schedule(&token, &id).await
}

/// Sets the container's schedule from the form: a cron expression or preset, the expiry of
/// the snapshots it takes (`7`, `30`, `90`, `never`, or any day count), an alias pattern,
/// whether stopped containers are snapshotted too, and the keep policy (`keep_last` ...
/// `keep_monthly`, see [`super::retention::keep_from_form`]; none sent or all empty: no
/// policy).
#[server(prefix = "/rpc", endpoint = "save_schedule")]
#[allow(clippy::too_many_arguments)]
pub async fn save_schedule(
    id: String,
    schedule: String,
    expiry: String,
    alias_pattern: String,
    #[server(default)] include_stopped: Option<String>,
    #[server(default)] keep_last: Option<String>,
    #[server(default)] keep_hourly: Option<String>,
    #[server(default)] keep_daily: Option<String>,
    #[server(default)] keep_weekly: Option<String>,
    #[server(default)] keep_monthly: Option<String>,
) -> Result<Schedule, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let typed = [
        ("schedule", Some(schedule.clone())),
        ("expiry", Some(expiry.clone())),
        ("alias_pattern", Some(alias_pattern.clone())),
        ("include_stopped", include_stopped.clone()),
        ("keep_last", keep_last.clone()),
        ("keep_hourly", keep_hourly.clone()),
        ("keep_daily", keep_daily.clone()),
        ("keep_weekly", keep_weekly.clone()),
        ("keep_monthly", keep_monthly.clone()),
    ];
    let result = async {
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
            keep: super::retention::keep_from_form([
                keep_last.as_deref(),
                keep_hourly.as_deref(),
                keep_daily.as_deref(),
                keep_weekly.as_deref(),
                keep_monthly.as_deref(),
            ])?,
        };
        backend.set_schedule(&token, &id, spec).await
    }
    .await;
    if plain_form() {
        match &result {
            // Back to the timeline itself, not to the address the form was posted from:
            // after a Preview that address holds the typed policy, which the page would go on
            // previewing as if it were not saved.
            Ok(saved) => come_back_to(&token, &id, "#schedule-title", || {
                Done::ScheduleSaved(saved.clone())
            }),
            // Refused: the form comes back open with what was typed and why, in words.
            Err(e) => {
                let esc = crate::model::query_escape;
                let fields: Vec<String> = typed
                    .iter()
                    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", esc(v))))
                    .collect();
                leptos_axum::redirect(&format!(
                    "/containers/{}?{}&{}#schedule-title",
                    esc(&id),
                    fields.join("&"),
                    crate::model::url_error::query(&token, "/rpc/save_schedule", e.clone())
                ));
            }
        }
    }
    result
}

/// Removes the container's schedule.
#[server(prefix = "/rpc", endpoint = "delete_schedule")]
pub async fn delete_schedule(id: String) -> Result<(), AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.delete_schedule(&token, &id).await?;
    come_back_to(&token, &id, "#schedule-title", || Done::ScheduleOff);
    Ok(())
}
