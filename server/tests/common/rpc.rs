//! Calling the dashboard's server functions as the hydrated page does, and an upstream with
//! a proxy in front of it.

use app::AppError;
use serde_json::Value;

use super::LiveServer;

/// An upstream and a proxy in front of it.
pub fn pair() -> (LiveServer, LiveServer) {
    let upstream = LiveServer::start(&[]);
    let url = format!("http://127.0.0.1:{}/", upstream.port);
    let proxy = LiveServer::start_with_args(&["--upstream", &url], &[]);
    (upstream, proxy)
}

/// A client that shows redirects instead of following them (sign-in answers with one).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Calls a server function as the hydrated page does: a same-origin form POST to `/rpc/...`.
/// Returns the status, the JSON answer and the response's `Set-Cookie` values.
pub async fn rpc(
    server: &LiveServer,
    endpoint: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value, Vec<String>) {
    let mut req = browser()
        .post(server.url(&format!("/rpc/{endpoint}")))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://127.0.0.1:{}", server.port))
        .form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let cookies = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let text = resp.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v, cookies)
}

/// A server function's answer, which must be a success.
pub async fn ok(server: &LiveServer, endpoint: &str, cookie: &str, form: &[(&str, &str)]) -> Value {
    let (status, v, _) = rpc(server, endpoint, Some(cookie), form).await;
    assert_eq!(status, 200, "{endpoint} {form:?}: {v}");
    v
}

/// A server function's error, decoded as the browser decodes it.
pub async fn fails(
    server: &LiveServer,
    endpoint: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> AppError {
    let (status, v, _) = rpc(server, endpoint, Some(cookie), form).await;
    assert_ne!(status, 200, "{endpoint} {form:?} succeeded: {v}");
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not an AppError ({e}): {v}"))
}

/// Signs in through the proxy; returns the session cookie (`snapline_session=...`).
pub async fn sign_in(proxy: &LiveServer, token: &str) -> Result<String, AppError> {
    let (status, v, cookies) = rpc(proxy, "sign_in", None, &[("token", token)]).await;
    if !(200..400).contains(&status) {
        return Err(serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {v}")));
    }
    let cookie = cookies
        .iter()
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|kv| kv.starts_with("snapline_session="))
        })
        .unwrap_or_else(|| panic!("no session cookie: {cookies:?} {v}"))
        .to_string();
    Ok(cookie)
}

/// Posts a plain HTML form (no JavaScript ran) to a server function, as a browser does;
/// the answer must be a redirect. Returns where it sends the browser.
pub async fn plain_form(
    server: &LiveServer,
    endpoint: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> String {
    let resp = browser()
        .post(server.url(&format!("/rpc/{endpoint}")))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://127.0.0.1:{}", server.port))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_redirection(),
        "{endpoint} {form:?}: {}",
        resp.status()
    );
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// A dashboard page as the browser first receives it (server-rendered).
pub async fn page(server: &LiveServer, cookie: &str, path: &str) -> String {
    browser()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
