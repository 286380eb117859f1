//! The API docs page's model of the REST API: the OpenAPI document flattened into one summary
//! per operation (for either backend: ours, or an upstream's document read as JSON).

use app::model::EndpointSummary;

/// Response headers as the Run widget lists them.
pub fn header_list(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Flattens an OpenAPI document into one summary per operation, in document order.
pub fn endpoints_of(doc: &utoipa::openapi::OpenApi) -> Vec<EndpointSummary> {
    serde_json::to_value(doc)
        .map(|v| endpoints_of_json(&v))
        .unwrap_or_default()
}

/// Flattens an OpenAPI document read as plain JSON (ours, or a Hoody-compatible server's that
/// the typed model may not read): one summary per operation, with its parameters, request
/// example and schema, and answers.
pub fn endpoints_of_json(doc: &serde_json::Value) -> Vec<EndpointSummary> {
    use serde_json::Value;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).ok();
    // `{"$ref": "#/components/schemas/X"}` → the schema X itself, with every reference in it
    // inlined too, so the schema shown is whole and the Run widget can validate a body
    // against it alone; an optional body (`oneOf: [null, {"$ref": ...}]`) → the referenced
    // schema.
    let resolve = |v: &Value| -> Value {
        let optional = v["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|alt| alt["$ref"].is_string());
        inline_refs(optional.unwrap_or(v), doc, 0)
    };
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| app::model::ParamDoc {
                    name: text(&p["name"]),
                    location: text(&p["in"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: text(&p["description"]),
                    description_html: super::markdown::to_inline_html(&text(&p["description"])),
                    example: match &p["example"] {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    },
                })
                .collect();
            let json_body = &op["requestBody"]["content"]["application/json"];
            let schema = resolve(&json_body["schema"]);
            let example = [&json_body["example"], &schema["example"]]
                .into_iter()
                .find(|e| !e.is_null())
                .and_then(pretty);
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| {
                    let what = super::markdown::to_inline_html(&text(&r["description"]));
                    (status.clone(), what)
                })
                .collect();
            let response_schemas = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(status, r)| {
                    let schema = &r["content"]["application/json"]["schema"];
                    (!schema.is_null())
                        .then(|| pretty(&resolve(schema)))
                        .flatten()
                        .map(|s| (status.clone(), s))
                })
                .collect();
            out.push(EndpointSummary {
                tag: op["tags"][0].as_str().unwrap_or("Other").to_string(),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                summary_html: super::markdown::to_inline_html(&text(&op["summary"])),
                description: text(&op["description"]),
                description_html: super::markdown::to_html(&text(&op["description"])),
                parameters,
                request_example: example,
                request_schema: (!schema.is_null()).then(|| pretty(&schema)).flatten(),
                responses,
                response_schemas,
                secured: op["security"].as_array().is_some_and(|s| !s.is_empty()),
            });
        }
    }
    out
}

/// `v` with every `#/components/schemas/...` reference replaced by the schema it names.
/// Nesting deeper than 16 references (only a recursive type gets there) becomes `{}`,
/// which accepts anything: the API itself still checks such a body.
fn inline_refs(v: &serde_json::Value, doc: &serde_json::Value, depth: u8) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if depth >= 16 {
                    return Value::Object(Default::default());
                }
                return inline_refs(&doc["components"]["schemas"][name], doc, depth + 1);
            }
            Value::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), inline_refs(x, doc, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|x| inline_refs(x, doc, depth)).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi;

    #[test]
    fn every_documented_operation_is_listed() {
        let list = endpoints_of(&crate::http::ApiDoc::openapi());
        assert!(
            list.iter()
                .any(|e| e.method == "GET" && e.path == "/api/v1/health" && e.tag == "System")
        );
        assert!(list.iter().all(|e| !e.summary.is_empty()), "{list:?}");
        let create = list
            .iter()
            .find(|e| e.method == "POST" && e.path == "/api/v1/containers/{container_id}/snapshots")
            .expect("create snapshot is documented");
        assert!(create.secured);
        assert!(
            create
                .parameters
                .iter()
                .any(|p| p.name == "container_id" && p.location == "path" && p.required)
        );
        assert!(
            create
                .request_example
                .as_deref()
                .is_some_and(|e| e.contains("alias")),
            "{create:?}"
        );
        assert!(
            create
                .request_schema
                .as_deref()
                .is_some_and(|s| s.contains("expiry")),
            "{create:?}"
        );
        assert!(
            create.responses.iter().any(|(s, _)| s == "401"),
            "{create:?}"
        );
    }

    #[test]
    fn openapi_documents_flatten_from_plain_json_too() {
        // An older, hand-written document: no components, no security.
        let doc = serde_json::json!({"openapi": "3.0.0", "paths": {"/api/v1/health": {"get": {
            "tags": ["System"], "summary": "Health",
            "responses": {"200": {"description": "ok"}}}}}});
        let list = endpoints_of_json(&doc);
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].method.as_str(), list[0].secured), ("GET", false));
        assert_eq!(
            list[0].responses,
            vec![("200".to_string(), "ok".to_string())]
        );
    }
}
