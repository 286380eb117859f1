//! The two pages assembled from several upstream calls: the containers overview and a
//! container's timeline.

use app::AppError;
use app::backend::Backend;
use app::model::{AxisPoint, ContainerView, Overview, Snapshot, Timeline};
use futures_util::StreamExt;

use super::backend::RemoteBackend;
use super::client::{Containers, Images, OneContainer, OneSnapshot};
use super::upstream::*;

impl RemoteBackend {
    /// The containers page: every container the token sees, its last snapshot, and the
    /// deleted ones that still have snapshots.
    pub(super) async fn overview_view(&self, token: &str) -> Result<Overview, AppError> {
        let list_url = self
            .upstream
            .api(&["containers"], &[("include_deleted", "true")])?;
        let (identity, all, images) = tokio::try_join!(
            self.identity(token),
            self.get::<Containers>(token, list_url),
            self.get::<Images>(token, self.upstream.api(&["images"], &[])?),
        )?;
        let projects = &identity.projects;
        // Each container's snapshot list gives its "last snapshot" time (and a deleted one's
        // snapshots); only containers that have snapshots are asked.
        let cards: Vec<Result<(ContainerView, Vec<Snapshot>), AppError>> =
            futures_util::stream::iter(all.containers)
                .map(|c| async move {
                    let snaps = match c.snapshot_count {
                        0 => Vec::new(),
                        // A deleted container's card is its snapshots: they must be there.
                        _ if c.status == types::ContainerStatus::Deleted => {
                            self.snapshots(token, &c.id).await?
                        }
                        // A live card only shows the newest one's time: if the list cannot
                        // be had (rate limited, say), the card goes without it rather than
                        // the whole page failing.
                        _ => self.snapshots(token, &c.id).await.unwrap_or_else(|e| {
                            tracing::warn!(container = %c.id, error = %e, "no snapshot list");
                            Vec::new()
                        }),
                    };
                    let view = self
                        .container_view(token, c, projects, Some(&snaps))
                        .await?;
                    Ok((view, snaps))
                })
                .buffered(CONCURRENT_CALLS)
                .collect()
                .await;
        let (mut containers, mut deleted) = (Vec::new(), Vec::new());
        for card in cards {
            let (view, snaps) = card?;
            if view.status == types::ContainerStatus::Deleted {
                if view.snapshot_count > 0 {
                    deleted.push((view, snaps));
                }
            } else {
                containers.push(view);
            }
        }
        Ok(Overview {
            identity,
            containers,
            deleted,
            images: Overview::image_choices(&images.images),
            now: crate::http::now_rfc3339(),
            servers: Vec::new(),
        })
    }

    /// One container's timeline (the schedule is added by the page's server function).
    pub(super) async fn timeline_view(&self, token: &str, id: &str) -> Result<Timeline, AppError> {
        let (projects, c, snaps) = tokio::try_join!(
            self.projects(token),
            self.get::<OneContainer>(token, self.upstream.api(&["containers", id], &[])?),
            self.snapshots(token, id),
        )?;
        let container = self
            .container_view(token, c.container, &projects, Some(&snaps))
            .await?;
        // Exclusive bytes come only with `GET` of one snapshot: the newest few are fetched
        // (advisory, so a failure just leaves the number out), the rest stay unknown.
        // (The names are collected first: a borrowing iterator inside the stream makes the
        // future lose `Send`.)
        let newest: Vec<String> = snaps
            .iter()
            .take(EXCLUSIVE_FOR_NEWEST)
            .map(|s| s.name.clone())
            .collect();
        let exclusive: Vec<Option<u64>> = futures_util::stream::iter(newest)
            .map(|name| async move {
                let url = self
                    .upstream
                    .api(&["containers", id, "snapshots", &name], &[])
                    .ok()?;
                let one: OneSnapshot = self.get(token, url).await.ok()?;
                one.snapshot.exclusive_bytes
            })
            .buffered(CONCURRENT_CALLS)
            .collect()
            .await;
        let snapshots: Vec<Snapshot> = snaps
            .into_iter()
            .enumerate()
            .map(|(i, s)| Snapshot {
                exclusive_bytes: exclusive.get(i).copied().flatten().or(s.exclusive_bytes),
                ..s
            })
            .collect();
        let axis = snapshots.iter().map(AxisPoint::from).collect();
        Ok(Timeline {
            container,
            total: snapshots.len(),
            axis,
            snapshots,
            projects,
            now: crate::http::now_rfc3339(),
            schedule: None,
            servers: Vec::new(),
        })
    }
}
