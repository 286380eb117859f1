//! The first start of an empty data directory makes a demo project with a living timeline,
//! once; `--no-demo` turns it off.

mod common;

use common::{ADMIN, LiveServer};

async fn containers(s: &LiveServer) -> Vec<serde_json::Value> {
    s.admin("GET", "/api/v1/containers", None).await["containers"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn first_start_makes_a_demo_timeline_once() {
    let s = LiveServer::start(&[("SNAPLINE_NO_DEMO", "false")]);
    let list = containers(&s).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let c = &list[0];
    assert_eq!(c["name"], "demo-app");
    let id = c["id"].as_str().unwrap().to_string();
    let projects = s.admin("GET", "/api/v1/projects", None).await;
    let demo = projects["projects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "demo")
        .expect("a demo project");
    assert_eq!(c["project_id"], demo["id"]);

    let snaps = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    let aliases: Vec<&str> = snaps["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["alias"].as_str().unwrap())
        .collect();
    assert_eq!(
        aliases,
        ["after-migration", "before-migration", "fresh-install"]
    );
    // Real history: the migration changed the data, and the live files moved on since.
    let d = s
        .admin(
            "GET",
            &format!(
                "/api/v1/containers/{id}/snapshots/before-migration/diff?against=after-migration"
            ),
            None,
        )
        .await;
    let changed: Vec<&str> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"srv/app/data/users.csv"), "{changed:?}");
    // A new directory is one change (its contents come with it).
    assert!(changed.contains(&"srv/app/migrations"), "{changed:?}");
    let d = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/after-migration/diff?against=live"),
            None,
        )
        .await;
    let config = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "srv/app/config.toml");
    assert_eq!(
        config.map(|c| c["kind"].clone()),
        Some("modified".into()),
        "{d}"
    );
    let restored = s
        .admin(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/fresh-install"),
            None,
        )
        .await;
    assert_eq!(restored["snapshot"]["alias"], "fresh-install");
    assert!(!s.root(&id).join("srv/app/data/users.csv").exists());

    // Deleting the demo is final: a restart does not make it again.
    let (st, v) = s
        .call(
            "DELETE",
            &format!("/api/v1/containers/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let dir = s.kill9();
    let s = LiveServer::start_in(dir, &[("SNAPLINE_NO_DEMO", "false")]);
    let live: Vec<_> = containers(&s)
        .await
        .into_iter()
        .filter(|c| c["status"] != "deleted")
        .collect();
    assert!(live.is_empty(), "{live:?}");
}

#[tokio::test]
async fn no_demo_leaves_an_empty_node_for_good() {
    let s = LiveServer::start(&[("SNAPLINE_NO_DEMO", "true")]);
    assert!(containers(&s).await.is_empty());
    let dir = s.kill9();
    // The first start decided; a later start without the flag does not add a demo.
    let s = LiveServer::start_in(dir, &[("SNAPLINE_NO_DEMO", "false")]);
    assert!(containers(&s).await.is_empty());
}
