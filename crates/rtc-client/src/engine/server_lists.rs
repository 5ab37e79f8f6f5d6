//! The buddy list kept on the presence server (RFC 4826), so that the server watches it for
//! us with one subscription (RFC 4662, `buddy_list`): the `resource-lists` document (the
//! buddies, their groups and what RFC 4826 has no field for) and an `rls-services` entry, the
//! service `sip:USER-buddies@DOMAIN`, that points at its list of subscribed buddies.
//!
//! A task writes both after every change of the buddy list; once they are stored the agent
//! subscribes to the service, and if they cannot be stored it watches each buddy instead.
//! The list is this client's: a write that finds the document changed elsewhere (412) reads
//! the new ETag and writes the list as this client has it.

use presence::BuddyList;
use presence::resource_lists::{self, BUDDIES_LIST, ResourceLists, RlsServices};
use xcap::{Condition, ETag, XcapClient, XcapUri};

use super::xcap_job::{Reporter, Wanted, XcapJob};
use super::*;

/// How many 412s in a row one write takes before it gives up.
const MAX_CONFLICTS: usize = 5;

/// The outcome of one write, from the task to the engine.
#[derive(Debug)]
pub(super) struct ListsStored {
    /// The service to subscribe to, or why the lists could not be stored.
    outcome: std::result::Result<String, String>,
}

/// The engine's side of the task.
#[derive(Debug, Default)]
pub(super) struct ServerLists {
    job: XcapJob<BuddyList, ListsStored>,
}

/// The RLS service of `aor`: `sip:alice@example.com` → `sip:alice-buddies@example.com`.
pub(super) fn service_uri(aor: &str) -> String {
    match aor.split_once('@') {
        Some((user, host)) => format!("{user}-buddies@{host}"),
        None => format!("{aor}-buddies"),
    }
}

impl ServerLists {
    /// Starts keeping `aor`'s buddy list on the XCAP server of `config`, if it names one.
    pub(super) fn start(
        &mut self,
        config: &ClientConfig,
        aor: &str,
        credentials: Option<Credentials>,
    ) -> Result<()> {
        self.job
            .start(config, credentials, |client, root, wanted, reporter| {
                let lists = root.user_document(resource_lists::AUID, aor, "index");
                let services = root.user_document(resource_lists::RLS_AUID, aor, "index");
                let service = service_uri(aor);
                let rls = RlsServices::for_list(
                    &service,
                    &resource_lists::list_uri(&root.to_string(), aor, BUDDIES_LIST),
                );
                lists_task(client, (lists, services, rls, service), wanted, reporter)
            })
    }

    /// Stops writing.
    pub(super) fn stop(&mut self) {
        self.job.stop();
    }

    /// The buddy list changed (or was loaded).
    pub(super) fn want(&self, buddies: &BuddyList) {
        self.job.want(|| buddies.clone());
    }

    pub(super) async fn recv(&mut self) -> Option<ListsStored> {
        self.job.recv().await
    }
}

impl Engine {
    /// The lists are on the server: the agent watches them with one subscription (once); or
    /// they could not be stored: it watches each buddy.
    pub(super) fn lists_stored(&mut self, stored: ListsStored) {
        let now = Self::now();
        let Some(agent) = &mut self.agent else {
            return;
        };
        match stored.outcome {
            // Changed on the server while watched: a refresh brings the new resources.
            Ok(_) if agent.watches_list() => agent.refresh_list(now, true),
            Ok(service) => {
                if let Err(e) = agent.watch_list(now, &service) {
                    warn!("buddy list subscription: {e}");
                    agent.fall_back(now);
                }
            }
            Err(e) => {
                warn!("buddy list on the server: {e}; watching each buddy");
                agent.fall_back(now);
            }
        }
        self.drain_agent();
    }
}

type Documents = (XcapUri, XcapUri, RlsServices, String);

async fn lists_task(
    client: XcapClient,
    (lists, services, rls, service): Documents,
    mut wanted: Wanted<BuddyList>,
    reports: Reporter<ListsStored>,
) {
    let mut etag: Option<ETag> = None;
    let mut services_stored = false;
    while let Some(buddies) = wanted.next().await {
        let body = ResourceLists::from_buddies(&buddies).to_xml();
        let mut outcome = put(
            &client,
            &lists,
            resource_lists::CONTENT_TYPE,
            &body,
            &mut etag,
        )
        .await;
        if outcome.is_ok() && !services_stored {
            let mut none = None;
            let rls_body = rls.to_xml();
            outcome = put(
                &client,
                &services,
                resource_lists::RLS_CONTENT_TYPE,
                &rls_body,
                &mut none,
            )
            .await;
            services_stored = outcome.is_ok();
        }
        reports.send(ListsStored {
            outcome: outcome.map(|()| service.clone()),
        });
    }
}

/// PUTs `body` under the ETag last known; a 412 takes the server's new ETag and tries again.
async fn put(
    client: &XcapClient,
    uri: &XcapUri,
    content_type: &str,
    body: &str,
    etag: &mut Option<ETag>,
) -> std::result::Result<(), String> {
    for _ in 0..MAX_CONFLICTS {
        let condition = etag.clone().map_or(Condition::Always, Condition::IfMatch);
        match client
            .put(uri, content_type, body.to_owned(), condition)
            .await
        {
            Ok(written) => {
                *etag = written.etag;
                return Ok(());
            }
            Err(xcap::Error::Conflict { .. }) => {
                *etag = client
                    .get(uri, Condition::Always)
                    .await
                    .map_err(|e| e.to_string())?
                    .found()
                    .and_then(|d| d.etag);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("{MAX_CONFLICTS} conflicting writes in a row"))
}
