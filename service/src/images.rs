//! Images: root filesystems that containers start from.
//!
//! An image is an engine root holding exactly one snapshot; its live directory is removed
//! once the snapshot exists. Creating a container copies that snapshot, so an image's files
//! are stored once however many containers (and snapshots of them) use it.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::{RootSource, SnapshotOptions};
use sqlx::Row;

use super::{Caller, Service, fmt_time, now};
use crate::error::{Hint, ServiceError};

/// The image a fresh install has: busybox from the host.
pub const DEMO_IMAGE: &str = "demo";

/// A container's command when neither the request nor the image says otherwise: a shell that
/// idles until it is told to stop.
pub fn default_command() -> Vec<String> {
    vec![
        "/bin/sh".into(),
        "-c".into(),
        "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done".into(),
    ]
}

pub use types::Image;

/// Where an image's content is.
pub(crate) struct ImageRef {
    pub root: engine::ContainerId,
    pub snapshot: String,
    pub command: Vec<String>,
}

/// Checks an image name: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_image_name(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::bad_request(format!(
            "image name {name:?} is not valid: use 1 to 64 lowercase letters, digits, '.', '_' \
             or '-', starting with a letter or digit"
        )))
    }
}

fn row_to_image(r: &engine::DbRow) -> Result<Image, ServiceError> {
    let command: String = r.try_get("command")?;
    Ok(Image {
        name: r.try_get("name")?,
        source: r.try_get("source")?,
        command: serde_json::from_str(&command).unwrap_or_default(),
        size: r.try_get::<i64, _>("size")?.max(0) as u64,
        file_count: r.try_get::<i64, _>("file_count")?.max(0) as u64,
        created_at: r.try_get("created_at")?,
        project_id: r.try_get("project_id")?,
    })
}

/// Makes the `demo` image from the host's static busybox, once.
pub(crate) async fn ensure_demo_image(svc: &Service) -> anyhow::Result<()> {
    use anyhow::Context;
    // Only the shared one counts; a project that published a `demo` while there was none
    // makes the registration below fail with a message naming that project.
    let exists: Option<String> =
        sqlx::query_scalar("SELECT name FROM images WHERE name = $1 AND project_id IS NULL")
            .bind(DEMO_IMAGE)
            .fetch_optional(svc.db())
            .await?;
    if exists.is_some() {
        return Ok(());
    }
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .context(
            "busybox is not installed; install Debian's busybox-static (`apt-get install \
             busybox-static`) and restart to get the demo image, or import one with POST \
             /api/v1/images",
        )?;
    let dir = tempfile::Builder::new()
        .prefix("snapline-demo-")
        .tempdir_in(svc.data_dir())?;
    build_busybox_tree(busybox, dir.path())?;
    svc.register_image(
        DEMO_IMAGE,
        "builtin",
        RootSource::Directory(dir.path().to_path_buf()),
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// A minimal root: busybox and its applets in /bin, the usual empty directories, and
/// /etc files that shells and `id` expect.
fn build_busybox_tree(busybox: &Path, root: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let list = std::process::Command::new(busybox).arg("--list").output()?;
    for d in [
        "bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var/tmp", "var/log", "proc",
        "dev", "sys", "run", "home",
    ] {
        std::fs::create_dir_all(root.join(d))?;
    }
    std::fs::copy(busybox, root.join("bin/busybox"))?;
    std::fs::set_permissions(
        root.join("bin/busybox"),
        std::fs::Permissions::from_mode(0o755),
    )?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet.contains('/') || applet == "busybox" {
            continue;
        }
        let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
    }
    for d in ["tmp", "var/tmp"] {
        std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o1777))?;
    }
    std::fs::set_permissions(root.join("root"), std::fs::Permissions::from_mode(0o700))?;
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    std::fs::write(root.join("etc/group"), "root:x:0:\n")?;
    std::fs::write(root.join("etc/hostname"), "demo\n")?;
    std::fs::write(
        root.join("etc/os-release"),
        "NAME=\"Snapline demo (busybox)\"\nID=snapline-demo\n",
    )?;
    Ok(())
}

/// A reader that fails once more than `max` bytes came through, and says so in `over`.
struct Capped<R> {
    inner: R,
    left: u64,
    over: Arc<AtomicBool>,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            self.over.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("the image is larger than the limit"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

impl Service {
    /// The images the caller may use: built-in and imported ones (shared by all projects),
    /// and those published from a snapshot of a project the caller sees.
    pub async fn list_images(&self, caller: &Caller) -> Result<Vec<Image>, ServiceError> {
        let rows = sqlx::query("SELECT * FROM images ORDER BY name")
            .fetch_all(self.db())
            .await?;
        let all = rows
            .iter()
            .map(row_to_image)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(all
            .into_iter()
            .filter(|i| i.project_id.as_deref().is_none_or(|p| caller.sees(p)))
            .collect())
    }

    /// The image `name` as project `project` sees it: the project's own published image of
    /// that name, else the shared one. Images of other projects are as if they did not
    /// exist. The caller's access to `project` is checked by the caller of this function.
    pub(crate) async fn image_ref(
        &self,
        project: &types::Project,
        name: &str,
    ) -> Result<ImageRef, ServiceError> {
        // The project's own image first: a shared image of the same name can only appear
        // through a race between an import and a publish, and then the project's wins.
        let row = sqlx::query(
            "SELECT root_id, snapshot, command FROM images WHERE name = $1 \
             AND (project_id IS NULL OR project_id = $2) ORDER BY project_id IS NULL LIMIT 1",
        )
        .bind(name)
        .bind(&project.id)
        .fetch_optional(self.db())
        .await?
        .ok_or_else(|| {
            ServiceError::not_found(format!(
                "project {:?} has no image named {name:?} (neither its own nor a shared one)",
                project.name
            ))
            .with_hint(Hint::ListImages)
        })?;
        let root: String = row.try_get("root_id")?;
        let command: String = row.try_get("command")?;
        Ok(ImageRef {
            root: super::parse_id("image root", &root)?,
            snapshot: row.try_get("snapshot")?,
            command: serde_json::from_str(&command).unwrap_or_else(|_| default_command()),
        })
    }

    /// Imports a root filesystem tar stream (`docker export` output) as image `name`, shared
    /// by every project (admin tokens only: 403 otherwise). An archive with no file is
    /// refused (400).
    /// `body` is read on a blocking thread; at most `limits.max_image_bytes` are accepted.
    pub async fn import_image(
        &self,
        caller: &Caller,
        name: &str,
        body: Box<dyn Read + Send>,
    ) -> Result<Image, ServiceError> {
        // An imported image is shared by every project, so only an admin token, which can
        // also delete it, makes one. A project makes its own images by publishing.
        if !caller.admin {
            return Err(ServiceError::forbidden(
                "only an admin token can import images (they are shared by every project); \
                 to make an image of your project, publish one of its snapshots \
                 (`snapline images publish`, or POST /api/v1/images with {\"name\", \
                 \"from\": {\"container_id\", \"snapshot\"}})",
            ));
        }
        validate_image_name(name)?;
        self.check_free_space(0, "importing an image")?;
        let over = Arc::new(AtomicBool::new(false));
        let capped = Capped {
            inner: body,
            left: self.limits().max_image_bytes,
            over: over.clone(),
        };
        let result = self
            .register_image(name, "import", RootSource::Tar(Box::new(capped)), None)
            .await;
        if over.load(Ordering::Relaxed) {
            return Err(ServiceError::payload_too_large(format!(
                "the image is larger than the limit of {} MB (SNAPLINE_MAX_IMAGE_MB)",
                self.limits().max_image_bytes >> 20
            )));
        }
        let image = result?;
        // An empty or file-less archive would make containers that cannot start: refused
        // now, and the image taken back.
        if image.file_count == 0 {
            let _ = self.remove_image(&image.name, None).await;
            return Err(ServiceError::bad_request(
                "the archive holds no files: import a root filesystem tar (for example the \
                 output of `docker export`)",
            ));
        }
        self.events()
            .publish(types::EventKind::ImageImported, "", None, &image);
        Ok(image)
    }

    /// Stores a root as an image: a root, its one snapshot, then the live copy removed.
    async fn register_image(
        &self,
        name: &str,
        source: &str,
        content: RootSource,
        command: Option<Vec<String>>,
    ) -> Result<Image, ServiceError> {
        self.image_name_free(name, None).await?;
        let root = super::parse_id("image root", &crate::tokens::new_id())?;
        self.engine().create_root(&root, content).await?;
        let snap = self
            .engine()
            .snapshot(
                &root,
                SnapshotOptions {
                    alias: Some(format!("image {name}")),
                    ..Default::default()
                },
            )
            .await;
        let snap = match snap {
            Ok(s) => s,
            Err(e) => {
                let _ = self.engine().delete_root(&root).await;
                return Err(e.into());
            }
        };
        self.engine().delete_root(&root).await?;
        self.insert_image(name, source, &root, &snap, command, None)
            .await
    }

    /// Publishes a container's snapshot as image `req.name` (Incus `publish`). The image's
    /// one snapshot points at the same stored tree, so publishing writes no chunk, and
    /// containers created from it equal the snapshot exactly. Their default command is the
    /// container's. Works for a deleted container whose snapshots remain.
    ///
    /// Refused: a token that sees no project (403), a bad name (400), a container the caller
    /// does not see or an unknown snapshot (404), a taken name (409).
    pub async fn publish_image(
        &self,
        caller: &Caller,
        req: &types::PublishImage,
    ) -> Result<Image, ServiceError> {
        if !caller.admin && caller.projects.is_empty() {
            return Err(ServiceError::forbidden("this token cannot publish images"));
        }
        validate_image_name(&req.name)?;
        let id = super::parse_id("container id", &req.from.container_id)?;
        let c = self.container_row(caller, &id).await?;
        self.image_name_free(&req.name, Some(&c.project_id)).await?;
        let root = super::parse_id("image root", &crate::tokens::new_id())?;
        let snap = self
            .engine()
            .publish(
                &c.id,
                &req.from.snapshot,
                &root,
                Some(format!("image {}", req.name)),
            )
            .await?;
        let image = self
            .insert_image(
                &req.name,
                "snapshot",
                &root,
                &snap,
                Some(c.command.clone()),
                Some(c.project_id.clone()),
            )
            .await?;
        self.events()
            .publish(types::EventKind::ImagePublished, "", None, &image);
        Ok(image)
    }

    /// Deletes image `name`. Containers made from it keep their files (a container is a copy,
    /// not a reference); the image's stored objects that nothing else uses become garbage for
    /// the next GC. The built-in `demo` image is made again at the next start while busybox is
    /// installed.
    ///
    /// `project` picks among images of that name in several projects the caller sees (an
    /// admin token, or one scoped to several projects); without it, such a name is refused
    /// (409, naming the projects).
    ///
    /// Who may: a published image, any token that sees its project; a shared image (built in
    /// or imported, seen by every project), an admin token only. Refused: an image the caller
    /// does not see (404), a shared image and a non-admin token (403).
    pub async fn delete_image(
        &self,
        caller: &Caller,
        name: &str,
        project: Option<&str>,
    ) -> Result<Image, ServiceError> {
        // `project` is an id or a name, like everywhere else; one the caller does not see
        // is 404.
        let project = match project {
            Some(p) => Some(self.project(caller, p).await?),
            None => None,
        };
        let missing = || {
            let scope = project
                .as_ref()
                .map(|p| format!(" in project {:?}", p.name))
                .unwrap_or_default();
            ServiceError::not_found(format!("no image named {name:?}{scope}"))
                .with_hint(Hint::ListImages)
        };
        let rows = sqlx::query(
            "SELECT images.*, projects.name AS project_name FROM images \
             LEFT JOIN projects ON projects.id = images.project_id \
             WHERE images.name = $1 ORDER BY project_name",
        )
        .bind(name)
        .fetch_all(self.db())
        .await?;
        let mut seen = Vec::new();
        for row in &rows {
            let image = row_to_image(row)?;
            let visible = image.project_id.as_deref().is_none_or(|p| caller.sees(p));
            let chosen = project
                .as_ref()
                .is_none_or(|want| image.project_id.as_deref() == Some(want.id.as_str()));
            if visible && chosen {
                seen.push((image, row.try_get::<Option<String>, _>("project_name")?));
            }
        }
        let image = match seen.len() {
            0 => return Err(missing()),
            1 => seen.remove(0).0,
            _ => {
                let projects: Vec<String> = seen.into_iter().filter_map(|(_, p)| p).collect();
                return Err(ServiceError::conflict(format!(
                    "projects {} each have an image named {name:?}; say which one to delete \
                     (?project=<name>, or --project in the CLI)",
                    projects.join(" and ")
                )));
            }
        };
        if image.project_id.is_none() && !caller.admin {
            return Err(ServiceError::forbidden(format!(
                "image {name:?} is shared by every project; only an admin token can delete it"
            )));
        }
        if !self.remove_image(name, image.project_id.as_deref()).await? {
            return Err(missing());
        }
        self.events()
            .publish(types::EventKind::ImageDeleted, "", None, &image);
        Ok(image)
    }

    /// Removes image `name` of `project` (None: the shared one): its row, then its snapshot
    /// (whose objects become garbage for GC); no permission check. False when there was no
    /// such image.
    async fn remove_image(&self, name: &str, project: Option<&str>) -> Result<bool, ServiceError> {
        // `IS NOT DISTINCT FROM` matches NULL to NULL, so one text serves the shared
        // namespace and a project's (PostgreSQL takes no parameter after a bare `IS`).
        let Some(row) = sqlx::query(
            "DELETE FROM images WHERE name = $1 AND project_id IS NOT DISTINCT FROM $2 \
             RETURNING root_id, snapshot",
        )
        .bind(name)
        .bind(project)
        .fetch_optional(self.db())
        .await?
        else {
            return Ok(false);
        };
        // The row went first: from then on no new container starts from the image, and a
        // second delete finds nothing. A snapshot left behind by a failure below is only
        // stored bytes, never a half image.
        let root: String = row.try_get("root_id")?;
        let snapshot: String = row.try_get("snapshot")?;
        let root = super::parse_id("image root", &root)?;
        match self.engine().delete(&root, &snapshot).await {
            Ok(_) | Err(engine::EngineError::NoSuchSnapshot { .. }) => {}
            Err(e) => tracing::warn!(image = name, error = %e, "image snapshot left for GC"),
        }
        Ok(true)
    }

    /// Refuses a name already used where the new image would be seen. A published image
    /// (`project` Some) may not reuse its project's names nor a shared one; a shared image
    /// (None) may not reuse any name at all, since every project sees it. Other projects'
    /// names are never revealed to a project: only an admin makes shared images.
    async fn image_name_free(&self, name: &str, project: Option<&str>) -> Result<(), ServiceError> {
        let taken: Vec<Option<String>> = match project {
            Some(p) => {
                sqlx::query_scalar(
                    "SELECT project_id FROM images WHERE name = $1 \
                 AND (project_id IS NULL OR project_id = $2)",
                )
                .bind(name)
                .bind(p)
                .fetch_all(self.db())
                .await?
            }
            None => {
                sqlx::query_scalar("SELECT project_id FROM images WHERE name = $1")
                    .bind(name)
                    .fetch_all(self.db())
                    .await?
            }
        };
        match taken.first() {
            None => Ok(()),
            Some(owner) => Err(self.name_taken(name, owner.as_deref()).await),
        }
    }

    /// 409 for an image name in use: `owner` is the id of the project whose image has it,
    /// None for a shared image. The project is named by its name, as users know it.
    async fn name_taken(&self, name: &str, owner: Option<&str>) -> ServiceError {
        let Some(owner) = owner else {
            return ServiceError::conflict(format!(
                "a shared image (built in or imported) is named {name:?}; choose another name"
            ));
        };
        let label: Option<String> = sqlx::query_scalar("SELECT name FROM projects WHERE id = $1")
            .bind(owner)
            .fetch_optional(self.db())
            .await
            .ok()
            .flatten();
        ServiceError::conflict(format!(
            "project {:?} already has an image named {name:?}; choose another name",
            label.as_deref().unwrap_or(owner)
        ))
    }

    /// The image row for `root`'s one snapshot `snap`. When the name was taken meanwhile,
    /// the snapshot is deleted (its objects become garbage for GC) and the answer is 409.
    async fn insert_image(
        &self,
        name: &str,
        source: &str,
        root: &engine::ContainerId,
        snap: &engine::SnapshotInfo,
        command: Option<Vec<String>>,
        project_id: Option<String>,
    ) -> Result<Image, ServiceError> {
        let command = command.unwrap_or_else(default_command);
        let image = Image {
            name: name.to_string(),
            source: source.to_string(),
            command: command.clone(),
            size: snap.size,
            file_count: snap.file_count,
            created_at: fmt_time(now()),
            project_id,
        };
        // The namespaces' rule spans rows (a shared name blocks every project's), which no
        // unique index can state: checked again and inserted under the cluster's lock.
        let names =
            engine::db::cluster_lock(self.db(), engine::db::ClusterLock::ImageNames).await?;
        if let Err(e) = self
            .image_name_free(name, image.project_id.as_deref())
            .await
        {
            names.release().await;
            let _ = self.engine().delete(root, &snap.name).await;
            return Err(e);
        }
        let r = sqlx::query(
            "INSERT INTO images (name, root_id, snapshot, source, command, size, file_count, \
             created_at, project_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&image.name)
        .bind(root.as_str())
        .bind(&snap.name)
        .bind(&image.source)
        .bind(serde_json::to_string(&command).unwrap_or_else(|_| "[]".into()))
        .bind(image.size as i64)
        .bind(image.file_count as i64)
        .bind(&image.created_at)
        .bind(&image.project_id)
        .execute(self.db())
        .await;
        names.release().await;
        match r {
            Ok(_) => Ok(image),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                // Made twice at once: the loser's snapshot is garbage for GC.
                let _ = self.engine().delete(root, &snap.name).await;
                Err(self.name_taken(name, image.project_id.as_deref()).await)
            }
            Err(e) => Err(e.into()),
        }
    }
}
