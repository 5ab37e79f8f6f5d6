//! Without the `xcap` feature there is no XCAP server to keep the watcher and buddy lists on
//! (`server_rules`, `server_lists`): this stand-in for both does nothing and reports nothing,
//! so that the engine reads the same either way.

use std::future::pending;

use super::*;

/// A report that never comes.
#[derive(Debug)]
pub(super) enum Never {}

/// Keeps nothing on a server.
#[derive(Debug, Default)]
pub(super) struct Nowhere;

pub(super) type ServerRules = Nowhere;
pub(super) type ServerLists = Nowhere;

impl Nowhere {
    pub(super) fn start(
        &mut self,
        _: &ClientConfig,
        _: &str,
        _: Option<Credentials>,
    ) -> Result<()> {
        Ok(())
    }

    pub(super) fn stop(&mut self) {}

    pub(super) fn want<T>(&mut self, _: &T) {}

    pub(super) async fn recv(&mut self) -> Option<Never> {
        pending().await
    }
}

impl Engine {
    pub(super) fn rules_stored(&mut self, never: Never) {
        match never {}
    }

    pub(super) fn lists_stored(&mut self, never: Never) {
        match never {}
    }
}
