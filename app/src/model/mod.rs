//! What the dashboard's server functions carry, and small helpers both sides share (times and
//! sizes are formatted the same on the server and in the browser, so hydration matches).

use serde::{Deserialize, Serialize};

mod docs;
pub use docs::*;
mod outcome;
pub use outcome::*;
mod address;
pub use address::*;
mod container;
pub use container::*;
mod text;
pub use text::*;
#[cfg(feature = "ssr")]
pub mod url_error;

// The dashboard shows the API's own objects: a field added to one of these in `types` reaches
// the pages (and the proxy, which reads them from an upstream) without mapping code.
pub use types::{
    Container, ContainerStatus, DamageInfo, DiffChange, FileEntry, Project, Schedule, ScheduleSpec,
    Snapshot, SnapshotDiff, SnapshotFiles, SnapshotVerified, SystemCheck, SystemStatus,
};

/// An edit of a snapshot's metadata (the body of `PATCH .../metadata`). `None` leaves a field
/// as it is; `Some(None)` clears the alias or pins the snapshot (it never expires);
/// `Some(Some(n))` expires it `n` days from now.
pub type SnapshotChange = types::UpdateSnapshot;

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Admin tokens see every project.
    pub admin: bool,
    pub projects: Vec<Project>,
}

/// A container as the dashboard lists it: the API's own container (`types::Container`, so a
/// field added there shows here without mapping code), plus its project's name and when its
/// newest snapshot was taken. Derefs to the container, so `c.name` reads through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerView {
    /// Flattened: on the wire a card reads like the API's container with two fields more.
    #[serde(flatten)]
    pub container: Container,
    pub project_name: String,
    /// When its newest snapshot was taken.
    pub last_snapshot_at: Option<String>,
}

impl ContainerView {
    /// A card for `container`; its project's name from `projects` (the id when the project
    /// is not among them).
    pub fn new(
        container: Container,
        projects: &[Project],
        last_snapshot_at: Option<String>,
    ) -> ContainerView {
        let project_name = projects
            .iter()
            .find(|p| p.id == container.project_id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| container.project_id.clone());
        ContainerView {
            container,
            project_name,
            last_snapshot_at,
        }
    }
}

impl std::ops::Deref for ContainerView {
    type Target = Container;

    fn deref(&self) -> &Container {
        &self.container
    }
}

/// The Containers page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub identity: Identity,
    /// Live containers.
    pub containers: Vec<ContainerView>,
    /// Deleted containers whose snapshots remain, with those snapshots.
    pub deleted: Vec<(ContainerView, Vec<Snapshot>)>,
    /// The names the create form offers, from [`Overview::image_choices`].
    pub images: Vec<String>,
    /// The server's clock when this was read (relative times are computed against it).
    pub now: String,
    /// Every node serving from the database: with several, each row names its container's
    /// node (filled by the page's server function).
    #[serde(default)]
    pub servers: Vec<ServerChoice>,
}

impl Overview {
    /// What names node `id` when the cluster has several nodes: its host name, with the
    /// start of its id when another node shares that name (several nodes on one machine),
    /// and `(offline)` when it is. `None` on a single node (nothing worth saying) or for an
    /// unknown id.
    pub fn node_label(&self, id: &str) -> Option<String> {
        if self.servers.len() < 2 {
            return None;
        }
        let s = self.servers.iter().find(|s| s.id == id)?;
        let shared = self
            .servers
            .iter()
            .any(|o| o.id != s.id && o.name == s.name);
        let mut label = s.name.clone();
        if shared {
            label = format!("{label} {}", s.id.get(..8).unwrap_or(&s.id));
        }
        if !s.active {
            label.push_str(" (offline)");
        }
        Some(label)
    }

    /// The image names the create form offers: sorted, each once. Projects name their
    /// published images apart, so a token that sees several projects may see one name
    /// twice; creating a container resolves the name in the project chosen.
    pub fn image_choices(images: &[types::Image]) -> Vec<String> {
        let names: std::collections::BTreeSet<&str> =
            images.iter().map(|i| i.name.as_str()).collect();
        names.into_iter().map(str::to_string).collect()
    }
}

/// The timeline page of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    pub container: ContainerView,
    /// Newest first; at most [`CARD_LIMIT`] unless all were asked for.
    pub snapshots: Vec<Snapshot>,
    /// How many snapshots the container has.
    pub total: usize,
    /// Every snapshot, newest first: the axis and the storage chart show them all.
    pub axis: Vec<AxisPoint>,
    /// Where a copy may go.
    pub projects: Vec<Project>,
    pub now: String,
    /// The container's automatic snapshots, if set.
    #[serde(default)]
    pub schedule: Option<Schedule>,
    /// Every node a copy may be built on (the copy dialog offers a choice when there are
    /// several).
    #[serde(default)]
    pub servers: Vec<ServerChoice>,
}

/// A node in the copy dialog's server picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerChoice {
    /// The node id (`target_server` in the REST API).
    pub id: String,
    /// Its host name.
    pub name: String,
    /// Whether it is active (an offline node is shown, but cannot be picked).
    pub active: bool,
    /// Where it serves (`--advertise-url`; empty when unknown): on one host, where every
    /// node has the same name, this tells them apart.
    #[serde(default)]
    pub url: String,
}

impl From<types::Server> for ServerChoice {
    fn from(s: types::Server) -> Self {
        ServerChoice {
            active: s.status == "active",
            id: s.id,
            name: s.name,
            url: s.url,
        }
    }
}

impl ServerChoice {
    /// How the copy dialog's picker offers it: `name (id start) · url`, then whether it is
    /// the container's own node (`here`) and whether it is offline.
    pub fn option_label(&self, here: bool) -> String {
        let mut label = format!("{} ({})", self.name, self.id.get(..8).unwrap_or(&self.id));
        if !self.url.is_empty() {
            label.push_str(&format!(" · {}", self.url));
        }
        if here {
            label.push_str(", this container's");
        }
        if !self.active {
            label.push_str(", offline");
        }
        label
    }
}

/// Changes a diff lists at most (the REST API's default limit).
pub const DIFF_LIMIT: usize = 1000;

/// One event of the live stream, as the browser receives it from the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    /// The REST API's event type (`snapshot.created`, `progress`, ...).
    #[serde(rename = "type")]
    pub kind: types::EventKind,
    pub container_id: Option<String>,
    /// For `progress`: the operation, its phase and counts (the event's `data`).
    #[serde(default)]
    pub progress: Option<types::ProgressData>,
}

impl LiveEvent {
    /// The stream dropped events for a slow reader: the page reloads its data.
    pub fn lagged() -> LiveEvent {
        LiveEvent {
            kind: types::EventKind::Lagged,
            container_id: None,
            progress: None,
        }
    }
}

impl From<&types::Event> for LiveEvent {
    /// The fields of an API event the browser needs to refresh and show progress (the same
    /// for the embedded service's events and an upstream's stream).
    fn from(e: &types::Event) -> Self {
        LiveEvent {
            kind: e.kind,
            container_id: e.container_id.clone(),
            progress: e.progress(),
        }
    }
}

/// One snapshot on the storage chart and the axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxisPoint {
    pub name: String,
    /// Its alias, if it has one (the chart names a snapshot as its card does).
    #[serde(default)]
    pub alias: Option<String>,
    pub created_at: String,
    /// Stored bytes it added when taken.
    pub added_bytes: u64,
    /// Stored bytes deleting it would free, when known.
    pub exclusive_bytes: Option<u64>,
    /// Stored bytes this snapshot and the older ones reach together, when known.
    #[serde(default)]
    pub stored_bytes: Option<u64>,
}

/// A snapshot's point, without `stored_bytes` (only the embedded backend's storage pass
/// knows it).
impl From<&Snapshot> for AxisPoint {
    fn from(s: &Snapshot) -> Self {
        AxisPoint {
            name: s.name.clone(),
            alias: s.alias.clone(),
            created_at: s.created_at.clone(),
            added_bytes: s.added_bytes,
            exclusive_bytes: s.exclusive_bytes,
            stored_bytes: None,
        }
    }
}

/// Cards the timeline renders unless the user asks for all: a page of 1,000 cards with their
/// forms is megabytes of HTML.
pub const CARD_LIMIT: usize = 100;

/// What a restore did, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreOutcome {
    pub restored: Snapshot,
    /// The snapshot of the state before the restore, when one was asked for: "Undo restore"
    /// restores it.
    pub safety: Option<Snapshot>,
    /// The paths a partial restore made exact; `None` for the whole container.
    pub paths: Option<Vec<String>>,
}

/// From the REST answer (the embedded service's and an upstream's alike).
impl From<types::SnapshotRestored> for RestoreOutcome {
    fn from(r: types::SnapshotRestored) -> Self {
        RestoreOutcome {
            restored: r.snapshot,
            safety: r.safety_snapshot,
            paths: r.paths,
        }
    }
}

/// How messages name a snapshot: its alias with its name beside it (`before-ai (snap-…)`),
/// as the cards show it, or its name alone when it has no alias.
pub fn snapshot_label(alias: Option<&str>, name: &str) -> String {
    match alias.map(str::trim).filter(|a| !a.is_empty() && *a != name) {
        Some(a) => format!("{a} ({name})"),
        None => name.to_string(),
    }
}

/// Checks an alias as the server will, so the form can say what is wrong before sending.
pub fn alias_problem(alias: &str) -> Option<String> {
    let n = alias.chars().count();
    if n > 100 {
        return Some(format!(
            "An alias has at most 100 characters; this one has {n}."
        ));
    }
    if alias.chars().any(char::is_control) {
        return Some("An alias cannot contain line breaks or other control characters.".into());
    }
    None
}

#[cfg(test)]
mod tests {

    #[test]
    fn query_bytes_reads_paths_that_are_not_utf8() {
        assert_eq!(
            query_bytes("?path=/data/%FF-x&back=/b", "path").as_deref(),
            Some(b"/data/\xff-x".as_slice())
        );
        assert_eq!(
            query_bytes("path=/a+b%2Bc&path=/last", "path").as_deref(),
            Some(b"/last".as_slice())
        );
        assert_eq!(
            query_bytes("path=/a+b%2Bc", "path").as_deref(),
            Some(b"/a b+c".as_slice())
        );
        assert_eq!(query_bytes("?other=1", "path"), None);
        assert_eq!(normalize_bytes(b"//data///x/"), b"/data/x");
        assert_eq!(normalize_bytes(b""), b"/");
    }

    use super::*;

    #[test]
    fn a_node_is_named_only_among_several_and_told_apart_by_its_id() {
        let node = |id: &str, name: &str, active| ServerChoice {
            id: id.into(),
            name: name.into(),
            active,
            url: String::new(),
        };
        let mut o = Overview {
            identity: Identity {
                admin: true,
                projects: Vec::new(),
            },
            containers: Vec::new(),
            deleted: Vec::new(),
            images: Vec::new(),
            now: String::new(),
            servers: vec![node("aaaaaaaa1111", "alpha", true)],
        };
        assert_eq!(
            o.node_label("aaaaaaaa1111"),
            None,
            "one node: nothing to say"
        );
        o.servers.push(node("bbbbbbbb2222", "beta", false));
        assert_eq!(o.node_label("aaaaaaaa1111").as_deref(), Some("alpha"));
        assert_eq!(
            o.node_label("bbbbbbbb2222").as_deref(),
            Some("beta (offline)")
        );
        assert_eq!(o.node_label("cccccccc"), None, "unknown id");
        o.servers.push(node("cccccccc3333", "alpha", true));
        assert_eq!(
            o.node_label("cccccccc3333").as_deref(),
            Some("alpha cccccccc"),
            "a shared host name gets the id's start"
        );
    }

    #[test]
    fn query_values_are_decoded_once() {
        // What `query_escape` writes reads back as it was, `%` and all.
        for name in ["/srv/t/a%2Fb", "/srv/100%", "/a b/ü+é&x=y", ""] {
            let search = format!("x=1&path={}&y=2", query_escape(name));
            assert_eq!(
                query_value(&search, "path").as_deref(),
                Some(name),
                "{search}"
            );
        }
        assert_eq!(query_value("?a=1&b=%252F", "b").as_deref(), Some("%2F"));
        assert_eq!(query_value("a=1", "b"), None);
    }

    #[test]
    fn aliases_are_checked_like_the_server_does() {
        assert!(alias_problem("before-deploy").is_none());
        assert!(alias_problem(&"x".repeat(101)).unwrap().contains("101"));
        assert!(alias_problem("a\nb").is_some());
    }

    #[test]
    fn only_plain_paths_under_api_v1_may_be_sent() {
        for ok in [
            "/api/v1",
            "/api/v1/health",
            "/api/v1/containers/abc/snapshots/snap-1/files/content",
            "/api/v1/containers/a%20b",
            "/api/v1/containers/x/snapshots/s/verify?deep=true",
            "/api/v1/containers/x/snapshots/s/files?path=/etc/hosts",
            // Odd but harmless: the origin is fixed by the server, so `@` is only a character.
            "/api/v1/@evil.example",
            // Full-width dots are not dots to any URL parser; sent percent-encoded.
            "/api/v1/\u{ff0e}\u{ff0e}/x",
            "/api/v1/containers/x/snapshots/caf%C3%A9",
        ] {
            assert_eq!(api_path_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "/",
            "/api",
            "/api/v2/health",
            "/api/v1x",
            "api/v1/health",
            "http://evil.example/api/v1/health",
            "//evil.example/api/v1/health",
            "/api/v1/../v2",
            "/api/v1/containers/..",
            "/api/v1/./health",
            "/api/v1/%2e%2e/x",
            "/api/v1/%2E%2E/x",
            "/api/v1/.%2e/x",
            "/api/v1/containers%2F..%2Fx",
            "/api/v1/a\\..\\b",
            "/api/v1//health",
            "/api/v1/%5c",
            "/api/v1/health%00",
            "/api/v1/health#x",
            "/api/v1/he alth",
            "/api/v1/health\n",
            "/api/v1/health?a=1?b=2",
            // More of the SSRF corpus: schemes, hosts, encodings, Unicode look-alikes.
            "https://evil.example/api/v1/health",
            "file:///etc/passwd",
            "gopher://127.0.0.1:6379/_INFO",
            "\\\\evil.example\\api\\v1",
            "/\\evil.example/api/v1/health",
            "/api/v1/%2f%2fevil.example",
            "/api/v1/%252e%252e/%2e%2e/x",
            "/api/v1/%c0%ae%c0%ae/x",
            "/api/v1/health\r\nHost: evil.example",
            "/api/v1/health\t",
            "/api/v1/\u{0}",
            "/api/v1/containers/x/snapshots?path=%2e%2e",
            "/api/v1/containers/x/..;/y",
            "/api/v1/..;/health",
            "/api/v1/containers/x?next=http://evil.example#",
            " /api/v1/health",
            "/API/V1/health",
            "/api/v1/.",
            "/rpc/sign_out",
            "/download/x/y",
        ] {
            assert!(api_path_problem(bad).is_some(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// Whatever an accepted path is, a URL parser joining it to the upstream keeps the
        /// upstream's host and port and a path under /api/v1, and decoding it once (as a
        /// server does) leaves no dot segment and no way out of /api/v1.
        #[test]
        fn accepted_paths_stay_on_the_api(
            prefix in proptest::sample::select(vec!["/api/v1", "/api/v1/", "/api/", "", "/", "//", "http:"]),
            tail in "[a-z0-9./\\\\%?#@:;_~ -]{0,24}|(%[0-9a-fA-F]{2}|[./\\\\]|\\.\\.|[a-z]){0,12}",
        ) {
            let path = format!("{prefix}{tail}");
            if api_path_problem(&path).is_none() {
                let base = url::Url::parse("http://upstream.internal:3000/").unwrap();
                let joined = base.join(&path).unwrap();
                proptest::prop_assert_eq!(joined.host_str(), Some("upstream.internal"), "{}", path);
                proptest::prop_assert_eq!(joined.port(), Some(3000), "{}", path);
                let p = joined.path();
                proptest::prop_assert!(p == "/api/v1" || p.starts_with("/api/v1/"), "{} -> {}", path, p);
                let (route, _) = path.split_once('?').unwrap_or((&path, ""));
                let bytes: Vec<u8> = {
                    let mut out = Vec::new();
                    let b = route.as_bytes();
                    let mut i = 0;
                    while i < b.len() {
                        if b[i] == b'%' {
                            out.push(u8::from_str_radix(&route[i + 1..i + 3], 16).unwrap());
                            i += 3;
                        } else {
                            out.push(b[i]);
                            i += 1;
                        }
                    }
                    out
                };
                let decoded = String::from_utf8(bytes).unwrap();
                proptest::prop_assert!(decoded.starts_with("/api/v1"), "{}", decoded);
                proptest::prop_assert!(
                    !decoded.split(['/', '\\']).any(|s| s == ".." || s == "."),
                    "{} decodes to {}", path, decoded
                );
            }
        }
    }

    #[test]
    fn run_requests_are_checked_before_sending() {
        let req = |m: &str, p: &str, b: Option<&str>| RunRequest {
            method: m.into(),
            path: p.into(),
            body: b.map(str::to_string),
        };
        assert_eq!(
            run_request_problem(&req("GET", "/api/v1/health", None)),
            None
        );
        assert!(run_request_problem(&req("TRACE", "/api/v1/health", None)).is_some());
        assert!(run_request_problem(&req("GET", "/api/v1/../x", None)).is_some());
        let big = "x".repeat(RUN_BODY_LIMIT + 1);
        assert!(
            run_request_problem(&req("POST", "/api/v1/containers", Some(&big)))
                .unwrap()
                .contains("KiB")
        );
    }

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("/etc/a b&c=d?"), "/etc/a%20b%26c%3Dd%3F");
        assert_eq!(query_escape("/é"), "/%C3%A9");
    }
}
