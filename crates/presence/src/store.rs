//! The presence store: buddies, groups, watchers, the privacy and offer modes and our own
//! status in one versioned XML file (the RTC client's `presence.xml`).
//!
//! ```text
//! <?xml version="1.0" encoding="UTF-8"?>
//! <presence-store xmlns="urn:x-rtc-sip:presence-store" version="1">
//!   <local status="away"><note>at lunch</note></local>
//!   <policy privacy="block-list" offer-watchers="offer"/>
//!   <group name="Friends"><data>…</data></group>
//!   <buddy uri="sip:bob@example.com" name="Bob" subscription="subscribed">
//!     <group>Friends</group><data>…</data>
//!   </buddy>
//!   <watcher uri="sip:example.com" name="" state="blocked" scope="domain"/>
//! </presence-store>
//! ```
//!
//! Only persistent buddies and watchers are written (an entry read with `persistent="false"`
//! is kept in memory and not written back). [`Store::save`] writes atomically:
//! a temporary file in the same directory, flushed to disk, renamed over the store, then
//! the directory flushed, so a crash leaves either the old file or the new one. A file that
//! is not a store this release reads (corrupt, foreign, or of a newer version) is reported
//! with line and column and never overwritten.
//!
//! Every save writes a temporary file of its own (`presence.xml.<pid>.<n>.tmp`), so that two
//! saves never write into one file. A process that keeps a store open takes its
//! [`Store::lock`] (an advisory `flock` on `presence.xml.lock`): a second process on the same
//! store then fails with [`Error::StoreLocked`] instead of racing the first.
//!
//! ```
//! use presence::{Buddy, PresenceData, Status, Store};
//!
//! let dir = std::env::temp_dir().join(format!("presence-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let store = Store::file(dir.join("presence.xml"));
//! let mut data = store.load()?; // no file yet: empty data
//! data.local.status = Status::Away;
//! data.buddies.add(Buddy::new("sip:bob@example.com", "Bob")?)?;
//! store.save(&data)?;
//! assert_eq!(store.load()?, data);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::buddy::{Buddy, BuddyList, Group, SubscriptionType};
use crate::error::{Error, Result};
use crate::status::{LocalPresence, Status};
use crate::watcher::{OfferMode, PrivacyMode, Scope, Watcher, WatcherList, WatcherState};
use crate::xml::{self, Attr, DoctypePolicy, Document, Element, XmlLimits};

/// The store's namespace.
pub const NS: &str = "urn:x-rtc-sip:presence-store";
/// The newest store format version this release reads and the one it writes.
pub const VERSION: u32 = 1;

/// Everything the store keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresenceData {
    /// Our own status and note.
    pub local: LocalPresence,
    /// Buddies and groups.
    pub buddies: BuddyList,
    /// Watcher entries with the privacy and offer modes.
    pub watchers: WatcherList,
}

/// How an import combines with what is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportMode {
    /// The imported data replaces everything.
    Replace,
    /// Imported buddies, groups and watchers are added, replacing entries with the same
    /// address (or name, for groups); our status and the modes stay as they are.
    Merge,
}

impl PresenceData {
    /// Writes the store document (persistent buddies and watchers only).
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256 + 160 * (self.buddies.len() + self.watchers.len()));
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence-store");
        xml::push_attribute(&mut out, "xmlns", NS);
        xml::push_attribute(&mut out, "version", &VERSION.to_string());
        out.push_str(">\n<local");
        xml::push_attribute(&mut out, "status", self.local.status.as_str());
        match self.local.note.as_deref().filter(|n| !n.is_empty()) {
            Some(note) => {
                out.push('>');
                xml::push_text_element(&mut out, "note", note);
                out.push_str("</local>\n");
            }
            None => out.push_str("/>\n"),
        }
        out.push_str("<policy");
        xml::push_attribute(&mut out, "privacy", self.watchers.privacy.as_str());
        xml::push_attribute(&mut out, "offer-watchers", self.watchers.offer.as_str());
        out.push_str("/>\n");
        for g in self.buddies.groups() {
            out.push_str("<group");
            xml::push_attribute(&mut out, "name", &g.name);
            out.push('>');
            push_data(&mut out, &g.data);
            out.push_str("</group>\n");
        }
        for b in self.buddies.iter().filter(|b| b.persistent) {
            out.push_str("<buddy");
            xml::push_attribute(&mut out, "uri", &b.uri);
            xml::push_attribute(&mut out, "name", &b.name);
            xml::push_attribute(&mut out, "subscription", b.subscription.as_str());
            out.push('>');
            for g in &b.groups {
                xml::push_text_element(&mut out, "group", g);
            }
            push_data(&mut out, &b.data);
            out.push_str("</buddy>\n");
        }
        for w in self.watchers.iter().filter(|w| w.persistent) {
            out.push_str("<watcher");
            xml::push_attribute(&mut out, "uri", &w.uri);
            xml::push_attribute(&mut out, "name", &w.name);
            xml::push_attribute(&mut out, "state", w.state.as_str());
            xml::push_attribute(&mut out, "scope", w.scope.as_str());
            out.push_str("/>\n");
        }
        out.push_str("</presence-store>\n");
        out
    }

    /// Reads a store document with [`XmlLimits::store`].
    ///
    /// Refused: anything that is not a `presence-store` in the store namespace, a version
    /// newer than [`VERSION`] ([`Error::StoreVersion`]), unknown tokens, URIs that do not
    /// parse, and every hostile-XML case; each error says where.
    pub fn from_xml(bytes: &[u8]) -> Result<PresenceData> {
        let doc = Document::parse(bytes, &XmlLimits::store(), DoctypePolicy::Refuse)?;
        doc.expect_root(NS, "presence-store")?;
        let root = &doc.root;
        let version = doc.required_attr(root, "presence-store", "version", "version attribute")?;
        let found: u32 = xml::trim_xml(&version.value)
            .parse()
            .map_err(|_| doc.invalid("store version", &version.value, version.at))?;
        if found > VERSION {
            return Err(Error::StoreVersion {
                found,
                supported: VERSION,
                at: doc.pos(version.at),
            });
        }
        let mut data = PresenceData::default();
        for el in &root.children {
            if &*el.ns != NS {
                continue; // Extensions in other namespaces are skipped.
            }
            match &*el.name {
                "local" => data.local = local(&doc, el)?,
                "policy" => {
                    if let Some(a) = el.attr("privacy") {
                        data.watchers.privacy =
                            token(&doc, a, "privacy mode", PrivacyMode::from_token)?;
                    }
                    if let Some(a) = el.attr("offer-watchers") {
                        data.watchers.offer =
                            token(&doc, a, "offer-watchers mode", OfferMode::from_token)?;
                    }
                }
                "group" => {
                    let name = doc.required_attr(el, "group", "name", "name attribute")?;
                    data.buddies.add_group(Group {
                        name: name.value.clone(),
                        data: data_of(el).into(),
                    });
                }
                "buddy" => {
                    data.buddies
                        .add(buddy(&doc, el)?)
                        .map_err(|e| located(&doc, el, e))?;
                }
                "watcher" => {
                    data.watchers
                        .add(watcher(&doc, el)?)
                        .map_err(|e| located(&doc, el, e))?;
                }
                other => return Err(doc.invalid("store element", other, el.at)),
            }
        }
        Ok(data)
    }

    /// Combines imported data with this one, as `mode` says.
    pub fn import(&mut self, imported: PresenceData, mode: ImportMode) -> Result<()> {
        match mode {
            ImportMode::Replace => *self = imported,
            ImportMode::Merge => {
                // Each add is one hash probe: merging n entries into m is O(n + m).
                let (groups, buddies) = imported.buddies.into_parts();
                for g in groups {
                    self.buddies.add_group(g);
                }
                for b in buddies {
                    self.buddies.add(b)?;
                }
                for w in imported.watchers.into_entries() {
                    self.watchers.add(w)?;
                }
            }
        }
        Ok(())
    }
}

/// An error about a list entry, placed at its element.
fn located(doc: &Document<'_>, el: &Element, e: Error) -> Error {
    match e {
        Error::InvalidUri { uri, .. } | Error::DomainNotSip(uri) => {
            let at = el.attr("uri").map_or(el.at, |a| a.at);
            doc.invalid("URI", &uri, at)
        }
        other => other,
    }
}

fn token<T>(
    doc: &Document<'_>,
    attr: &Attr,
    what: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T> {
    parse(xml::trim_xml(&attr.value)).ok_or_else(|| doc.invalid(what, &attr.value, attr.at))
}

fn flag(doc: &Document<'_>, el: &Element) -> Result<bool> {
    match el.attr("persistent") {
        None => Ok(true),
        Some(a) => match xml::trim_xml(&a.value) {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => Err(doc.invalid("persistent flag", other, a.at)),
        },
    }
}

fn push_data(out: &mut String, data: &str) {
    if !data.is_empty() {
        xml::push_text_element(out, "data", data);
    }
}

fn data_of(el: &Element) -> &str {
    el.child(NS, "data").map_or("", |d| d.text.as_str())
}

fn local(doc: &Document<'_>, el: &Element) -> Result<LocalPresence> {
    let status = doc.required_attr(el, "local", "status", "status attribute")?;
    let status = token(doc, status, "status", |s| s.parse::<Status>().ok())?;
    let note = el.child(NS, "note").map(|n| n.text.as_str());
    Ok(LocalPresence::new(status, note))
}

fn buddy(doc: &Document<'_>, el: &Element) -> Result<Buddy> {
    let uri = doc.required_attr(el, "buddy", "uri", "uri attribute")?;
    let subscription = match el.attr("subscription") {
        Some(a) => token(doc, a, "subscription type", SubscriptionType::from_token)?,
        None => SubscriptionType::Subscribed,
    };
    Ok(Buddy {
        uri: uri.value.clone(),
        name: el.attr("name").map_or("".into(), |a| a.value.clone()),
        data: data_of(el).into(),
        persistent: flag(doc, el)?,
        groups: el
            .children_named(NS, "group")
            .map(|g| g.text.as_str().into())
            .collect(),
        subscription,
    })
}

fn watcher(doc: &Document<'_>, el: &Element) -> Result<Watcher> {
    let uri = doc.required_attr(el, "watcher", "uri", "uri attribute")?;
    let state = doc.required_attr(el, "watcher", "state", "state attribute")?;
    let scope = match el.attr("scope") {
        Some(a) => token(doc, a, "watcher scope", Scope::from_token)?,
        None => Scope::User,
    };
    Ok(Watcher {
        uri: uri.value.clone(),
        name: el.attr("name").map_or("".into(), |a| a.value.clone()),
        state: token(doc, state, "watcher state", WatcherState::from_token)?,
        persistent: flag(doc, el)?,
        scope,
    })
}

/// The presence store file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The store kept in the file at `path` (which need not exist yet).
    pub fn file(path: impl Into<PathBuf>) -> Store {
        Store { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh temporary file name for one save, in the store's directory: the store's name,
    /// this process's id and a counter (`presence.xml.4242.7.tmp`), so that no two saves, in
    /// this process or another, ever write into the same file. Each call gives a new name.
    pub fn temp_path(&self) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.sibling(&format!(".{}.{n}.tmp", std::process::id()))
    }

    /// Whether `path` is a temporary file of this store's saves (one left by a save that was
    /// interrupted, if no save runs now).
    pub fn is_temp_path(&self, path: &Path) -> bool {
        let (Some(name), Some(store)) = (path.file_name(), self.path.file_name()) else {
            return false;
        };
        let (Some(name), Some(store)) = (name.to_str(), store.to_str()) else {
            return false;
        };
        path.parent() == self.path.parent()
            && name
                .strip_prefix(store)
                .and_then(|rest| rest.strip_prefix('.'))
                .and_then(|rest| rest.strip_suffix(".tmp"))
                .and_then(|rest| rest.split_once('.'))
                .is_some_and(|(pid, n)| {
                    pid.bytes().all(|b| b.is_ascii_digit()) && n.bytes().all(|b| b.is_ascii_digit())
                })
    }

    /// The file beside the store that keeps this device's SIP instance id
    /// (`presence.xml.instance`, RFC 5626 §4.1), so that it stays the same across restarts as
    /// the presence data does. This crate never reads or writes it.
    pub fn instance_path(&self) -> PathBuf {
        self.sibling(".instance")
    }

    /// The lock file beside the store (`presence.xml.lock`), which [`Store::lock`] locks.
    pub fn lock_path(&self) -> PathBuf {
        self.sibling(".lock")
    }

    /// Takes the store for this process: an advisory lock (`flock`) on [`Store::lock_path`],
    /// held until the returned [`StoreLock`] is dropped (or the process ends, however it
    /// ends). While it is held, another `lock` of the same store — from another process, or
    /// from another handle in this one — fails with [`Error::StoreLocked`]. [`Store::load`]
    /// and [`Store::save`] do not take it: a program that keeps the store open takes it once.
    ///
    /// ```
    /// use presence::{Error, Store};
    ///
    /// let dir = std::env::temp_dir().join(format!("presence-lock-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let store = Store::file(dir.join("presence.xml"));
    /// let held = store.lock()?;
    /// assert!(matches!(store.lock(), Err(Error::StoreLocked { .. })));
    /// drop(held);
    /// let _again = store.lock()?;
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock(&self) -> Result<StoreLock> {
        let path = self.lock_path();
        let io = |op| {
            let path = path.clone();
            move |source| Error::Io { path, op, source }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open lock file"))?;
        match file.try_lock() {
            Ok(()) => Ok(StoreLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::StoreLocked {
                path: self.path.clone(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io("lock")(e)),
        }
    }

    /// A file beside the store: its name with `suffix` appended.
    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self
            .path
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// Reads the store. A missing file is an empty store; a file that cannot be read as a
    /// store is [`Error::StoreCorrupt`] (with the line and column) and is left as it is.
    /// A temporary file left by an interrupted save is ignored.
    pub fn load(&self) -> Result<PresenceData> {
        match self.read()? {
            None => Ok(PresenceData::default()),
            Some(bytes) => PresenceData::from_xml(&bytes).map_err(|e| self.corrupt(e)),
        }
    }

    /// Imports the file into `data` as `mode` says; errors as [`Store::load`], and `data`
    /// is unchanged on error. Unlike [`Store::load`], a missing file is an error
    /// ([`Error::Io`]): an import names a file the user means to read, and replacing
    /// everything with the nothing a mistyped path holds would lose what they stored.
    pub fn import_into(&self, data: &mut PresenceData, mode: ImportMode) -> Result<()> {
        let Some(bytes) = self.read()? else {
            return Err(Error::Io {
                path: self.path.clone(),
                op: "read",
                source: std::io::ErrorKind::NotFound.into(),
            });
        };
        let imported = PresenceData::from_xml(&bytes).map_err(|e| self.corrupt(e))?;
        let mut merged = data.clone();
        merged.import(imported, mode)?;
        *data = merged;
        Ok(())
    }

    /// Writes `data` atomically. Refuses with [`Error::StoreCorrupt`] to overwrite a file
    /// that is not a store this release reads, so that nothing stored is ever lost.
    pub fn save(&self, data: &PresenceData) -> Result<()> {
        if let Some(existing) = self.read()? {
            PresenceData::from_xml(&existing).map_err(|e| self.corrupt(e))?;
        }
        let tmp = self.temp_path();
        let io = |op, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, op, source }
        };
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)
                .map_err(io("create temporary file", &tmp))?;
            file.write_all(data.to_xml().as_bytes())
                .map_err(io("write temporary file", &tmp))?;
            file.sync_all().map_err(io("flush temporary file", &tmp))?;
            drop(file);
            fs::rename(&tmp, &self.path).map_err(io("rename temporary file over", &self.path))
        })();
        if let Err(e) = written {
            // A full disk must not stay full of our half-written copy.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // The rename is durable only once the directory is flushed (POSIX rename(2)).
        #[cfg(unix)]
        {
            let dir = match self.path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io("flush directory", dir))?;
        }
        Ok(())
    }

    /// The file's bytes, at most one more than [`XmlLimits::store`] allows, so that a huge
    /// file is refused as too large without being read whole.
    fn read(&self) -> Result<Option<Vec<u8>>> {
        let cap = u64::try_from(XmlLimits::store().max_size)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let mut bytes = Vec::new();
        match File::open(&self.path).and_then(|f| f.take(cap).read_to_end(&mut bytes)) {
            Ok(_) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io {
                path: self.path.clone(),
                op: "read",
                source,
            }),
        }
    }

    fn corrupt(&self, e: Error) -> Error {
        Error::StoreCorrupt {
            path: self.path.clone(),
            source: Box::new(e),
        }
    }
}

/// A store taken by this process ([`Store::lock`]); dropping it releases the lock. The lock
/// file itself stays: removing it would let a third process lock a new file while a second
/// still holds the old one.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

impl StoreLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PresenceData {
        let mut d = PresenceData {
            local: LocalPresence::new(Status::OutToLunch, Some("back\tat <2> & \"3\"\r\n")),
            ..PresenceData::default()
        };
        d.watchers.privacy = PrivacyMode::AllowListOnly;
        d.watchers.offer = OfferMode::AutoAdd;
        d.buddies.add_group(Group {
            name: "Work & play".into(),
            data: "<x a='1'/>".into(),
        });
        let mut b = Buddy::new("sip:bob@example.com", "Bob \"B\"").unwrap();
        b.groups.push("Work & play".into());
        b.data = "app data".into();
        b.subscription = SubscriptionType::Poll;
        d.buddies.add(b).unwrap();
        d.watchers
            .add(Watcher::new(
                "sip:example.com",
                WatcherState::Blocked,
                Scope::Domain,
            ))
            .unwrap();
        d
    }

    #[test]
    fn document_round_trips() {
        let d = sample();
        assert_eq!(PresenceData::from_xml(d.to_xml().as_bytes()).unwrap(), d);
    }

    #[test]
    fn non_persistent_entries_are_not_written() {
        let mut d = sample();
        let mut temp = Buddy::new("sip:temp@example.com", "").unwrap();
        temp.persistent = false;
        d.buddies.add(temp).unwrap();
        let back = PresenceData::from_xml(d.to_xml().as_bytes()).unwrap();
        assert!(back.buddies.get("sip:temp@example.com").is_none());
        assert_eq!(back.buddies.len(), 1);
    }

    #[test]
    fn entries_marked_not_persistent_are_read_but_not_written_back() {
        let doc = format!(
            "<presence-store xmlns='{NS}' version='1'>\
             <buddy uri='sip:temp@example.com' persistent='false'/>\
             <buddy uri='sip:kept@example.com' persistent='1'/>\
             <watcher uri='sip:w@example.com' state='allowed' persistent='0'/>\
             </presence-store>"
        );
        let data = PresenceData::from_xml(doc.as_bytes()).unwrap();
        assert_eq!(
            data.buddies
                .get("sip:temp@example.com")
                .map(|b| b.persistent),
            Some(false)
        );
        assert_eq!(data.watchers.len(), 1);
        let back = PresenceData::from_xml(data.to_xml().as_bytes()).unwrap();
        assert!(back.buddies.get("sip:temp@example.com").is_none());
        assert!(back.buddies.get("sip:kept@example.com").is_some());
        assert!(back.watchers.is_empty());
    }

    #[test]
    fn newer_version_and_foreign_documents_are_refused() {
        let newer = format!("<presence-store xmlns='{NS}' version='2'/>");
        let err = PresenceData::from_xml(newer.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::StoreVersion {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
        let foreign = b"<?xml version='1.0'?>\n<html><body/></html>";
        let err = PresenceData::from_xml(foreign).unwrap_err();
        assert!(matches!(err, Error::UnexpectedRoot { .. }), "{err}");
        assert_eq!(err.position().map(|p| (p.line, p.column)), Some((2, 1)));
    }

    #[test]
    fn bad_entries_say_where() {
        let bad = format!(
            "<presence-store xmlns='{NS}' version='1'>\n<buddy uri='no uri here'/></presence-store>"
        );
        let err = PresenceData::from_xml(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::InvalidValue { what: "URI", .. }),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(2));
        let bad = format!(
            "<presence-store xmlns='{NS}' version='1'><watcher uri='sip:a@b' state='maybe'/></presence-store>"
        );
        let err = PresenceData::from_xml(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidValue {
                    what: "watcher state",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn merge_keeps_local_state_and_replaces_same_entries() {
        let mut mine = PresenceData::default();
        mine.local.status = Status::Busy;
        let mut old = Buddy::new("sip:bob@example.com", "Old name").unwrap();
        old.data = "mine".into();
        mine.buddies.add(old).unwrap();
        mine.buddies
            .add(Buddy::new("sip:carol@example.com", "Carol").unwrap())
            .unwrap();
        let mut merged = mine.clone();
        merged.import(sample(), ImportMode::Merge).unwrap();
        assert_eq!(merged.local.status, Status::Busy);
        assert_eq!(merged.watchers.privacy, PrivacyMode::BlockList);
        assert_eq!(merged.buddies.len(), 2);
        assert_eq!(
            merged.buddies.get("sip:bob@example.com").map(|b| &*b.name),
            Some("Bob \"B\"")
        );
        assert_eq!(merged.watchers.len(), 1);
        let mut replaced = mine;
        replaced.import(sample(), ImportMode::Replace).unwrap();
        assert_eq!(replaced, sample());
    }
}
