//! Fuzzing the REST API's JSON bodies against a live server: every operation that takes a
//! JSON body (from the served OpenAPI document, so new ones are covered) gets arbitrary JSON,
//! arbitrary text and mutations of its own documented example. The server must answer each
//! with a JSON envelope and a status below 500, and the store must verify clean afterwards.
//! `SNAPLINE_FUZZ_CASES` raises the case count for a campaign.

mod common;

use common::{ADMIN, LiveServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!("../../../etc/passwd")),
        Just(json!("x".repeat(5000))),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("alias".to_string()),
                    Just("expiry".to_string()),
                    Just("name".to_string()),
                    Just("project_id".to_string()),
                    Just("image".to_string()),
                    Just("command".to_string()),
                    Just("schedule".to_string()),
                    Just("safety_snapshot".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A body: JSON, text that is not JSON, or a mutation of the operation's example.
fn body(example: String) -> impl Strategy<Value = String> {
    let example_bytes = example.into_bytes();
    prop_oneof![
        4 => any_json().prop_map(|v| v.to_string()),
        1 => proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        3 => proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
            .prop_map(move |flips| {
                let mut b = example_bytes.clone();
                if !b.is_empty() {
                    for (at, x) in flips {
                        let i = at.index(b.len());
                        b[i] ^= x | 1;
                    }
                }
                String::from_utf8_lossy(&b).into_owned()
            }),
    ]
}

#[test]
fn json_bodies_never_crash_the_api_or_hurt_the_store() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s =
        LiveServer::start_with_args(&["--rate-limit", "100000", "--rate-burst", "1000000"], &[]);
    let (id, name, doc) = rt.block_on(async {
        let id = s.container("default", "fuzzed").await;
        std::fs::write(s.root(&id).join("keep"), "precious").unwrap();
        let snap = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots"),
                Some(json!({"alias": "keep"})),
            )
            .await;
        let name = snap["snapshot"]["name"].as_str().unwrap().to_string();
        let doc = reqwest::get(s.url("/api/v1/openapi.json"))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        (id, name, doc)
    });
    // Every operation with a JSON body, its path filled with the real container and
    // snapshot, and its documented example.
    let mut ops: Vec<(String, String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["post", "put", "patch"] {
            let op = &item[method];
            let content = &op["requestBody"]["content"]["application/json"];
            if !content.is_object() {
                continue;
            }
            let example = content["example"].to_string();
            let filled = path
                .replace("{container_id}", &id)
                .replace("{snapshot_name}", &name)
                .replace("{token_id}", "0123456789abcdef01234567")
                .replace("{server_id}", "local");
            ops.push((method.to_uppercase(), filled, example));
        }
    }
    assert!(ops.len() >= 8, "{ops:?}");
    let cases = std::env::var("SNAPLINE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::sample::select(ops.clone())
        .prop_flat_map(|(m, p, example)| (Just(m), Just(p), body(example)));
    let client = reqwest::Client::new();
    let by_status = std::cell::RefCell::new(std::collections::BTreeMap::<u16, u32>::new());
    let result = runner.run(&strategy, |(method, path, body)| {
        let (status, text) = rt.block_on(async {
            let r = client
                .request(method.parse().unwrap(), s.url(&path))
                .bearer_auth(ADMIN)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        });
        *by_status.borrow_mut().entry(status).or_default() += 1;
        if status >= 500 {
            return Err(TestCaseError::fail(format!(
                "{method} {path} {body:?} -> {status}: {text}"
            )));
        }
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            TestCaseError::fail(format!("{method} {path} {body:?}: not JSON ({e}): {text}"))
        })?;
        prop_assert_eq!(
            v["statusCode"].as_u64(),
            Some(u64::from(status)),
            "{}",
            text
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}\nserver log:\n{}", s.log());
    }
    // The snapshot taken before the fuzzing still verifies and still holds its file.
    rt.block_on(async {
        let report = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots/{name}/verify?deep=true"),
                None,
            )
            .await;
        assert_eq!(report["clean"], true, "{report}");
    });
    println!(
        "{cases} fuzzed bodies over {} operations; answers by status: {by_status:?}",
        ops.len()
    );
}
