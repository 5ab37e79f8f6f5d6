//! The store's file limits: a huge file is refused without being read whole, and a save that
//! fails leaves no temporary file behind.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use presence::{Error, PresenceData, Store, XmlLimits};

/// Saves in this binary one at a time: temporary names come from one counter per process, and
/// the disk-full test must know which name the next save takes.
static SAVES: Mutex<()> = Mutex::new(());

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("presence-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 200 MB store (sparse: it costs no disk) is refused as too large. Only the limit plus one
/// byte is read, so this is quick and small; the refusal names the limit.
#[test]
fn a_huge_store_is_refused_before_it_is_read() {
    let _one_at_a_time = SAVES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("huge");
    let path = dir.join("store.xml");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(200 << 20).unwrap();
    drop(f);
    let store = Store::file(&path);
    let err = store.load().unwrap_err();
    let Error::StoreCorrupt { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(**source, Error::TooLarge { limit, .. } if limit == XmlLimits::store().max_size),
        "{source:?}"
    );
    // Nor is it overwritten by a save.
    assert!(store.save(&PresenceData::default()).is_err());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 200 << 20);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The temporary name after `probe` (`store.xml.<pid>.<n>.tmp`): the one the next save takes.
fn following(probe: &Path) -> PathBuf {
    let name = probe.file_name().unwrap().to_str().unwrap();
    let stem = name.strip_suffix(".tmp").unwrap();
    let (prefix, n) = stem.rsplit_once('.').unwrap();
    let n: u64 = n.parse().unwrap();
    probe.with_file_name(format!("{prefix}.{}.tmp", n + 1))
}

/// Disk full: the temporary file is a link to /dev/full, where every write fails with ENOSPC.
/// The save fails and the temporary file is gone; the store is unchanged.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_save_removes_its_temporary_file() {
    let _one_at_a_time = SAVES.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("full");
    let store = Store::file(dir.join("store.xml"));
    store.save(&PresenceData::default()).unwrap();
    let before = std::fs::read(store.path()).unwrap();
    let next = following(&store.temp_path());
    assert!(store.is_temp_path(&next));
    std::os::unix::fs::symlink("/dev/full", &next).unwrap();
    let err = store.save(&PresenceData::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { op, .. } if op.contains("temporary file")),
        "{err}"
    );
    assert!(
        std::fs::symlink_metadata(&next).is_err(),
        "the temporary file was left behind"
    );
    assert_eq!(std::fs::read(store.path()).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
