//! Deleting a project against a real server: only an empty one, only with an admin token,
//! never the last; through REST and the CLI.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::json;

#[tokio::test]
async fn only_an_empty_project_is_deleted() {
    let s = LiveServer::start(&[]);
    s.admin("POST", "/api/v1/projects", Some(json!({"name": "staging"})))
        .await;
    let staging = s.project_id("staging").await;
    let token = s
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "ci", "project_ids": [staging, "default"]})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = s.container(&staging, "web").await;
    let snap = s
        .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let delete = |who: &str| {
        let who = who.to_string();
        let s = &s;
        async move {
            s.call("DELETE", "/api/v1/projects/staging", Some(&who), None)
                .await
        }
    };

    // Not an admin: 403. Holding a container: 409 naming it.
    let (st, v) = delete(&token).await;
    assert_eq!(st, 403, "{v}");
    let (st, v) = delete(ADMIN).await;
    assert_eq!(st, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("still holds the container web; delete it first"),
        "{v}"
    );
    // The container deleted, its snapshot remains: still 409, naming what is left.
    s.admin("DELETE", &format!("/api/v1/containers/{id}"), None)
        .await;
    let (st, v) = delete(ADMIN).await;
    assert_eq!(st, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("snapshots of the deleted container web"),
        "{v}"
    );
    // Nothing left: deleted, by name, with the CLI.
    s.admin(
        "DELETE",
        &format!("/api/v1/containers/{id}/snapshots/{snap}"),
        None,
    )
    .await;
    let out = s.client_ok(&["projects", "delete", "staging"]);
    assert!(out.contains("Deleted project staging"), "{out}");
    let projects = s.admin("GET", "/api/v1/projects", None).await;
    assert!(!projects.to_string().contains("staging"), "{projects}");
    // The scoped token keeps its other project; the deleted container's row went too.
    let (st, v) = s.call("GET", "/api/v1/projects", Some(&token), None).await;
    assert_eq!(st, 200, "{v}");
    let names: Vec<&str> = v["data"]["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default"], "{v}");
    let all = s
        .admin("GET", "/api/v1/containers?include_deleted=true", None)
        .await;
    assert!(!all.to_string().contains(&id), "{all}");

    // Again: 404. The last project: 409.
    let (st, v) = delete(ADMIN).await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = s
        .call("DELETE", "/api/v1/projects/default", Some(ADMIN), None)
        .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("last one"), "{v}");
}
