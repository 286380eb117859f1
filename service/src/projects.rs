//! Projects, and this node's identity.

use engine::DbPool;
use sqlx::Row;

use super::{Caller, Service, fmt_time, now};
use crate::error::{Hint, ServiceError};

/// Name of the project created at first start.
pub const DEFAULT_PROJECT: &str = "default";

pub use types::Project;

fn row_to_project(r: &engine::DbRow) -> Result<Project, sqlx::Error> {
    Ok(Project {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) async fn ensure_default_project(db: &DbPool) -> anyhow::Result<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects")
        .fetch_one(db)
        .await?;
    if n == 0 {
        sqlx::query("INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(crate::tokens::new_id())
            .bind(DEFAULT_PROJECT)
            .bind(fmt_time(now()))
            .execute(db)
            .await?;
    }
    Ok(())
}

pub(crate) async fn ensure_server_id(db: &DbPool) -> anyhow::Result<String> {
    if let Some(id) = sqlx::query_scalar("SELECT id FROM server_info LIMIT 1")
        .fetch_optional(db)
        .await?
    {
        return Ok(id);
    }
    let id = crate::tokens::new_id();
    sqlx::query("INSERT INTO server_info (id, created_at) VALUES ($1, $2)")
        .bind(&id)
        .bind(fmt_time(now()))
        .execute(db)
        .await?;
    Ok(id)
}

/// Checks a project name: 1 to 100 characters, no control characters.
pub fn validate_name(what: &str, name: &str) -> Result<(), ServiceError> {
    let n = name.chars().count();
    if name.trim().is_empty() || n > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::bad_request(format!(
            "{what} must be 1 to 100 characters without control characters (got {n})"
        )));
    }
    Ok(())
}

impl Service {
    /// The projects the caller sees.
    pub async fn list_projects(&self, caller: &Caller) -> Result<Vec<Project>, ServiceError> {
        let rows = sqlx::query("SELECT * FROM projects ORDER BY created_at, name")
            .fetch_all(self.db())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let p = row_to_project(r)?;
            if caller.sees(&p.id) {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// A project by id or name, if the caller sees it; 404 otherwise.
    pub async fn project(
        &self,
        caller: &Caller,
        id_or_name: &str,
    ) -> Result<Project, ServiceError> {
        let row = sqlx::query("SELECT * FROM projects WHERE id = $1 OR name = $2")
            .bind(id_or_name)
            .bind(id_or_name)
            .fetch_optional(self.db())
            .await?;
        match row.map(|r| row_to_project(&r)).transpose()? {
            Some(p) if caller.sees(&p.id) => Ok(p),
            _ => Err(ServiceError::not_found(format!(
                "no project {id_or_name:?} exists among your projects"
            ))
            .with_hint(Hint::ListProjects)),
        }
    }

    /// Creates a project (admin tokens only).
    pub async fn create_project(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<Project, ServiceError> {
        if !caller.admin {
            return Err(ServiceError::forbidden(
                "only an admin token can create projects",
            ));
        }
        validate_name("a project name", name)?;
        let p = Project {
            id: crate::tokens::new_id(),
            name: name.to_string(),
            created_at: fmt_time(now()),
        };
        let r = sqlx::query("INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.created_at)
            .execute(self.db())
            .await;
        match r {
            Ok(_) => Ok(p),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Err(
                ServiceError::conflict(format!("a project named {name:?} already exists")),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes an empty project (admin tokens only). Refused (409, naming what is left) while
    /// it holds a container, deleted or not, whose snapshots remain, or an image published
    /// from it; refused for the last project. What goes with it: the rows of its deleted
    /// containers that have no snapshot left, and its place in tokens' scopes (a token that
    /// saw only this project then sees none).
    pub async fn delete_project(
        &self,
        caller: &Caller,
        id_or_name: &str,
    ) -> Result<Project, ServiceError> {
        if !caller.admin {
            return Err(ServiceError::forbidden(
                "only an admin token can delete projects",
            ));
        }
        let p = self.project(caller, id_or_name).await?;
        let rows = sqlx::query("SELECT id, name, status FROM containers WHERE project_id = $1")
            .bind(&p.id)
            .fetch_all(self.db())
            .await?;
        let (mut live, mut kept, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            let id: String = r.try_get("id")?;
            let name: String = r.try_get("name")?;
            let status: String = r.try_get("status")?;
            if status != "deleted" {
                live.push(name);
                continue;
            }
            let cid = super::parse_id("container id", &id)?;
            if self.engine().list(&cid).await?.is_empty() {
                gone.push(id);
            } else {
                kept.push(name);
            }
        }
        let images: Vec<String> =
            sqlx::query_scalar("SELECT name FROM images WHERE project_id = $1 ORDER BY name")
                .bind(&p.id)
                .fetch_all(self.db())
                .await?;
        // Each kind in the number its list has: "the container web", "the containers a, b".
        let kind = |list: &[String], one: &str, many: &str| {
            format!(
                "the {} {}",
                if list.len() == 1 { one } else { many },
                list.join(", ")
            )
        };
        let mut left = Vec::new();
        if !live.is_empty() {
            left.push(kind(&live, "container", "containers"));
        }
        if !kept.is_empty() {
            left.push(format!(
                "snapshots of {}",
                kind(&kept, "deleted container", "deleted containers")
            ));
        }
        if !images.is_empty() {
            left.push(kind(&images, "published image", "published images"));
        }
        if !left.is_empty() {
            let all = live.len() + kept.len() + images.len();
            return Err(ServiceError::conflict(format!(
                "project {:?} still holds {}; delete {} first",
                p.name,
                left.join("; "),
                if all == 1 { "it" } else { "them" }
            )));
        }
        let mut tx = self.db().begin().await?;
        let others: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE id <> $1")
            .bind(&p.id)
            .fetch_one(&mut *tx)
            .await?;
        if others == 0 {
            return Err(ServiceError::conflict(format!(
                "project {:?} is the last one; create another before deleting it",
                p.name
            )));
        }
        for id in &gone {
            sqlx::query("DELETE FROM scheduled_snapshots WHERE container_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM containers WHERE id = $1 AND status = 'deleted'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM token_projects WHERE project_id = $1")
            .bind(&p.id)
            .execute(&mut *tx)
            .await?;
        // A container made meanwhile keeps the project (its row refers to it): the delete
        // then fails on the reference, and nothing of the above is kept.
        let r = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(&p.id)
            .execute(&mut *tx)
            .await;
        match r {
            Ok(_) => {}
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                return Err(ServiceError::conflict(format!(
                    "project {:?} gained a container meanwhile; delete it first",
                    p.name
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(p)
    }
}
