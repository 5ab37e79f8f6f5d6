//! Presence plumbing: the agent (its start, retirement, requests and events) and the edits
//! of the buddy and watcher lists the application asks for.

use super::*;

impl Engine {
    /// Starts the presence agent once presence is enabled and a profile registers for it.
    pub(super) fn start_agent(&mut self) -> Result<()> {
        let (None, Some(presence)) = (&self.agent, &self.presence) else {
            return Ok(());
        };
        let Some((key, p)) = self.profiles.iter().find(|(_, p)| {
            // Not before its servers are known: the agent's Contact depends on them.
            p.flags.contains(RegisterFlags::PRESENCE)
                && p.logging_off.is_empty()
                && p.next_hop().is_some()
        }) else {
            return Ok(());
        };
        let kind = p.next_hop().map_or(TransportKind::Udp, |t| t.transport);
        let identity = LocalIdentity::new(
            &p.aor,
            &p.local.contact(kind)?,
            kind,
            p.local.sent_by(kind)?,
        )?;
        let identity = match &p.display_name {
            Some(n) => identity.with_display_name(n),
            None => identity,
        };
        let mut agent = Agent::new(
            key.clone(),
            identity,
            &presence.data,
            shown(&presence.data, presence.appear_offline),
            &self.config.agent_timing(),
            self.config.transport.parse,
            Self::now(),
            // With an XCAP server the buddies are watched as one list (RFC 4662).
            self.config.has_xcap(),
        )?;
        if p.registration.state() == RegistrationState::Registered {
            agent.registered(Self::now(), &presence.data);
        }
        self.server_rules
            .start(&self.config, &p.aor, p.credentials.clone())?;
        self.server_rules.want(&presence.data.watchers);
        self.server_lists
            .start(&self.config, &p.aor, p.credentials.clone())?;
        self.server_lists.want(&presence.data.buddies);
        if self.config.has_xcap() {
            // A presence server with rules: its pending watchers are ours to decide.
            agent.watch_watchers(Self::now())?;
        }
        self.agent = Some(agent);
        self.agent_generation += 1;
        Ok(())
    }

    /// Shuts the agent down (final NOTIFYs, unsubscribes, publication removed) and keeps it,
    /// retiring, for [`RETIRE_FOR`], so that what waits for an answer still leaves.
    pub(super) fn retire_agent(&mut self, now: Instant) {
        let Some(mut agent) = self.agent.take() else {
            return;
        };
        self.server_rules.stop();
        self.server_lists.stop();
        if let Some(presence) = &self.presence {
            agent.shut(now, &presence.data);
        }
        self.retiring.push(Retiring {
            generation: self.agent_generation,
            agent,
            until: now + RETIRE_FOR,
        });
        self.drain_agent();
    }

    pub(super) async fn handle_presence(&mut self, command: PresenceCommand) {
        let now = Self::now();
        let edits = !matches!(
            command,
            PresenceCommand::Enable { .. }
                | PresenceCommand::Disable { .. }
                | PresenceCommand::Export { .. }
                | PresenceCommand::Buddies { .. }
                | PresenceCommand::Watchers { .. }
        );
        match command {
            PresenceCommand::Enable { store, reply } => {
                let _ = reply.send(self.enable_presence(store));
            }
            PresenceCommand::Disable { reply } => {
                let _ = reply.send(self.disable_presence(now).await);
            }
            PresenceCommand::Export { path, reply } => match self.presence_mut() {
                Ok(p) => autosave::export(path, p.data.clone(), reply),
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            PresenceCommand::Import { path, mode, reply } => {
                let r = self.import(now, path, mode);
                let _ = reply.send(r);
            }
            PresenceCommand::AddBuddy { uri, name, reply } => {
                let r = self.add_buddy(now, &uri, &name);
                let _ = reply.send(r);
            }
            PresenceCommand::RemoveBuddy { uri, reply } => {
                let r = self.presence_mut().map(|p| p.data.buddies.remove(&uri));
                // The list matches by address of record; the subscription is under the URI
                // the buddy was added with, which may be spelled otherwise.
                if let (Ok(Some(removed)), Some(agent)) = (&r, &mut self.agent) {
                    let _ = agent.unwatch(now, &removed.uri);
                }
                let _ = reply.send(r.and_then(|b| b.map(drop).ok_or(Error::UnknownBuddy(uri))));
            }
            PresenceCommand::Buddies { reply } => {
                let r = self
                    .presence_mut()
                    .map(|p| p.data.buddies.iter().cloned().collect());
                let _ = reply.send(r);
            }
            PresenceCommand::Watchers { reply } => {
                let r = self
                    .presence_mut()
                    .map(|p| p.data.watchers.iter().cloned().collect());
                let _ = reply.send(r);
            }
            PresenceCommand::SetWatcher { uri, state, reply } => {
                let r = self.set_watcher(now, &uri, state);
                let _ = reply.send(r);
            }
            PresenceCommand::RemoveWatcher { uri, reply } => {
                let r = self.presence_mut().and_then(|p| {
                    let removed = p.data.watchers.remove(&uri, Scope::User);
                    removed.map(drop).ok_or(Error::UnknownWatcher(uri))
                });
                // Its subscriptions now are decided as a new one's would be: an allowed
                // watcher removed does not go on seeing us.
                self.apply_watcher_policy(now);
                let _ = reply.send(r);
            }
            PresenceCommand::SetLocal {
                status,
                note,
                reply,
            } => {
                // A status set before registering is kept but not shown: the user appears
                // offline until they set one while registered.
                let registered = self
                    .profiles
                    .values()
                    .any(|p| p.registration.state() == RegistrationState::Registered);
                // A document too large to send is refused here, and ours stays as it was.
                let wanted = LocalPresence::new(status, note.as_deref());
                if let Some(Err(e)) = self.agent.as_mut().map(|a| a.check(&wanted)) {
                    let _ = reply.send(Err(e));
                    return;
                }
                let r = self.presence_mut().map(|p| {
                    p.data.local = LocalPresence::new(status, note.as_deref());
                    p.appear_offline &= !registered;
                    shown(&p.data, p.appear_offline)
                });
                if let (Ok(local), Some(agent)) = (&r, &mut self.agent) {
                    agent.show(now, local.clone());
                }
                let _ = reply.send(r.map(drop));
            }
            PresenceCommand::SetModes {
                privacy,
                offer,
                reply,
            } => {
                let r = self.presence_mut().map(|p| {
                    if let Some(m) = privacy {
                        p.data.watchers.privacy = m;
                    }
                    if let Some(m) = offer {
                        p.data.watchers.offer = m;
                    }
                });
                self.apply_watcher_policy(now);
                let _ = reply.send(r);
            }
        }
        if edits && let Some(p) = &mut self.presence {
            p.autosave.changed(now);
            self.server_rules.want(&p.data.watchers);
            self.server_lists.want(&p.data.buddies);
        }
    }

    pub(super) fn presence_mut(&mut self) -> Result<&mut PresenceState> {
        self.presence.as_mut().ok_or(Error::PresenceDisabled)
    }

    /// Takes and loads the store (a missing file is an empty list; one another client holds
    /// is [`presence::Error::StoreLocked`]) and starts the agent if a profile is there for it.
    /// Enabled before any registration, the user appears offline.
    pub(super) fn enable_presence(&mut self, store: Store) -> Result<()> {
        if self.presence.is_some() {
            return Err(Error::PresenceEnabled);
        }
        self.adopt_store_instance(&store);
        let (autosave, data) = Autosave::open(store)?;
        let appear_offline = !self
            .profiles
            .values()
            .any(|p| p.registration.state() == RegistrationState::Registered);
        self.presence = Some(PresenceState {
            autosave,
            data,
            appear_offline,
        });
        self.start_agent()
    }

    /// Exports to the store first, then ends every subscription and clears the lists. If the
    /// export fails, nothing else happens: presence stays enabled and working, and nothing is
    /// lost.
    pub(super) async fn disable_presence(&mut self, now: Instant) -> Result<()> {
        let presence = self.presence.as_mut().ok_or(Error::PresenceDisabled)?;
        presence.autosave.flush(&presence.data).await?;
        self.retire_agent(now);
        self.presence = None;
        Ok(())
    }

    /// Imports presence data, then makes it take effect: the buddies it holds are watched and
    /// those a replacing import dropped no longer are, every watcher subscribed now is decided
    /// by the imported policy, and our presence as imported is shown. Every buddy is tried;
    /// the first failure is returned.
    pub(super) fn import(&mut self, now: Instant, path: PathBuf, mode: ImportMode) -> Result<()> {
        let p = self.presence_mut()?;
        let before: Vec<String> = p.data.buddies.iter().map(|b| b.uri.to_string()).collect();
        Store::file(path).import_into(&mut p.data, mode)?;
        // Subscriptions are under the exact URI a buddy was added with: a buddy the import
        // dropped, or brought back spelled otherwise, is no longer watched under the old one.
        let dropped: Vec<String> = before
            .into_iter()
            .filter(|uri| p.data.buddies.get(uri).is_none_or(|b| *b.uri != **uri))
            .collect();
        let buddies: Vec<(String, presence::SubscriptionType)> = p
            .data
            .buddies
            .iter()
            .map(|b| (b.uri.to_string(), b.subscription))
            .collect();
        let local = shown(&p.data, p.appear_offline);
        self.apply_watcher_policy(now);
        let Some(agent) = &mut self.agent else {
            return Ok(());
        };
        // A merge keeps our status; a replace brings the imported one.
        if mode == ImportMode::Replace {
            agent.show(now, local);
        }
        let mut result = Ok(());
        for uri in dropped {
            result = result.and(agent.unwatch(now, &uri));
        }
        for (uri, kind) in buddies {
            result = result.and(agent.watch(now, &uri, kind));
        }
        result
    }

    pub(super) fn add_buddy(&mut self, now: Instant, uri: &str, name: &str) -> Result<()> {
        crate::agent::check_buddy_uri(uri, &self.config.transport.parse)?;
        let p = self.presence_mut()?;
        let buddy = Buddy::new(uri, name)?;
        if p.data.buddies.get(uri).is_some() {
            // Replacing would reset its groups, data and subscription type.
            return Err(Error::BuddyExists(uri.to_owned()));
        }
        let kind = buddy.subscription;
        p.data.buddies.add(buddy)?;
        if let Some(agent) = &mut self.agent {
            agent.watch(now, uri, kind)?;
        }
        Ok(())
    }

    /// Allows or blocks `uri`: its own entry in the list, and its subscriptions now.
    pub(super) fn set_watcher(
        &mut self,
        now: Instant,
        uri: &str,
        state: WatcherState,
    ) -> Result<()> {
        let p = self.presence_mut()?;
        match p.data.watchers.get_mut(uri, Scope::User) {
            Some(w) => w.state = state,
            None => {
                p.data.watchers.add(Watcher::new(uri, state, Scope::User))?;
            }
        }
        self.apply_watcher_policy(now);
        Ok(())
    }

    /// Decides every watcher subscribed now by the list as it stands. The list matches by
    /// address of record (and domain entries), so this reaches a watcher however the
    /// application spelled its address; a decision unchanged sends nothing.
    pub(super) fn apply_watcher_policy(&mut self, now: Instant) {
        let (Some(agent), Some(p)) = (&mut self.agent, &self.presence) else {
            return;
        };
        for uri in agent.watchers() {
            if let Ok(decision) = p.data.watchers.policy(&uri) {
                agent.decide(now, &uri, decision);
            }
        }
    }

    /// Watchers the presence server holds pending: each one the watcher list leaves
    /// undecided is added to it as offering and offered to the application, as a watcher
    /// subscribing to us directly is; one decided already is written to the server's rules by
    /// the next sync.
    fn offer_server_watchers(&mut self, offers: Vec<(String, Option<String>)>) {
        let Some(p) = &mut self.presence else {
            return;
        };
        if offers.is_empty() {
            return;
        }
        for (uri, name) in offers {
            match p
                .data
                .watchers
                .admit(&uri, name.as_deref().unwrap_or_default())
            {
                Ok(presence::WatcherDecision::Offer) => {
                    self.pending_events.push_back(Event::Watcher {
                        uri,
                        name,
                        state: WatcherState::Offering,
                    })
                }
                Ok(_) => {}
                Err(e) => debug!("watcher {uri} from the server: {e}"),
            }
        }
        self.server_rules.want(&p.data.watchers);
    }

    /// The agent of `generation`: the current one, or one retiring.
    pub(super) fn agent_of(&mut self, generation: u64) -> Option<&mut Agent> {
        match self.agent.as_mut() {
            Some(agent) if generation == self.agent_generation => Some(agent),
            _ => self
                .retiring
                .iter_mut()
                .find(|r| r.generation == generation)
                .map(|r| &mut r.agent),
        }
    }

    /// Sends presence requests: out of dialog through the profile's outbound proxy; in dialog
    /// to the first Route or the remote target.
    pub(super) fn send_presence(
        &mut self,
        generation: u64,
        profile: &str,
        out: Vec<(PresenceRole, presence::OutgoingRequest)>,
    ) {
        let outbound = self.profiles.get(profile).and_then(ProfileState::next_hop);
        for (core, r) in out {
            let in_dialog = r.message.to_header().is_ok_and(|t| t.tag().is_some());
            let hop = if in_dialog {
                next_hop(&r.message)
            } else {
                None
            };
            let Some(target) = hop.or_else(|| outbound.clone()) else {
                warn!("no next hop for {:?}", r.message.method());
                continue;
            };
            self.send(
                profile.to_owned(),
                Owner::Presence {
                    generation,
                    core,
                    handle: r.handle,
                },
                r.message,
                target,
            );
        }
    }

    pub(super) fn drain_agent(&mut self) {
        if let Some(agent) = &mut self.agent {
            let mut out = Vec::new();
            agent.poll_requests(&mut out);
            agent.poll_events(&mut self.pending_events);
            agent.refresh_list(Self::now(), false);
            agent.poll_requests(&mut out);
            if agent.list_failed() {
                debug!("the server does not serve the buddy list: watching each buddy");
                agent.fall_back(Self::now());
                agent.poll_requests(&mut out);
                agent.poll_events(&mut self.pending_events);
            }
            let offers = agent.take_server_offers();
            let profile = agent.profile.clone();
            self.offer_server_watchers(offers);
            self.send_presence(self.agent_generation, &profile, out);
        }
        let mut sends = Vec::new();
        for r in &mut self.retiring {
            let mut out = Vec::new();
            r.agent.poll_requests(&mut out);
            r.agent.poll_events(&mut VecDeque::new());
            if !out.is_empty() {
                sends.push((r.generation, r.agent.profile.clone(), out));
            }
        }
        for (generation, profile, out) in sends {
            self.send_presence(generation, &profile, out);
        }
    }
}
