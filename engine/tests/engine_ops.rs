//! The engine's commands on real directories and a real SQLite file.

mod common;

use common::{open_engine as open, try_open_engine as open_result};

use std::path::Path;
use std::time::Duration;

use engine::{ContainerId, CopySource, Engine, EngineError, RootSource, SnapshotOptions};

fn id(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

async fn fixture_engine(tmp: &Path) -> (Engine, std::path::PathBuf) {
    let image = tmp.join("image");
    std::fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let e = open(tmp).await;
    e.create_root(&id(1), RootSource::Directory(image.clone()))
        .await
        .unwrap();
    (e, image)
}

#[tokio::test]
async fn create_snapshot_copy_round_trip_and_incremental_storage() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, image) = fixture_engine(tmp.path()).await;
    let root = e.root_path(&id(1));
    assert_eq!(
        common::describe(&image),
        common::describe(&root),
        "root made from the image"
    );

    let s1 = e
        .snapshot(
            &id(1),
            SnapshotOptions {
                alias: Some("before".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(s1.name.starts_with("snap-"), "{}", s1.name);
    assert!(s1.size > 3_000_000, "{s1:?}");
    // The image's objects were already stored when the root was made.
    assert!(s1.added_bytes < 100_000, "{s1:?}");
    let before = common::describe(&root);

    // Change one small file and add 1 MiB.
    std::fs::write(root.join("etc/hostname-new"), b"changed").unwrap();
    std::fs::write(root.join("added.bin"), common::noise(1 << 20, 77)).unwrap();
    let s2 = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    assert!(
        s2.added_bytes < (1 << 20) + 200_000,
        "incremental stored {} bytes",
        s2.added_bytes
    );
    assert_ne!(s1.name, s2.name);

    let list = e.list(&id(1)).await.unwrap();
    assert_eq!(
        list.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        vec![s2.name.clone(), s1.name.clone()]
    );

    // Copy from the first snapshot, by alias: exactly the tree as it was.
    e.copy(&id(1), CopySource::Snapshot("before".into()), &id(2))
        .await
        .unwrap();
    assert_eq!(common::describe(&e.root_path(&id(2))), before);
    assert!(
        e.get(&id(1), &s1.name)
            .await
            .unwrap()
            .last_used_at
            .is_some()
    );

    // Copy of the live state.
    e.copy(&id(1), CopySource::Live, &id(3)).await.unwrap();
    assert_eq!(
        common::describe(&e.root_path(&id(3))),
        common::describe(&root)
    );
}

#[tokio::test]
async fn snapshots_outlive_their_container_and_gc_reclaims_space() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _) = fixture_engine(tmp.path()).await;
    let root = e.root_path(&id(1));
    std::fs::write(root.join("unique.bin"), common::noise(2 << 20, 9)).unwrap();
    let s = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let want = common::describe(&root);

    e.delete_root(&id(1)).await.unwrap();
    assert!(!root.exists());
    assert!(matches!(
        e.snapshot(&id(1), SnapshotOptions::default()).await,
        Err(EngineError::NoSuchRoot(_))
    ));
    assert_eq!(e.list(&id(1)).await.unwrap().len(), 1);
    e.copy(&id(1), CopySource::Snapshot(s.name.clone()), &id(5))
        .await
        .unwrap();
    assert_eq!(common::describe(&e.root_path(&id(5))), want);

    // The image's own tree objects are garbage (the image is not a snapshot) but too small
    // to be worth a repack; nothing the snapshot needs is garbage.
    let plan = e.gc_plan().await.unwrap();
    assert!(plan.dead_bytes < 4096, "{plan:?}");
    e.gc().await.unwrap();
    e.copy(&id(1), CopySource::Snapshot(s.name.clone()), &id(6))
        .await
        .unwrap();
    assert_eq!(common::describe(&e.root_path(&id(6))), want);

    let deleted = e.delete(&id(1), &s.name).await.unwrap();
    // The 2 MiB of noise is reachable only from this snapshot (the image's objects are
    // still referenced by nothing either: no other snapshot exists).
    assert!(deleted.freed_bytes >= 2 << 20, "{deleted:?}");
    let report = e.gc().await.unwrap();
    assert!(report.plan.reclaimable_bytes >= 2 << 20, "{report:?}");
    let after = e.gc_plan().await.unwrap();
    assert_eq!(after.reclaimable_bytes, 0, "{after:?}");
    assert!(after.delete_packs.is_empty(), "{after:?}");
    assert!(matches!(
        e.delete(&id(1), &s.name).await,
        Err(EngineError::NoSuchSnapshot { .. })
    ));

    // The copy made earlier is independent of the deleted snapshot.
    assert_eq!(common::describe(&e.root_path(&id(5))), want);
}

#[tokio::test]
async fn gc_keeps_what_other_snapshots_need_and_survives_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _) = fixture_engine(tmp.path()).await;
    let root = e.root_path(&id(1));
    let keep = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let keep_tree = common::describe(&root);
    std::fs::write(root.join("temp.bin"), common::noise(3 << 20, 3)).unwrap();
    let doomed = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    e.delete(&id(1), &doomed.name).await.unwrap();
    e.gc().await.unwrap();

    // A fresh engine rebuilds its index from the packs that GC left. The data directory is
    // locked: a second engine cannot open it while the first lives.
    let second = open_result(tmp.path()).await;
    assert!(
        matches!(second, Err(EngineError::Invalid(ref m)) if m.contains("in use")),
        "{:?}",
        second.err()
    );
    drop(e);
    let e2 = open(tmp.path()).await;
    e2.copy(&id(1), CopySource::Snapshot(keep.name.clone()), &id(9))
        .await
        .unwrap();
    assert_eq!(common::describe(&e2.root_path(&id(9))), keep_tree);
}

#[tokio::test]
async fn aliases_expiry_and_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    e.create_root(&id(1), RootSource::Empty).await.unwrap();
    let a = e
        .snapshot(
            &id(1),
            SnapshotOptions {
                alias: Some("twin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let b = e
        .snapshot(
            &id(1),
            SnapshotOptions {
                alias: Some("twin".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    match e.get(&id(1), "twin").await {
        Err(EngineError::AmbiguousAlias { names, .. }) => {
            assert!(
                names.contains(&a.name) && names.contains(&b.name),
                "{names:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e.get(&id(1), "nope").await,
        Err(EngineError::NoSuchSnapshot { .. })
    ));

    for bad in ["", &"x".repeat(101), "line\nbreak", "tab\there"] {
        let r = e
            .snapshot(
                &id(1),
                SnapshotOptions {
                    alias: Some(bad.to_string()),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(EngineError::Invalid(_))), "{bad:?}: {r:?}");
    }
    // Exactly 100 characters, multi-byte, is fine.
    e.snapshot(
        &id(1),
        SnapshotOptions {
            alias: Some("é".repeat(100)),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    let soon = e
        .snapshot(
            &id(1),
            SnapshotOptions {
                alias: None,
                expires_at: Some(past),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Expired snapshots never appear, even before the expiry job runs.
    assert!(
        e.list(&id(1))
            .await
            .unwrap()
            .iter()
            .all(|s| s.name != soon.name)
    );
    let expired = e.expire(chrono::Utc::now()).await.unwrap();
    assert_eq!(
        expired.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
        vec![soon.name]
    );
    assert_eq!(e.list(&id(1)).await.unwrap().len(), 3);

    assert!(matches!(
        e.create_root(&id(1), RootSource::Empty).await,
        Err(EngineError::RootExists(_))
    ));
    assert!(matches!(
        e.copy(&id(1), CopySource::Live, &id(1)).await,
        Err(EngineError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_second_operation_on_a_busy_container_is_refused_after_the_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path())
        .await
        .with_lock_wait(Duration::from_millis(50));
    e.create_root(&id(1), RootSource::Empty).await.unwrap();
    e.create_root(&id(2), RootSource::Empty).await.unwrap();
    // Hold container 1 through a live copy's source lock by holding its lock directly:
    // a snapshot of 1 must be refused, one of 2 must go through.
    let big = e.root_path(&id(1)).join("big");
    std::fs::write(&big, common::noise(64 << 20, 1)).unwrap();
    let e1 = e.clone();
    let slow = tokio::spawn(async move { e1.snapshot(&id(1), SnapshotOptions::default()).await });
    let mut refused = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if slow.is_finished() {
            break;
        }
        if let Err(EngineError::Busy(c)) = e.snapshot(&id(1), SnapshotOptions::default()).await {
            assert_eq!(c, id(1));
            refused = true;
            break;
        }
    }
    e.snapshot(&id(2), SnapshotOptions::default())
        .await
        .unwrap();
    slow.await.unwrap().unwrap();
    assert!(
        refused,
        "the 64 MiB snapshot finished before a second one could collide; machine too fast for this check"
    );
}

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<engine::ProgressUpdate>>);

impl engine::Progress for Recorder {
    fn update(&self, u: engine::ProgressUpdate) {
        self.0.lock().unwrap().push(u);
    }
}

#[tokio::test]
async fn snapshots_report_progress_and_roots_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    e.create_root(&id(1), RootSource::Empty).await.unwrap();
    // Device nodes and setuid files live only below a directory host users cannot enter.
    let containers = tmp.path().join("data/containers");
    assert_eq!(
        std::fs::metadata(&containers).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let root = e.root_path(&id(1));
    for i in 0..600 {
        std::fs::write(root.join(format!("f{i}")), format!("file {i}")).unwrap();
    }
    let rec = std::sync::Arc::new(Recorder::default());
    let s = e
        .snapshot(
            &id(1),
            SnapshotOptions {
                progress: Some(rec.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let updates = rec.0.lock().unwrap().clone();
    let files: Vec<u64> = updates.iter().map(|u| u.files).collect();
    assert_eq!(files, vec![256, 512, 600], "{updates:?}");
    assert_eq!(updates.last().unwrap().bytes, s.size);
    assert!(updates.iter().all(|u| u.phase == "snapshot"));
}

#[tokio::test]
async fn leftovers_of_interrupted_creations_and_deletions_are_swept_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let live = ContainerId::from_bytes([7; 12]);
    let deleted = ContainerId::from_bytes([8; 12]);
    {
        let e = open(tmp.path()).await;
        e.create_root(&live, RootSource::Empty).await.unwrap();
        std::fs::write(e.root_path(&live).join("keep"), b"live data").unwrap();
        e.create_root(&deleted, RootSource::Empty).await.unwrap();
        e.delete_root(&deleted).await.unwrap();
    }
    let containers = tmp.path().join("data/containers");
    // A creation cut short by a crash: files, no row. A deletion cut short: row says deleted.
    let orphan = containers.join("0123456789abcdef01234567/root/etc");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("half-written"), b"x").unwrap();
    std::fs::create_dir_all(containers.join(deleted.as_str()).join("root/left")).unwrap();
    // Not a container id: not ours to remove.
    std::fs::create_dir_all(containers.join("lost+found")).unwrap();

    let e = open(tmp.path()).await;
    assert!(!containers.join("0123456789abcdef01234567").exists());
    assert!(!containers.join(deleted.as_str()).exists());
    assert!(containers.join("lost+found").exists());
    assert_eq!(
        std::fs::read(e.root_path(&live).join("keep")).unwrap(),
        b"live data"
    );
}

#[tokio::test]
async fn edit_changes_alias_and_expiry_but_never_revives_an_expired_snapshot() {
    use chrono::{Duration as D, Utc};
    use engine::SnapshotEdit;
    let tmp = tempfile::tempdir().unwrap();
    let (e, _) = fixture_engine(tmp.path()).await;
    let opts = |alias: &str, days: Option<i64>| SnapshotOptions {
        alias: Some(alias.into()),
        expires_after: days.map(D::days),
        ..Default::default()
    };
    let s = e.snapshot(&id(1), opts("first", Some(7))).await.unwrap();

    // Rename by alias, then pin: the expiry goes, the alias stays.
    let renamed = SnapshotEdit {
        alias: Some(Some("stable".into())),
        ..Default::default()
    };
    let got = e.edit(&id(1), "first", renamed).await.unwrap();
    assert_eq!(got.alias.as_deref(), Some("stable"));
    assert!(got.expires_at.is_some(), "expiry untouched: {got:?}");
    let pin = SnapshotEdit {
        expires_at: Some(None),
        ..Default::default()
    };
    let got = e.edit(&id(1), &s.name, pin).await.unwrap();
    assert_eq!(
        (got.alias.as_deref(), got.expires_at),
        (Some("stable"), None)
    );

    // Clear the alias; set a new expiry.
    let at = Utc::now() + D::days(30);
    let edit = SnapshotEdit {
        alias: Some(None),
        expires_at: Some(Some(at)),
    };
    let got = e.edit(&id(1), &s.name, edit).await.unwrap();
    assert_eq!(got.alias, None);
    let diff = (got.expires_at.unwrap() - at).num_milliseconds().abs();
    assert!(diff < 1000, "{got:?}");

    // Refused: a past expiry, a bad alias, an unknown snapshot. Nothing changed.
    let past = SnapshotEdit {
        expires_at: Some(Some(Utc::now() - D::days(1))),
        ..Default::default()
    };
    assert!(matches!(
        e.edit(&id(1), &s.name, past).await,
        Err(EngineError::Invalid(_))
    ));
    let bad = SnapshotEdit {
        alias: Some(Some("a\nb".into())),
        ..Default::default()
    };
    assert!(e.edit(&id(1), &s.name, bad).await.is_err());
    assert!(matches!(
        e.edit(&id(1), "nope", SnapshotEdit::default()).await,
        Err(EngineError::NoSuchSnapshot { .. })
    ));
    assert_eq!(e.get(&id(1), &s.name).await.unwrap(), got);

    // A snapshot that has expired (its row not yet removed by the job) cannot be pinned back.
    let short = e.snapshot(&id(1), opts("short", None)).await.unwrap();
    let soon = SnapshotEdit {
        expires_at: Some(Some(Utc::now() + D::milliseconds(1500))),
        ..Default::default()
    };
    e.edit(&id(1), &short.name, soon).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let revive = SnapshotEdit {
        expires_at: Some(None),
        ..Default::default()
    };
    assert!(matches!(
        e.edit(&id(1), &short.name, revive).await,
        Err(EngineError::NoSuchSnapshot { .. })
    ));
}

#[tokio::test]
async fn exclusive_bytes_of_all_snapshots_in_one_pass_match_one_by_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _) = fixture_engine(tmp.path()).await;
    let root = e.root_path(&id(1));
    // A history where some data is unique to one snapshot and some is shared.
    for step in 0..6u64 {
        std::fs::write(
            root.join(format!("step-{step}.bin")),
            common::noise(200_000, step),
        )
        .unwrap();
        if step % 2 == 1 {
            std::fs::remove_file(root.join(format!("step-{}.bin", step - 1))).unwrap();
        }
        e.snapshot(&id(1), SnapshotOptions::default())
            .await
            .unwrap();
    }
    // A second container copied from the third snapshot shares its objects.
    let list = e.list(&id(1)).await.unwrap();
    e.copy(&id(1), CopySource::Snapshot(list[3].name.clone()), &id(2))
        .await
        .unwrap();
    e.snapshot(&id(2), SnapshotOptions::default())
        .await
        .unwrap();

    let all = e.exclusive_bytes_all(&id(1)).await.unwrap();
    assert_eq!(all.len(), list.len());
    let mut nonzero = 0;
    for s in &list {
        let one = e.exclusive_bytes(&id(1), &s.name).await.unwrap();
        assert_eq!(all[&s.name], one, "{}", s.name);
        nonzero += usize::from(one > 0);
    }
    assert!(nonzero >= 2, "the history has unique data: {all:?}");

    // The stored history grows with each snapshot and ends at what they all reach.
    let history = e.stored_history(&id(1)).await.unwrap();
    assert_eq!(history.len(), list.len());
    assert!(history.windows(2).all(|w| w[0].1 <= w[1].1), "{history:?}");
    assert!(history.windows(2).any(|w| w[0].1 < w[1].1), "{history:?}");
    let tops: Vec<_> = list.iter().map(|s| s.top_tree).collect();
    let reach = engine::gc::mark(e.store(), &tops).unwrap();
    assert_eq!(
        history.last().unwrap().1,
        engine::gc::stored_bytes(e.store(), &reach)
    );
}

#[tokio::test]
async fn publishing_a_snapshot_writes_nothing_and_copies_of_it_are_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, image) = fixture_engine(tmp.path()).await;
    let s = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let (objects, packs) = (e.store().object_count(), e.store().list_packs().unwrap());

    let published = e
        .publish(&id(1), &s.name, &id(2), Some("image web".into()))
        .await
        .unwrap();
    assert_eq!(published.top_tree, s.top_tree);
    assert_eq!(published.added_bytes, 0);
    assert_eq!(e.store().object_count(), objects);
    assert_eq!(e.store().list_packs().unwrap(), packs);
    // An image has a snapshot and no live files.
    assert!(!e.root_path(&id(2)).exists());
    assert!(matches!(
        e.restore(&id(2), &published.name).await,
        Err(EngineError::NoSuchRoot(_))
    ));

    // The source goes away; GC keeps what the published snapshot needs.
    e.delete(&id(1), &s.name).await.unwrap();
    e.gc().await.unwrap();
    e.copy(&id(2), CopySource::Snapshot(published.name.clone()), &id(3))
        .await
        .unwrap();
    assert_eq!(
        common::describe(&e.root_path(&id(3))),
        common::describe(&image)
    );

    // The new root's id cannot be used twice, nor the source's own.
    let again = e.publish(&id(3), "nope", &id(2), None).await.unwrap_err();
    assert!(
        matches!(again, EngineError::NoSuchSnapshot { .. }),
        "{again:?}"
    );
    let s3 = e
        .snapshot(&id(3), SnapshotOptions::default())
        .await
        .unwrap();
    let taken = e.publish(&id(3), &s3.name, &id(2), None).await.unwrap_err();
    assert!(matches!(taken, EngineError::RootExists(_)), "{taken:?}");
    let own = e.publish(&id(3), &s3.name, &id(3), None).await.unwrap_err();
    assert!(matches!(own, EngineError::Invalid(_)), "{own:?}");
}

#[tokio::test]
async fn a_fork_into_several_roots_makes_each_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, image) = fixture_engine(tmp.path()).await;
    let s = e
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let want = common::describe(&image);
    let forks = [id(11), id(12), id(13)];
    e.copy_many(&id(1), CopySource::Snapshot(s.name.clone()), &forks, None)
        .await
        .unwrap();
    for f in &forks {
        assert_eq!(common::describe(&e.root_path(f)), want, "{f:?}");
    }
    // Independent: a write in one fork shows in no other (hard links never cross roots).
    std::fs::write(e.root_path(&id(11)).join("etc/hostname"), b"fork 11\n").unwrap();
    assert_eq!(common::describe(&e.root_path(&id(12))), want);

    // From the live tree: captured once, the same in every fork.
    std::fs::write(e.root_path(&id(1)).join("live-only"), b"now").unwrap();
    e.copy_many(&id(1), CopySource::Live, &[id(21), id(22)], None)
        .await
        .unwrap();
    let live = common::describe(&e.root_path(&id(1)));
    assert_eq!(common::describe(&e.root_path(&id(21))), live);
    assert_eq!(common::describe(&e.root_path(&id(22))), live);

    // Refused before anything is made: a repeated target, the source itself, a used root.
    for (to, what) in [
        (vec![id(31), id(31)], "distinct"),
        (vec![id(32), id(1)], "onto itself"),
        (vec![], "at least one"),
    ] {
        let err = e
            .copy_many(&id(1), CopySource::Snapshot(s.name.clone()), &to, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
    }
    let err = e
        .copy_many(
            &id(1),
            CopySource::Snapshot(s.name.clone()),
            &[id(33), id(12)],
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::RootExists(_)), "{err:?}");
    assert!(!e.root_path(&id(33)).exists(), "no partial root remains");
}

/// Several nodes expiring at once (two engines over one database, four passes each, on
/// threads of their own): every expired snapshot is returned by exactly one pass, so its
/// `snapshot.expired` event is published once. A select before the delete would hand the
/// same rows to each pass that read before the first delete committed (PostgreSQL's read
/// committed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_expiry_returns_each_snapshot_once() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Engine::open(&tmp.path().join("a"), common::pool(tmp.path()).await)
        .await
        .unwrap();
    let b = Engine::open(&tmp.path().join("b"), common::pool(tmp.path()).await)
        .await
        .unwrap();
    // One that never expires, taken by the other node.
    let kept = id(99);
    b.create_root(&kept, RootSource::Empty).await.unwrap();
    b.snapshot(&kept, SnapshotOptions::default()).await.unwrap();
    // Rounds, since a race shows only now and then.
    for round in 0..6u8 {
        let soon = chrono::Utc::now() + chrono::Duration::seconds(2);
        let mut expiring = std::collections::BTreeSet::new();
        for k in 0..3u8 {
            let c = id(20 + round * 3 + k);
            a.create_root(&c, RootSource::Empty).await.unwrap();
            for n in 0..8 {
                std::fs::write(a.root_path(&c).join("f"), format!("{round}/{k}/{n}")).unwrap();
                let s = a
                    .snapshot(
                        &c,
                        SnapshotOptions {
                            expires_at: Some(soon),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                expiring.insert((c.as_str().to_string(), s.name));
            }
        }
        let at = soon + chrono::Duration::seconds(1);
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let passes: Vec<_> = (0..8)
            .map(|n| {
                let e = if n % 2 == 0 { a.clone() } else { b.clone() };
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    e.expire(at).await
                })
            })
            .collect();
        let mut seen = Vec::new();
        for p in passes {
            for s in p.await.unwrap().unwrap() {
                seen.push((s.container.as_str().to_string(), s.name));
            }
        }
        seen.sort();
        let once: Vec<_> = expiring.into_iter().collect();
        assert_eq!(
            seen, once,
            "round {round}: each expired snapshot once, and only those"
        );
    }
    assert_eq!(b.list(&kept).await.unwrap().len(), 1);
}
