//! `GET /api/v1/containers/{id}/schedule/preview`: what a schedule's keep policy (restic's
//! `forget --keep-*`) would delete and keep now, and why, without deleting anything. The
//! route is declared with the other schedule routes in [`super::containers`], where the
//! policy itself is set (`PUT .../schedule`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Authed;
use super::body::{Path, Query};
use super::{ApiError, Envelope, ErrorBody, envelope_schema};
use service::Service;
use service::parse_id;
use types::{KEEP_FIELDS, KeepPolicy, RetentionPreviewData};

envelope_schema!(
    RetentionPreviewResponse,
    RetentionPreviewData,
    "Retention preview computed successfully"
);

/// A policy to preview instead of the saved one. Any of these given: that policy (the
/// others not set), so a form can preview before saving; none given: the schedule's own.
/// Each is a whole number from 0 to 10000 ([`types::MAX_KEEP`]); anything else is a 400
/// naming the parameter and the range.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Keep the N newest scheduled snapshots.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 5)]
    pub last: Option<String>,
    /// Keep the newest snapshot of each of the N newest UTC hours that have one.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    pub hourly: Option<String>,
    /// Keep the newest snapshot of each of the N newest UTC days that have one.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000, example = 7)]
    pub daily: Option<String>,
    /// Keep the newest snapshot of each of the N newest ISO weeks (UTC) that have one.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    pub weekly: Option<String>,
    /// Keep the newest snapshot of each of the N newest UTC months that have one.
    #[param(value_type = Option<u32>, minimum = 0, maximum = 10000)]
    pub monthly: Option<String>,
}

impl PreviewQuery {
    /// The policy the query gives, `None` when it gives none. Read as text and checked
    /// here, so a bad value gets the same sentence as the body's and the forms' (the
    /// parameter and its range), not the query parser's.
    fn policy(&self) -> Result<Option<KeepPolicy>, ApiError> {
        let given = [
            &self.last,
            &self.hourly,
            &self.daily,
            &self.weekly,
            &self.monthly,
        ];
        if given.iter().all(|g| g.is_none()) {
            return Ok(None);
        }
        let mut counts = [None; 5];
        for ((count, field), text) in counts.iter_mut().zip(KEEP_FIELDS).zip(given) {
            if let Some(t) = text {
                // A form may leave a box empty; a URL that names a parameter means a value.
                if t.trim().is_empty() {
                    return Err(ApiError::bad_request(format!(
                        "?{field}= is empty: give a whole number from 0 to {}, or leave the \
                         parameter out",
                        types::MAX_KEEP
                    )));
                }
                *count = KeepPolicy::parse_count(field, t).map_err(ApiError::bad_request)?;
            }
        }
        Ok(Some(KeepPolicy::from_counts(counts)))
    }
}

/// Which snapshots the container's keep policy would delete and which it keeps, with the
/// reasons, deleting nothing. The background job deletes the `delete` list on its next pass
/// (every `--job-interval-s`). Only snapshots the schedule took are candidates; snapshots
/// taken by hand and pinned ones are listed as `untouched`.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/schedule/preview",
    tag = "Schedules",
    params(
        ("container_id" = String, Path, description = "The container's id"),
        PreviewQuery,
    ),
    responses(
        (status = 200, description = "What the policy keeps and deletes", body = RetentionPreviewResponse,
            example = json!({"statusCode": 200, "message": "Retention preview computed successfully", "data": {"preview": {
                "container_id": "890abcdef12345678901cdef",
                "policy": {"last": 1, "daily": 7},
                "keep": [
                    {"name": "snap-20261129-030000", "alias": "auto-20261129-0300", "created_at": "2026-11-29T03:00:00.000Z", "reasons": ["last", "daily 2026-11-29"]},
                    {"name": "snap-20261128-030000", "alias": "auto-20261128-0300", "created_at": "2026-11-28T03:00:00.000Z", "reasons": ["daily 2026-11-28"]}
                ],
                "delete": [
                    {"name": "snap-20261128-020000", "alias": "auto-20261128-0200", "created_at": "2026-11-28T02:00:00.000Z", "reasons": ["last: 1 newer snapshots kept", "daily 2026-11-28: snap-20261128-030000 is newer"]}
                ],
                "untouched": [
                    {"name": "snap-20261127-101500", "alias": "before-upgrade", "created_at": "2026-11-27T10:15:00.000Z", "reasons": ["manual"]}
                ]
            }}})),
        (status = 400, description = "A count that is not a whole number from 0 to 10000", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container, or (without a policy in the query) it has no schedule", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn preview(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Query(q): Query<PreviewQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let policy = q.policy()?;
    let preview = svc.preview_retention(&caller, &id, policy).await?;
    Ok(Envelope::ok(
        "Retention preview computed successfully",
        RetentionPreviewData { preview },
    )
    .into_response())
}
