//! The first start's demo: a project with a container and a short history of snapshots, so
//! a newcomer opens the dashboard on a living timeline instead of an empty page.
//!
//! It is made once, on the first start of an empty data directory, and never again
//! (deleting it is final). `--no-demo` skips it. Everything is real: a real container from
//! the built-in `demo` image, real changes to its files, real snapshots.

use super::{Caller, Service};
use crate::error::ServiceError;

/// Name of the demo project.
pub const DEMO_PROJECT: &str = "demo";
/// Name of the demo container.
pub const DEMO_CONTAINER: &str = "demo-app";

/// What the first start did about the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DemoOutcome {
    /// Made now: the container's id.
    Made(String),
    /// Not made now: an earlier start decided, or the flag turned it off, or the data
    /// directory already had containers.
    Skipped(&'static str),
}

impl Service {
    /// Makes the demo on the first start of an empty data directory (unless `enabled` is
    /// false), and records the decision either way.
    pub async fn first_start_demo(&self, enabled: bool) -> Result<DemoOutcome, ServiceError> {
        // Decided and made by one node of a cluster: the others wait, then read the decision.
        let startup = engine::db::cluster_lock(self.db(), engine::db::ClusterLock::Startup).await?;
        let outcome = self.decide_demo(enabled).await;
        startup.release().await;
        outcome
    }

    async fn decide_demo(&self, enabled: bool) -> Result<DemoOutcome, ServiceError> {
        let decided: Option<String> = sqlx::query_scalar("SELECT demo FROM server_info LIMIT 1")
            .fetch_optional(self.db())
            .await?
            .flatten();
        if decided.is_some() {
            return Ok(DemoOutcome::Skipped("decided at an earlier start"));
        }
        let containers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM containers")
            .fetch_one(self.db())
            .await?;
        let outcome = if !enabled {
            DemoOutcome::Skipped("turned off with --no-demo")
        } else if containers > 0 {
            DemoOutcome::Skipped("the data directory already has containers")
        } else {
            DemoOutcome::Made(self.make_demo().await?)
        };
        let value = match outcome {
            DemoOutcome::Made(_) => "made",
            DemoOutcome::Skipped(_) => "skipped",
        };
        sqlx::query("UPDATE server_info SET demo = $1")
            .bind(value)
            .execute(self.db())
            .await?;
        Ok(outcome)
    }

    async fn make_demo(&self) -> Result<String, ServiceError> {
        let admin = Caller {
            token_id: "first-start".into(),
            admin: true,
            projects: Vec::new(),
        };
        let project = match self.project(&admin, DEMO_PROJECT).await {
            Ok(p) => p,
            Err(e) if e.kind == types::ErrorKind::NotFound => {
                self.create_project(&admin, DEMO_PROJECT).await?
            }
            Err(e) => return Err(e),
        };
        let c = self
            .create_container(&admin, &project.id, DEMO_CONTAINER, "demo", None, None)
            .await?;
        let id = super::parse_id("container id", &c.id)?;
        let root = self.engine().root_path(&id);
        let app = root.join("srv/app");
        let write = |rel: &str, text: &str| -> Result<(), ServiceError> {
            let path = app.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(ServiceError::internal)?;
            }
            std::fs::write(&path, text).map_err(ServiceError::internal)
        };
        // Three moments of a small app's life, each a snapshot: as installed, before a
        // risky migration, after it. The live files then drift a little further, so
        // "Compare with now" has something to show.
        write("config.toml", "[server]\nport = 8080\nworkers = 2\n")?;
        write("README.txt", "A demo app. Snapshots keep its history.\n")?;
        self.create_snapshot(&admin, &id, Some("fresh-install".into()), None)
            .await?;
        write("config.toml", "[server]\nport = 8080\nworkers = 4\n")?;
        write("data/users.csv", "id,name\n1,ada\n2,grace\n")?;
        self.create_snapshot(&admin, &id, Some("before-migration".into()), None)
            .await?;
        write(
            "data/users.csv",
            "id,name,email\n1,ada,ada@example.com\n2,grace,grace@example.com\n",
        )?;
        write(
            "migrations/002_add_email.sql",
            "ALTER TABLE users ADD COLUMN email TEXT;\n",
        )?;
        self.create_snapshot(&admin, &id, Some("after-migration".into()), Some(30))
            .await?;
        write(
            "config.toml",
            "[server]\nport = 8080\nworkers = 8\n# tuned by an AI agent\n",
        )?;
        Ok(c.id)
    }
}
