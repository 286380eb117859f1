//! The alias rule: an alias names one snapshot of its container. A user's alias that another
//! snapshot holds is refused (409); the aliases Snapline gives itself take the next free one.

use engine::ContainerId;

use super::Service;
use crate::error::ServiceError;

impl Service {
    /// The snapshot of container `c` whose alias is `alias`, if any.
    pub(crate) async fn alias_holder(
        &self,
        c: &ContainerId,
        alias: &str,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self
            .engine()
            .list(c)
            .await?
            .into_iter()
            .find(|s| s.alias.as_deref() == Some(alias))
            .map(|s| s.name))
    }

    /// `base`, or `base-2`, `base-3`, … the first alias no snapshot of `c` has: for the
    /// aliases Snapline gives itself (safety snapshots, schedules), which must not take one
    /// that names another snapshot. Cut to the alias limit where the suffix needs room.
    pub(crate) async fn free_alias(
        &self,
        c: &ContainerId,
        base: String,
    ) -> Result<String, ServiceError> {
        let taken: std::collections::HashSet<String> = self
            .engine()
            .list(c)
            .await?
            .into_iter()
            .filter_map(|s| s.alias)
            .collect();
        if !taken.contains(&base) {
            return Ok(base);
        }
        for n in 2u32.. {
            let suffix = format!("-{n}");
            let keep = engine::snapshot::MAX_ALIAS_CHARS.saturating_sub(suffix.chars().count());
            let alias: String = base.chars().take(keep).chain(suffix.chars()).collect();
            if !taken.contains(&alias) {
                return Ok(alias);
            }
        }
        unreachable!("the aliases of one container are finite")
    }
}

/// 409 for an alias another snapshot of the container has.
pub(crate) fn alias_taken(alias: &str, holder: &str) -> ServiceError {
    ServiceError::conflict(format!(
        "the alias {alias:?} is taken by snapshot {holder} of this container, and an alias \
         names one snapshot: choose another alias, or first change or delete the alias of \
         {holder}"
    ))
}
