//! The S3 pack storage against a real S3 server: Garage on 127.0.0.1, started by
//! `.ci/garage.sh` (`SNAPLINE_TEST_S3` and the `AWS_*` variables). Each test has a prefix of
//! its own in the test bucket, and a database of its own (SQLite, or PostgreSQL in that pass).

mod common;

use std::path::Path;
use std::sync::Arc;

use engine::s3::{S3Options, S3PackStorage};
use engine::storage::PackStorage;
use engine::{
    ContainerId, CopySource, Engine, EngineError, RootSource, SnapshotOptions, StoreConfig,
};

/// The fail point one test sets (`s3::after_upload`) is process-wide: the tests of this
/// file run one at a time, so no other test's upload meets it.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn id(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

/// The test's S3 options, with the cache under `dir/cache`; `None` (the test returns) only
/// when no test bucket is configured and the runner did not require one.
fn s3(dir: &Path) -> Option<S3Options> {
    engine::s3::scratch_options(&dir.join("cache"))
}

/// Opens an engine on `dir/data` and the database `db_dir/meta.db`, with packs in `opts`.
async fn open(dir: &Path, db_dir: &Path, opts: &S3Options) -> Result<Engine, EngineError> {
    let store = StoreConfig::S3(S3Options {
        cache_dir: dir.join("cache"),
        ..opts.clone()
    });
    Engine::open_with(&dir.join("data"), common::pool(db_dir).await, &store).await
}

/// The bucket itself, for checking what is (and is not) in it.
fn bucket() -> object_store::aws::AmazonS3 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = std::env::var(engine::s3::TEST_S3_ENV).unwrap();
    object_store::aws::AmazonS3Builder::from_env()
        .with_url(url)
        .build()
        .unwrap()
}

async fn keys_under(prefix: &str) -> Vec<String> {
    use futures_util::TryStreamExt;
    use object_store::ObjectStore;
    let prefix = object_store::path::Path::from(prefix);
    bucket()
        .list(Some(&prefix))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap()
}

fn prefix_of(opts: &S3Options) -> String {
    engine::s3::parse_url(&opts.url).unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_contract_holds_on_garage_and_packs_exist_only_through_rows() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    let db = common::pool(tmp.path()).await;
    engine::migrate(&db).await.unwrap();
    let storage = Arc::new(S3PackStorage::connect(&opts, db.clone()).await.unwrap());
    let s = storage.clone();
    tokio::task::spawn_blocking(move || engine::storage::check_contract(s.as_ref()))
        .await
        .unwrap();
    // What the contract left: one tree pack, listed by its row, and the marker.
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, kind, size FROM packs WHERE deleted_at IS NULL")
            .fetch_all(&db)
            .await
            .unwrap();
    let b = engine::ObjectId::of(b"pack b");
    assert_eq!(rows, vec![(b.to_hex(), "tree".to_string(), 6)]);
    let prefix = prefix_of(&opts);
    let mut keys = keys_under(&prefix).await;
    keys.sort();
    let hex = b.to_hex();
    assert_eq!(
        keys,
        vec![
            format!("{prefix}packs/tree/{}/{hex}", &hex[..2]),
            format!("{prefix}snapline-store.json"),
        ]
    );
    // An object in the bucket without a row is not part of the store.
    let stray = engine::ObjectId::of(b"stray");
    let shex = stray.to_hex();
    object_store::ObjectStoreExt::put(
        &bucket(),
        &object_store::path::Path::from(format!("{prefix}packs/data/{}/{shex}", &shex[..2])),
        b"stray".to_vec().into(),
    )
    .await
    .unwrap();
    let s = storage.clone();
    let (listed, read) =
        tokio::task::spawn_blocking(move || (s.list().unwrap(), s.read_all(&stray)))
            .await
            .unwrap();
    assert_eq!(listed, vec![b]);
    assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    let stats = storage.stats();
    assert!(
        stats.puts >= 3 && stats.gets >= 1 && stats.bytes_up >= 18,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_on_one_node_restores_exactly_on_another_with_a_cold_cache() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let image = tmp.path().join("image");
    std::fs::create_dir(&image).unwrap();
    common::build_fixture(&image);

    // Node A: a container, a snapshot, a change, an incremental snapshot.
    let ea = open(&a, tmp.path(), &opts).await.unwrap();
    ea.create_root(&id(1), RootSource::Directory(image.clone()))
        .await
        .unwrap();
    let root = ea.root_path(&id(1));
    let s1 = ea
        .snapshot(
            &id(1),
            SnapshotOptions {
                alias: Some("before".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = common::describe(&root);
    std::fs::write(root.join("added.bin"), common::noise(3 << 20, 9)).unwrap();
    std::fs::remove_file(root.join("etc/hostname")).ok();
    let up_before = ea.s3_stats().unwrap().bytes_up;
    let s2 = ea
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let after = common::describe(&root);
    let up = ea.s3_stats().unwrap().bytes_up - up_before;
    assert!(
        up < (3 << 20) + 400_000,
        "the incremental snapshot uploaded {up} bytes for a 3 MiB change"
    );
    assert!(up >= s2.added_bytes, "{up} < {}", s2.added_bytes);
    drop(ea); // Node A is gone; its disk is not used again.

    // Node B: another data directory, an empty cache, the same database and bucket.
    let eb = open(&b, tmp.path(), &opts).await.unwrap();
    assert_eq!(eb.remote_store(), Some(opts.url.as_str()));
    eb.copy(&id(1), CopySource::Snapshot("before".into()), &id(2))
        .await
        .unwrap();
    assert_eq!(common::describe(&eb.root_path(&id(2))), before);
    eb.copy(&id(1), CopySource::Snapshot(s2.name.clone()), &id(3))
        .await
        .unwrap();
    assert_eq!(common::describe(&eb.root_path(&id(3))), after);
    let downloaded = eb.s3_stats().unwrap();
    assert!(downloaded.bytes_down > 3 << 20, "{downloaded:?}");
    // The packs are now in B's cache: another copy downloads nothing.
    eb.copy(&id(1), CopySource::Snapshot(s1.name.clone()), &id(4))
        .await
        .unwrap();
    assert_eq!(common::describe(&eb.root_path(&id(4))), before);
    assert_eq!(eb.s3_stats().unwrap().bytes_down, downloaded.bytes_down);
    let report = eb.verify(true).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.snapshots, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_go_to_tree_packs_and_a_restart_reads_footers_from_the_cache() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    let image = tmp.path().join("image");
    std::fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let e = open(tmp.path(), tmp.path(), &opts).await.unwrap();
    e.create_root(&id(1), RootSource::Directory(image))
        .await
        .unwrap();
    e.snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let db = common::pool(tmp.path()).await;
    let packs: Vec<(String, String)> =
        sqlx::query_as("SELECT id, kind FROM packs WHERE deleted_at IS NULL")
            .fetch_all(&db)
            .await
            .unwrap();
    let trees = packs.iter().filter(|(_, k)| k == "tree").count();
    // One tree pack per writer: the root's creation and the snapshot.
    assert!((1..=2).contains(&trees), "{packs:?}");
    assert!(packs.len() > trees, "data packs too: {packs:?}");
    let prefix = prefix_of(&opts);
    for (id, kind) in &packs {
        let key = format!("{prefix}packs/{kind}/{}/{id}", &id[..2]);
        let bytes = object_store::ObjectStoreExt::get(&bucket(), &key.as_str().into())
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let want = if kind == "tree" {
            engine::pack::ObjectKind::Tree
        } else {
            engine::pack::ObjectKind::Chunk
        };
        let entries = engine::pack::read_footer(id, &bytes).unwrap();
        assert!(entries.iter().all(|e| e.kind == want), "{kind} pack {id}");
    }
    drop(e);
    // Restart on the same node: every footer is in the cache, so the open reads nothing.
    let e = open(tmp.path(), tmp.path(), &opts).await.unwrap();
    assert_eq!(e.s3_stats().unwrap().gets, 1, "only the marker is read");
    let report = e.verify(false).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_without_its_row_is_invisible_and_the_snapshot_fails_cleanly() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    let image = tmp.path().join("image");
    std::fs::create_dir(&image).unwrap();
    std::fs::write(image.join("file"), common::noise(100_000, 3)).unwrap();
    let scenario = fail::FailScenario::setup();
    let e = open(tmp.path(), tmp.path(), &opts).await.unwrap();
    fail::cfg("s3::after_upload", "return").unwrap();
    let made = e
        .create_root(&id(1), RootSource::Directory(image.clone()))
        .await;
    fail::remove("s3::after_upload");
    scenario.teardown();
    assert!(made.is_err(), "the store failed, so the creation must fail");
    drop(e);
    let prefix = prefix_of(&opts);
    let uploaded = keys_under(&format!("{prefix}packs")).await;
    assert!(!uploaded.is_empty(), "the upload itself happened");
    let e = open(tmp.path(), tmp.path(), &opts).await.unwrap();
    let db = common::pool(tmp.path()).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM packs")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 0, "no row, so no pack");
    // The retry stores the same packs again and works.
    e.create_root(&id(1), RootSource::Directory(image.clone()))
        .await
        .unwrap();
    let s = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    e.copy(&id(1), CopySource::Snapshot(s.name), &id(2))
        .await
        .unwrap();
    assert_eq!(
        common::describe(&e.root_path(&id(2))),
        common::describe(&image)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_belongs_to_one_cluster_and_a_database_to_one_store() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    let (one, two, local) = (
        tmp.path().join("one"),
        tmp.path().join("two"),
        tmp.path().join("local"),
    );
    for d in [&one, &two, &local] {
        std::fs::create_dir_all(d).unwrap();
    }
    drop(open(&one, &one, &opts).await.unwrap());
    // Another database (another cluster) on the same bucket and prefix.
    let e = open(&two, &two, &opts).await.err().unwrap().to_string();
    assert!(e.contains("belongs to another Snapline cluster"), "{e}");
    // The first cluster's database on another prefix, and without S3.
    let moved = S3Options {
        url: format!("{}-moved", opts.url),
        ..opts.clone()
    };
    let e = open(&one, &one, &moved).await.err().unwrap().to_string();
    assert!(
        e.contains("keeps its packs in") && e.contains(&opts.url),
        "{e}"
    );
    let e = Engine::open(&one.join("data"), common::pool(&one).await)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("--store"), "{e}");
    // A database with local snapshots cannot switch to S3.
    let image = tmp.path().join("image");
    std::fs::create_dir(&image).unwrap();
    std::fs::write(image.join("f"), b"x").unwrap();
    let l = common::open_engine(&local).await;
    l.create_root(&id(1), RootSource::Directory(image))
        .await
        .unwrap();
    l.snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    drop(l);
    let fresh = S3Options {
        url: format!("{}-fresh", opts.url),
        ..opts.clone()
    };
    let e = open(&local, &local, &fresh)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("local store"), "{e}");
    // A marker that is not Snapline's, and a bucket emptied under a database that lists packs.
    let foreign = S3Options {
        url: format!("{}-foreign", opts.url),
        ..opts.clone()
    };
    object_store::ObjectStoreExt::put(
        &bucket(),
        &object_store::path::Path::from(format!("{}snapline-store.json", prefix_of(&foreign))),
        b"hello".to_vec().into(),
    )
    .await
    .unwrap();
    let e = open(&two, &two, &foreign).await.err().unwrap().to_string();
    assert!(e.contains("not a Snapline store marker"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_misconfigured_server_is_named_at_start() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = S3Options {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        ..opts.clone()
    };
    let e = open(tmp.path(), tmp.path(), &down)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("cannot reach the S3 store") && e.contains(&format!("127.0.0.1:{port}")),
        "{e}"
    );
    let wrong_key = S3Options {
        secret_access_key: Some("not-the-secret".into()),
        ..opts.clone()
    };
    let e = open(tmp.path(), tmp.path(), &wrong_key)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
    let bad = S3Options {
        url: "s3://No_Such".into(),
        ..opts.clone()
    };
    let e = open(tmp.path(), tmp.path(), &bad)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a valid bucket name"), "{e}");
}

/// Garage stores a second "create-only" PUT (`If-None-Match: *`) instead of refusing it
/// (verified in SCALE-OUT.md). Snapline never relies on it: packs are content-addressed
/// and made visible by their rows. This test keeps that fact in view; if a Garage release
/// starts refusing, it fails and this note can go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_ignores_create_only_puts_which_snapline_never_relies_on() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = s3(tmp.path()) else { return };
    use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions};
    let key = object_store::path::Path::from(format!("{}probe", prefix_of(&opts)));
    let b = bucket();
    let create = || PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    b.put_opts(&key, b"first".to_vec().into(), create())
        .await
        .unwrap();
    let second = b.put_opts(&key, b"second".to_vec().into(), create()).await;
    assert!(
        second.is_ok(),
        "Garage now refuses create-only PUTs: {second:?}"
    );
    let got = b.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"second");
}
