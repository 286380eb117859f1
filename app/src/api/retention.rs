//! The keep policy of a container's schedule (restic's `forget --keep-*`): its preview, and
//! how the dashboard's form fields become a policy. Saving goes with the schedule
//! ([`super::dashboard::save_schedule`]).

use leptos::prelude::*;

use crate::error::AppError;
pub use types::{KEEP_FIELDS, KeepPolicy, RetentionEntry, RetentionPreview};

/// The form's field name of each rule (`keep_daily`), in [`KEEP_FIELDS`] order. The preview
/// reads the same names from the page's address.
pub const KEEP_FORM_FIELDS: [&str; 5] = [
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
];

/// A policy from the form's five fields: `None` when none was sent (nothing to say), else
/// the policy they give (empty fields are not set; all empty or 0 is no policy). A field
/// that is not a whole number from 0 to [`types::MAX_KEEP`] is refused with its name and
/// the range.
pub fn keep_from_form(fields: [Option<&str>; 5]) -> Result<Option<KeepPolicy>, AppError> {
    if fields.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut counts = [None; 5];
    for ((count, name), text) in counts.iter_mut().zip(KEEP_FIELDS).zip(fields) {
        if let Some(t) = text {
            *count = KeepPolicy::parse_count(name, t).map_err(AppError::BadRequest)?;
        }
    }
    Ok(Some(KeepPolicy::from_counts(counts)))
}

/// What a keep policy would delete and keep among the container's snapshots now, and why;
/// nothing is deleted. With any `keep_*` field, that policy (the form's, not saved yet);
/// without, the saved schedule's.
#[server(prefix = "/rpc", endpoint = "schedule_preview")]
pub async fn preview_schedule(
    id: String,
    #[server(default)] keep_last: Option<String>,
    #[server(default)] keep_hourly: Option<String>,
    #[server(default)] keep_daily: Option<String>,
    #[server(default)] keep_weekly: Option<String>,
    #[server(default)] keep_monthly: Option<String>,
) -> Result<RetentionPreview, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let keep = keep_from_form([
        keep_last.as_deref(),
        keep_hourly.as_deref(),
        keep_daily.as_deref(),
        keep_weekly.as_deref(),
        keep_monthly.as_deref(),
    ])?;
    backend.schedule_preview(&token, &id, keep).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_become_a_policy_or_a_sentence() {
        assert_eq!(keep_from_form([None; 5]).unwrap(), None);
        assert_eq!(
            keep_from_form([Some(""), None, Some(" 7 "), None, Some("12")]).unwrap(),
            Some(KeepPolicy {
                daily: Some(7),
                monthly: Some(12),
                ..Default::default()
            })
        );
        // Sent but empty: a policy with no rule (no policy once saved).
        let empty = keep_from_form([Some(""); 5]).unwrap().unwrap();
        assert!(empty.is_empty());
        let e = keep_from_form([None, None, None, Some("-2"), None]).unwrap_err();
        assert!(matches!(e, AppError::BadRequest(_)), "{e:?}");
        assert!(e.to_string().contains("keep.weekly") && e.to_string().contains("0 to 10000"));
    }
}
