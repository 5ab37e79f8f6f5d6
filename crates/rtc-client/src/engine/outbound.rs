//! Which RFC 5626 instance id the client's registrations carry: the configured one, else the
//! one kept beside the presence store, else one for this process
//! ([`ClientConfig::instance`](crate::ClientConfig::instance)).

use super::*;

use crate::outbound::{InstanceId, Outbound};

impl Engine {
    /// What a new registration asks for under RFC 5626, if outbound is on: the instance id
    /// (fixed from now on) on flow 1.
    pub(super) fn outbound(&mut self) -> Option<Outbound> {
        if !self.config.outbound {
            return None;
        }
        if self.instance.is_none() {
            let id = match self.config.instance.clone() {
                Some(id) => id,
                None => InstanceId::generate()
                    .inspect_err(|e| warn!("no instance id, registering without outbound: {e}"))
                    .ok()?,
            };
            self.instance = Some(id);
        }
        self.instance.clone().map(Outbound::new)
    }

    /// Presence is being enabled on `store`: unless configured or already used by a
    /// registration, the instance id is the one kept beside the store (created now if it is
    /// the first), so that it stays the same across restarts. A file that cannot be read or
    /// written is reported and leaves the id to be generated for this process.
    pub(super) fn adopt_store_instance(&mut self, store: &Store) {
        if !self.config.outbound || self.config.instance.is_some() || self.instance.is_some() {
            return;
        }
        match InstanceId::load_or_create(&store.instance_path()) {
            Ok(id) => self.instance = Some(id),
            Err(e) => warn!("{e}; using an instance id for this process only"),
        }
    }
}
