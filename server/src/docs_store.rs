//! The API docs page's saved state in this node's SQLite: run history and drafts per user,
//! examples per project (see the migration `api_docs`).

use app::AppError;
use app::backend::DocsStore;
use app::model::{DocsState, Draft, Example, RUN_HISTORY, RUN_KEEP_LIMIT, RunRecord, RunResult};
use sqlx::{Row, SqlitePool};

/// The store over the node's database.
pub struct SqliteDocs {
    db: SqlitePool,
}

impl SqliteDocs {
    pub fn new(db: SqlitePool) -> Self {
        SqliteDocs { db }
    }
}

/// Who a token belongs to, for this store: its hash (the token is never stored).
fn user_key(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn db_error(e: sqlx::Error) -> AppError {
    tracing::error!(error = %e, "API docs store");
    AppError::Internal("The API docs' saved state could not be read or written.".into())
}

/// At most `limit` bytes of `s`, cut at a character boundary.
fn clip(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn row_to_example(r: &sqlx::sqlite::SqliteRow) -> Result<Example, sqlx::Error> {
    Ok(Example {
        id: r.try_get("id")?,
        project_id: r.try_get("project_id")?,
        operation: r.try_get("operation")?,
        name: r.try_get("name")?,
        params: r.try_get("params")?,
        body: r.try_get("body")?,
        note: r.try_get("note")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[async_trait::async_trait]
impl DocsStore for SqliteDocs {
    async fn record_run(&self, token: &str, sent_body: &str, result: &RunResult) {
        let user = user_key(token);
        let recorded = async {
            let mut tx = self.db.begin().await?;
            sqlx::query(
                "INSERT INTO api_runs (user_key, method, path, body, status, micros, response, ran_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&user)
            .bind(&result.method)
            .bind(&result.path)
            .bind(clip(sent_body, RUN_KEEP_LIMIT))
            .bind(i64::from(result.status))
            .bind(i64::try_from(result.micros).unwrap_or(i64::MAX))
            .bind(clip(&result.body, RUN_KEEP_LIMIT))
            .bind(crate::api::now_rfc3339())
            .execute(&mut *tx)
            .await?;
            // Only the newest RUN_HISTORY runs of a user are kept.
            sqlx::query(
                "DELETE FROM api_runs WHERE user_key = ? AND id NOT IN \
                 (SELECT id FROM api_runs WHERE user_key = ? ORDER BY id DESC LIMIT ?)",
            )
            .bind(&user)
            .bind(&user)
            .bind(RUN_HISTORY)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, "a run could not be added to the history");
        }
    }

    async fn state(&self, token: &str, projects: &[String]) -> Result<DocsState, AppError> {
        let user = user_key(token);
        let runs =
            sqlx::query("SELECT * FROM api_runs WHERE user_key = ? ORDER BY id DESC LIMIT ?")
                .bind(&user)
                .bind(RUN_HISTORY)
                .fetch_all(&self.db)
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| {
                    Ok(RunRecord {
                        id: r.try_get("id")?,
                        method: r.try_get("method")?,
                        path: r.try_get("path")?,
                        body: r.try_get("body")?,
                        status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
                        micros: u64::try_from(r.try_get::<i64, _>("micros")?).unwrap_or(0),
                        response: r.try_get("response")?,
                        ran_at: r.try_get("ran_at")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(db_error)?;
        let drafts =
            sqlx::query("SELECT operation, params, body FROM api_drafts WHERE user_key = ?")
                .bind(&user)
                .fetch_all(&self.db)
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| {
                    Ok(Draft {
                        operation: r.try_get("operation")?,
                        params: r.try_get("params")?,
                        body: r.try_get("body")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(db_error)?;
        let mut examples = Vec::new();
        for p in projects {
            let rows = sqlx::query(
                "SELECT * FROM api_examples WHERE project_id = ? ORDER BY operation, name",
            )
            .bind(p)
            .fetch_all(&self.db)
            .await
            .map_err(db_error)?;
            for r in &rows {
                examples.push(row_to_example(r).map_err(db_error)?);
            }
        }
        Ok(DocsState {
            runs,
            drafts,
            examples,
        })
    }

    async fn save_draft(&self, token: &str, draft: Draft) -> Result<(), AppError> {
        sqlx::query(
            "INSERT INTO api_drafts (user_key, operation, params, body, updated_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (user_key, operation) DO UPDATE SET params = excluded.params, \
             body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(user_key(token))
        .bind(&draft.operation)
        .bind(&draft.params)
        .bind(&draft.body)
        .bind(crate::api::now_rfc3339())
        .execute(&self.db)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn save_example(
        &self,
        token: &str,
        example: Example,
        projects: &[String],
    ) -> Result<Example, AppError> {
        // Projects the user cannot see are "not found", exactly like missing ones.
        let not_found = || {
            AppError::NotFound(
                "There is no such project or example among those you can see.".into(),
            )
        };
        if !projects.contains(&example.project_id) {
            return Err(not_found());
        }
        let now = crate::api::now_rfc3339();
        let result = if example.id.is_empty() {
            sqlx::query(
                "INSERT INTO api_examples (id, project_id, operation, name, params, body, note, \
                 created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
            )
            .bind(crate::tokens::new_id())
            .bind(&example.project_id)
            .bind(&example.operation)
            .bind(&example.name)
            .bind(&example.params)
            .bind(&example.body)
            .bind(&example.note)
            .bind(user_key(token))
            .bind(&now)
            .bind(&now)
            .fetch_optional(&self.db)
            .await
        } else {
            // The example must be in a project the user sees, before and after.
            let current: Option<String> =
                sqlx::query_scalar("SELECT project_id FROM api_examples WHERE id = ?")
                    .bind(&example.id)
                    .fetch_optional(&self.db)
                    .await
                    .map_err(db_error)?;
            if !current.is_some_and(|p| projects.contains(&p)) {
                return Err(not_found());
            }
            sqlx::query(
                "UPDATE api_examples SET project_id = ?, operation = ?, name = ?, params = ?, \
                 body = ?, note = ?, updated_at = ? WHERE id = ? RETURNING *",
            )
            .bind(&example.project_id)
            .bind(&example.operation)
            .bind(&example.name)
            .bind(&example.params)
            .bind(&example.body)
            .bind(&example.note)
            .bind(&now)
            .bind(&example.id)
            .fetch_optional(&self.db)
            .await
        };
        match result {
            Ok(Some(row)) => row_to_example(&row).map_err(db_error),
            Ok(None) => Err(not_found()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(AppError::Conflict(format!(
                    "An example named {:?} already exists for this operation in this project.",
                    example.name
                )))
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn delete_example(&self, id: &str, projects: &[String]) -> Result<(), AppError> {
        let project: Option<String> =
            sqlx::query_scalar("SELECT project_id FROM api_examples WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.db)
                .await
                .map_err(db_error)?;
        if !project.is_some_and(|p| projects.contains(&p)) {
            return Err(AppError::NotFound(
                "There is no such example among those you can see.".into(),
            ));
        }
        sqlx::query("DELETE FROM api_examples WHERE id = ?")
            .bind(id)
            .execute(&self.db)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
    }
}
