//! The API docs page's saved state in this node's SQLite: run history and drafts per user,
//! examples per project (see the migration `api_docs`).

use app::AppError;
use app::backend::DocsStore;
use app::model::{
    DocsState, Draft, Example, RUN_FULL_KEPT, RUN_HISTORY, RUN_KEEP_LIMIT, RUN_SHOW_LIMIT,
    RunRecord, RunResult,
};
use engine::DbPool;
use sqlx::Row;

/// The store over the node's database.
pub struct SqliteDocs {
    db: DbPool,
}

impl SqliteDocs {
    pub fn new(db: DbPool) -> Self {
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

/// A history row (with the truncated answer).
fn row_to_run(r: &engine::DbRow) -> Result<RunRecord, sqlx::Error> {
    let headers: String = r.try_get("headers")?;
    Ok(RunRecord {
        id: r.try_get("id")?,
        operation: r.try_get("operation")?,
        params: r.try_get("params")?,
        method: r.try_get("method")?,
        path: r.try_get("path")?,
        body: r.try_get("body")?,
        status: u16::try_from(r.try_get::<i64, _>("status")?).unwrap_or(0),
        micros: u64::try_from(r.try_get::<i64, _>("micros")?).unwrap_or(0),
        // Written by this store from a Vec of pairs; anything else reads as no headers.
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        response: r.try_get("response")?,
        ran_at: r.try_get("ran_at")?,
    })
}

fn row_to_example(r: &engine::DbRow) -> Result<Example, sqlx::Error> {
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
    async fn record_run(
        &self,
        token: &str,
        operation: &str,
        params: &str,
        sent_body: &str,
        result: &RunResult,
    ) -> Option<i64> {
        let user = user_key(token);
        let headers = serde_json::to_string(&result.headers).unwrap_or_else(|_| "[]".into());
        let recorded = async {
            let mut tx = engine::db::begin_write(&self.db).await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO api_runs (user_key, operation, params, method, path, body, status, \
                 micros, headers, response, full_response, ran_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            )
            .bind(&user)
            .bind(operation)
            .bind(params)
            .bind(&result.method)
            .bind(&result.path)
            // Kept whole (at most RUN_BODY_LIMIT, checked before sending) for replays.
            .bind(sent_body)
            .bind(i64::from(result.status))
            .bind(i64::try_from(result.micros).unwrap_or(i64::MAX))
            .bind(&headers)
            .bind(clip(&result.body, RUN_KEEP_LIMIT))
            .bind(clip(&result.body, RUN_SHOW_LIMIT))
            .bind(crate::http::now_rfc3339())
            .fetch_one(&mut *tx)
            .await?;
            // Only the newest RUN_HISTORY runs of a user are kept, and only the newest
            // RUN_FULL_KEPT of them keep their whole answer: a history of 200 large answers
            // would otherwise grow by up to 50 MiB per user.
            sqlx::query(
                "DELETE FROM api_runs WHERE user_key = $1 AND id NOT IN \
                 (SELECT id FROM api_runs WHERE user_key = $2 ORDER BY id DESC LIMIT $3)",
            )
            .bind(&user)
            .bind(&user)
            .bind(RUN_HISTORY)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE api_runs SET full_response = NULL WHERE user_key = $1 \
                 AND full_response IS NOT NULL AND id NOT IN \
                 (SELECT id FROM api_runs WHERE user_key = $2 ORDER BY id DESC LIMIT $3)",
            )
            .bind(&user)
            .bind(&user)
            .bind(RUN_FULL_KEPT)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(id)
        }
        .await;
        match recorded {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::warn!(error = %e, "a run could not be added to the history");
                None
            }
        }
    }

    async fn run(&self, token: &str, id: i64) -> Result<Option<RunRecord>, AppError> {
        let row = sqlx::query("SELECT * FROM api_runs WHERE user_key = $1 AND id = $2")
            .bind(user_key(token))
            .bind(id)
            .fetch_optional(&self.db)
            .await
            .map_err(db_error)?;
        row.map(|r| {
            let mut run = row_to_run(&r)?;
            if let Some(full) = r.try_get::<Option<String>, _>("full_response")? {
                run.response = full;
            }
            Ok(run)
        })
        .transpose()
        .map_err(db_error)
    }

    async fn state(&self, token: &str, projects: &[String]) -> Result<DocsState, AppError> {
        let user = user_key(token);
        let runs = sqlx::query(
            "SELECT id, operation, params, method, path, body, status, micros, headers, \
                 response, ran_at FROM api_runs WHERE user_key = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(&user)
        .bind(RUN_HISTORY)
        .fetch_all(&self.db)
        .await
        .map_err(db_error)?
        .iter()
        .map(row_to_run)
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(db_error)?;
        let drafts =
            sqlx::query("SELECT operation, params, body FROM api_drafts WHERE user_key = $1")
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
                "SELECT * FROM api_examples WHERE project_id = $1 ORDER BY operation, name",
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
            "INSERT INTO api_drafts (user_key, operation, params, body, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_key, operation) DO UPDATE SET params = excluded.params, \
             body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(user_key(token))
        .bind(&draft.operation)
        .bind(&draft.params)
        .bind(&draft.body)
        .bind(crate::http::now_rfc3339())
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
        let now = crate::http::now_rfc3339();
        let result = if example.id.is_empty() {
            sqlx::query(
                "INSERT INTO api_examples (id, project_id, operation, name, params, body, note, \
                 created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
            )
            .bind(service::tokens::new_id())
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
                sqlx::query_scalar("SELECT project_id FROM api_examples WHERE id = $1")
                    .bind(&example.id)
                    .fetch_optional(&self.db)
                    .await
                    .map_err(db_error)?;
            if !current.is_some_and(|p| projects.contains(&p)) {
                return Err(not_found());
            }
            sqlx::query(
                "UPDATE api_examples SET project_id = $1, operation = $2, name = $3, params = $4, \
                 body = $5, note = $6, updated_at = $7 WHERE id = $8 RETURNING *",
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
            sqlx::query_scalar("SELECT project_id FROM api_examples WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.db)
                .await
                .map_err(db_error)?;
        if !project.is_some_and(|p| projects.contains(&p)) {
            return Err(AppError::NotFound(
                "There is no such example among those you can see.".into(),
            ));
        }
        sqlx::query("DELETE FROM api_examples WHERE id = $1")
            .bind(id)
            .execute(&self.db)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn clear_runs(&self, token: &str) -> Result<u64, AppError> {
        self.delete_users_rows("DELETE FROM api_runs WHERE user_key = $1", token)
            .await
    }

    async fn clear_drafts(&self, token: &str) -> Result<u64, AppError> {
        self.delete_users_rows("DELETE FROM api_drafts WHERE user_key = $1", token)
            .await
    }
}

impl SqliteDocs {
    /// Runs `sql` (a `DELETE … WHERE user_key = ?`) for `token`'s user; how many rows went.
    async fn delete_users_rows(&self, sql: &'static str, token: &str) -> Result<u64, AppError> {
        let done = sqlx::query(sql)
            .bind(user_key(token))
            .execute(&self.db)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
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
