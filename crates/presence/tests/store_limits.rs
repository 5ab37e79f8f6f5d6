//! The store's file limits: a huge file is refused without being read whole, and a save that
//! fails leaves no temporary file behind.

use presence::{Error, PresenceData, Store, XmlLimits};

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

/// Disk full: the temporary file is a link to /dev/full, where every write fails with ENOSPC.
/// The save fails and the temporary file is gone; the store is unchanged.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_save_removes_its_temporary_file() {
    let dir = scratch("full");
    let store = Store::file(dir.join("store.xml"));
    store.save(&PresenceData::default()).unwrap();
    let before = std::fs::read(store.path()).unwrap();
    std::os::unix::fs::symlink("/dev/full", store.temp_path()).unwrap();
    let err = store.save(&PresenceData::default()).unwrap_err();
    assert!(
        matches!(&err, Error::Io { op, .. } if op.contains("temporary file")),
        "{err}"
    );
    assert!(
        std::fs::symlink_metadata(store.temp_path()).is_err(),
        "the temporary file was left behind"
    );
    assert_eq!(std::fs::read(store.path()).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
