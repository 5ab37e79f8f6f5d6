//! The watcher list kept on the presence server as well: the user's pres-rules document
//! (RFC 5025 on RFC 4745) on the server's XCAP server (RFC 4825), so that allowing, blocking
//! and removing watchers and the privacy modes decide who watches us through the server, as
//! they decide peer to peer.
//!
//! A task per identity owns the XCAP client. The engine hands it the watcher list after every
//! change ([`ServerRules::want`]); the task keeps the server's document and its ETag, and
//! writes the list's rules into it with a conditional PUT (`If-Match`). A 412 means another
//! device changed the document meanwhile: the task reads it again, merges three ways
//! ([`Ruleset::merge`]: what only one side changed is kept, never overwritten blindly) and
//! tries again. What the server then holds comes back to the engine, which makes the local
//! list say the same ([`Ruleset::apply_to`]), so the two agree after every change, after
//! enable and after an import. At the first sync (after enable) the local rules and the
//! server's are merged from nothing: both sides' entries are kept, and where they differ the
//! more restrictive wins.

use std::time::Duration;

use presence::WatcherList;
use presence::rules::Ruleset;
use xcap::{Application, Condition, ETag, Fetched, XcapClient, XcapUri};

use super::xcap_job::{Reporter, Wanted, XcapJob};
use super::*;

/// How long a failed sync waits before trying again (the server down, a refused PUT).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// How many conflicts in a row one sync resolves before it waits and starts over.
const MAX_CONFLICTS: usize = 5;

/// The rules as the server holds them, from the task to the engine.
#[derive(Debug)]
pub(super) struct Stored {
    /// The [`ServerRules::want`] this answers.
    want: u64,
    ruleset: Ruleset,
}

/// The engine's side: the sync task of the current identity, if any, handed numbered lists.
#[derive(Debug, Default)]
pub(super) struct ServerRules {
    job: XcapJob<(u64, WatcherList), Stored>,
    /// How many lists were handed to the task: a report about an older one is stale, since
    /// the list changed after it (applying it would undo the newer edit).
    wants: u64,
}

impl ServerRules {
    /// Starts syncing `aor`'s rules with the XCAP server of `config`, if it names one.
    pub(super) fn start(
        &mut self,
        config: &ClientConfig,
        aor: &str,
        credentials: Option<Credentials>,
    ) -> Result<()> {
        self.job
            .start(config, credentials, |client, root, wanted, reporter| {
                let document = root.user_document(Application::PRES_RULES.auid, aor, "index");
                sync_task(client, document, wanted, reporter)
            })
    }

    /// Stops syncing; what is being written may still land.
    pub(super) fn stop(&mut self) {
        self.job.stop();
    }

    /// The watcher list changed (or was loaded): the server's rules should say the same.
    pub(super) fn want(&mut self, list: &WatcherList) {
        if self.job.is_running() {
            self.wants += 1;
            self.job.want(|| (self.wants, list.clone()));
        }
    }

    /// The next report of the task.
    pub(super) async fn recv(&mut self) -> Option<Stored> {
        self.job.recv().await
    }
}

impl Engine {
    /// The server holds `stored`: the local list is made to say the same (another device's
    /// edits arrive this way), and the watchers subscribed to us now are decided by it.
    pub(super) fn rules_stored(&mut self, stored: Stored) {
        let rules = &self.server_rules;
        if stored.want != rules.wants || !rules.job.is_running() {
            return;
        }
        let now = Self::now();
        let Some(p) = &mut self.presence else {
            return;
        };
        let mut list = p.data.watchers.clone();
        stored.ruleset.apply_to(&mut list);
        if list == p.data.watchers {
            return;
        }
        p.data.watchers = list;
        p.autosave.changed(now);
        self.server_rules.want(&p.data.watchers);
        self.apply_watcher_policy(now);
    }
}

/// The server's document as last read or written.
struct Known {
    ruleset: Ruleset,
    etag: Option<ETag>,
}

async fn sync_task(
    client: XcapClient,
    document: XcapUri,
    mut wanted: Wanted<(u64, WatcherList)>,
    reports: Reporter<Stored>,
) {
    let mut known: Option<Known> = None;
    while let Some((want, list)) = wanted.next().await {
        match sync(&client, &document, &mut known, &list).await {
            Ok(ruleset) => reports.send(Stored { want, ruleset }),
            Err(e) => {
                warn!("presence rules at {document}: {e}; trying again in {RETRY_AFTER:?}");
                // Read again before the next write: the failure may have been ours.
                known = None;
                tokio::time::sleep(RETRY_AFTER).await;
                wanted.again();
            }
        }
    }
}

/// Makes the server's rules say what `list` says, merging with edits of other devices;
/// returns what the server holds then.
async fn sync(
    client: &XcapClient,
    document: &XcapUri,
    known: &mut Option<Known>,
    list: &WatcherList,
) -> std::result::Result<Ruleset, String> {
    let mut base = Ruleset::default();
    let mut ours = match known.as_ref() {
        Some(k) => {
            base = k.ruleset.clone();
            let mut ours = k.ruleset.clone();
            ours.sync_watchers(list);
            ours
        }
        None => {
            // First sync: both sides' entries kept (module docs).
            let theirs = read(client, document).await?;
            let merged = Ruleset::merge(&base, &Ruleset::from_watchers(list), &theirs.ruleset);
            *known = Some(theirs);
            merged.ruleset
        }
    };
    for _ in 0..MAX_CONFLICTS {
        let Some(k) = known.as_ref() else {
            break;
        };
        if ours == k.ruleset {
            return Ok(ours);
        }
        let condition = k
            .etag
            .clone()
            .map_or(Condition::IfAbsent, Condition::IfMatch);
        let put = client
            .put(
                document,
                Application::PRES_RULES.content_type,
                ours.to_xml(),
                condition,
            )
            .await;
        match put {
            Ok(written) => {
                *known = Some(Known {
                    ruleset: ours.clone(),
                    etag: written.etag,
                });
                return Ok(ours);
            }
            Err(xcap::Error::Conflict { .. }) => {
                let theirs = read(client, document).await?;
                let merged = Ruleset::merge(&base, &ours, &theirs.ruleset);
                for c in &merged.conflicts {
                    debug!("presence rules: rule {} {} on both sides", c.rule, c.what);
                }
                base = theirs.ruleset.clone();
                ours = merged.ruleset;
                *known = Some(theirs);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    *known = None;
    Err(format!("{MAX_CONFLICTS} conflicting writes in a row"))
}

/// The server's document; none yet is an empty ruleset without an ETag.
async fn read(client: &XcapClient, document: &XcapUri) -> std::result::Result<Known, String> {
    match client
        .get(document, Condition::Always)
        .await
        .map_err(|e| e.to_string())?
    {
        Fetched::Found(doc) => {
            let ruleset = Ruleset::parse_with_limits(&doc.body, &presence::XmlLimits::store())
                .map_err(|e| format!("the server's document: {e}"))?;
            Ok(Known {
                ruleset,
                etag: doc.etag,
            })
        }
        Fetched::NotFound | Fetched::NotModified => Ok(Known {
            ruleset: Ruleset::default(),
            etag: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use presence::{Watcher, WatcherState};

    use super::*;

    /// The engine applies what the server holds and hands the list back: that must not change
    /// the list or the rules again, or the client would write for ever.
    #[test]
    fn applying_the_stored_rules_is_stable() {
        let mut list = WatcherList::default();
        list.add(Watcher::new(
            "sip:bob@example.test",
            WatcherState::Allowed,
            Scope::User,
        ))
        .unwrap();
        list.add(Watcher::new(
            "sip:carol@example.test",
            WatcherState::Blocked,
            Scope::User,
        ))
        .unwrap();
        let rules = Ruleset::from_watchers(&list);
        let mut applied = list.clone();
        rules.apply_to(&mut applied);
        assert_eq!(applied, list, "{applied:?}");
        let mut again = rules.clone();
        again.sync_watchers(&applied);
        assert_eq!(again, rules);
        let reparsed = Ruleset::parse(rules.to_xml().as_bytes()).unwrap();
        assert_eq!(reparsed, rules);
    }
}
