//! A container's automatic snapshots: read, set from the form, remove.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Schedule;
#[cfg(feature = "ssr")]
use crate::model::{Done, ScheduleSpec};

#[cfg(feature = "ssr")]
use super::forms::{come_back_to, plain_form};
#[cfg(feature = "ssr")]
use super::snapshots::parse_expiry;

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
/// `keep_monthly`, see [`crate::api::retention::keep_from_form`]; none sent or all empty: no
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
            keep: crate::api::retention::keep_from_form([
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
