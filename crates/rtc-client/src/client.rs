//! The application's handle: [`Client`], started by [`ClientBuilder`], with its [`Events`].

use std::time::SystemTime;

use bytes::Bytes;

use provisioning::{Profile, RegisterFlags};
use sip_transport::resolve::StaticDns;
use sip_transport::{Transport, TransportConfig};
use sip_txn::TimerConfig;
use sip_txn::driver::{Driver, DriverConfig};
use tokio::sync::{mpsc, oneshot};

use std::path::Path;

use presence::{Buddy, ImportMode, OfferMode, PrivacyMode, Status, Store, Watcher, WatcherState};

use crate::engine::{Command, Engine, PresenceCommand};
use crate::event_queue::{self, EventReceiver};
use crate::session::SessionCommand;
use crate::{Error, Event, Result};

/// How often a connection we opened (to the registrar, above all) is pinged with CRLF CRLF
/// (RFC 5626 §3.5.1). A server closes a connection it hears nothing on (Kamailio and OpenSIPS
/// after 120 s by default), which would cut the server's way to us and, noticed here, force a
/// re-registration; a ping well inside that keeps the flow up, and a ping left unanswered
/// reports a dead flow without waiting for the next REGISTER (§4.4.1).
const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(50);

/// How a [`Client`] runs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Listeners and TLS settings. The default listens on UDP and TCP at `0.0.0.0`, ports
    /// chosen by the system, and pings the connections it opens every 40–50 s. Its message
    /// limits ([`TransportConfig::parse`], 64 KiB by default) bound what the client reads and
    /// what it builds alike: a NOTIFY is never larger than a watcher like us would read.
    pub transport: TransportConfig,
    /// The host this client names in Via and Contact; `None`: the listener's address, or for a
    /// wildcard listener the local address that routes to the first server.
    pub sent_by_host: Option<String>,
    /// Transaction timers (T1, T2, T4).
    pub timers: TimerConfig,
    /// The `User-Agent` header value.
    pub user_agent: String,
    /// Registration expiry to ask for, in seconds.
    pub register_expires: u32,
    /// Fixed DNS answers instead of the system resolver (tests, closed networks).
    pub dns: Option<StaticDns>,
    /// Name servers to ask instead of the system's (`/etc/resolv.conf`), when `dns` is unset.
    pub name_servers: Vec<std::net::SocketAddr>,
    /// How often a buddy of subscription type `Poll` is fetched (a SUBSCRIBE with Expires: 0,
    /// RFC 6665 §4.4.3) instead of being subscribed to. Default 5 minutes, at least a second.
    pub poll_interval: std::time::Duration,
    /// The keep-alive of a registration over UDP: STUN probes to the registrar that keep a
    /// NAT's mapping open and notice an outage within seconds (RFC 5626 §4.4.1). Default: every
    /// 25–29 s, failed after 10 s unanswered. `None` turns it off, except on an outbound flow
    /// (see [`outbound`](Self::outbound)), which RFC 5626 §4.4 requires to be kept alive.
    /// (Streams are kept alive by [`TransportConfig::keepalive_interval`], and outbound ones at
    /// the registrar's `Flow-Timer`, even if that is `None`.)
    pub udp_keepalive: Option<crate::keepalive::KeepAliveConfig>,
    /// The check that a UDP registrar is still there when STUN does not prove it (a registrar
    /// without STUN gets CRLFs, which prove nothing): after 40 s without a word from it the
    /// client sends it an OPTIONS, and registers again if 10 s pass unanswered, so an outage
    /// is noticed within a minute ([`crate::liveness`]). `None` turns it off.
    pub udp_liveness: Option<crate::liveness::LivenessConfig>,
    /// Waits between attempts to subscribe to a buddy after a failure: a SUBSCRIBE answered
    /// 404, 408, 480, 503… or not at all, a subscription ended with `probation`, `giveup` or no
    /// reason (RFC 6665 §4.1.3). Default 30 s doubling to an hour, each wait spread over its
    /// upper half; a Retry-After from the server replaces it.
    pub subscription_backoff: presence::Backoff,
    /// How many events wait for the application before the client lags: then only the latest
    /// state of each buddy, buddy subscription, registration and of the publication is kept
    /// (up to this many, and at least 65,536: a list NOTIFY can bring thousands at once),
    /// everything else is counted, and [`Event::Lagged`] says how many were dropped once the
    /// application has caught up. The client never waits for the application. Default 1024, at least 1.
    pub event_capacity: usize,
    /// How many commands (calls on [`Client`]) wait for the client's task; a call beyond that
    /// waits for room. Default 64, at least 1.
    pub command_capacity: usize,
    /// How long an incoming invitation waits for an answer before it is refused with 480
    /// Temporarily Unavailable ([`SessionEnd::Expired`](crate::SessionEnd::Expired)). Default
    /// 3 minutes.
    pub invite_expiry: std::time::Duration,
    /// Whether REGISTERs ask for SIP Outbound (RFC 5626): an instance id and `reg-id` on the
    /// Contact, `Supported: outbound, path`. Its behaviour (the binding on the flow, keep-alives
    /// at the registrar's `Flow-Timer`, `;ob` on dialog Contacts, no Contact rewrite) applies
    /// only where the registrar's 2xx says `Require: outbound`; elsewhere the client keeps to
    /// RFC 3581. Default `true`.
    pub outbound: bool,
    /// This device's `+sip.instance` (RFC 5626 §4.1), which lets a registrar replace the
    /// binding of an earlier run of this client instead of keeping a second one. `None` (the
    /// default): the one kept beside the presence store ([`Store::instance_path`](presence::Store::instance_path),
    /// created on first use) when presence is enabled before the first profile, as `rtc login`
    /// does; else one generated for this process, which a restart does not keep.
    pub instance: Option<crate::outbound::InstanceId>,
    /// The XCAP root of the presence server (RFC 4825 §6.1), e.g.
    /// `https://xcap.example.com/xcap-root`; the provisioning profile has no field for it.
    /// Set, the watcher list is kept on the server too, as the user's pres-rules document
    /// (RFC 5025): allowing, blocking and removing watchers and the privacy modes then decide
    /// who watches us through the presence server, not only peer to peer. Requests use the
    /// profile's credentials (digest) and, for `https`, [`TransportConfig::tls_client`]'s
    /// verification. Default `None`. Feature `xcap` (on by default).
    #[cfg(feature = "xcap")]
    #[cfg_attr(docsrs, doc(cfg(feature = "xcap")))]
    pub xcap_root: Option<xcap::XcapRoot>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            transport: TransportConfig {
                udp: vec!["0.0.0.0:0".parse().expect("literal address")],
                tcp: vec!["0.0.0.0:0".parse().expect("literal address")],
                keepalive_interval: Some(KEEPALIVE),
                ..TransportConfig::default()
            },
            sent_by_host: None,
            timers: TimerConfig::default(),
            user_agent: concat!("rtc-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            register_expires: 3600,
            dns: None,
            name_servers: Vec::new(),
            poll_interval: crate::agent::DEFAULT_POLL_INTERVAL,
            udp_keepalive: Some(crate::keepalive::KeepAliveConfig::default()),
            udp_liveness: Some(crate::liveness::LivenessConfig::default()),
            subscription_backoff: presence::subscriber::RETRY_BACKOFF,
            event_capacity: 1024,
            command_capacity: 64,
            invite_expiry: crate::DEFAULT_INVITE_EXPIRY,
            outbound: true,
            instance: None,
            #[cfg(feature = "xcap")]
            xcap_root: None,
        }
    }
}

impl ClientConfig {
    /// Whether a presence server's XCAP root is set (never without the `xcap` feature).
    pub(crate) fn has_xcap(&self) -> bool {
        #[cfg(feature = "xcap")]
        return self.xcap_root.is_some();
        #[cfg(not(feature = "xcap"))]
        false
    }

    /// The settings the presence agent takes from here.
    pub(crate) fn agent_timing(&self) -> crate::agent::AgentTiming {
        crate::agent::AgentTiming {
            poll_interval: self.poll_interval,
            subscription_backoff: self.subscription_backoff,
        }
    }
}

/// Starts a [`Client`] (`IRTCClient::Initialize`).
///
/// ```no_run
/// # async fn f() -> rtc_client::Result<()> {
/// let (client, mut events) = rtc_client::Client::builder().start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct ClientBuilder {
    config: ClientConfig,
}

impl ClientBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// Binds the listeners and starts the client's task; must run inside a tokio runtime.
    pub async fn start(self) -> Result<(Client, Events)> {
        let config = self.config;
        let (transport, transport_events) = Transport::bind(config.transport.clone()).await?;
        let (driver, incoming) = Driver::start(
            transport,
            transport_events,
            DriverConfig {
                timers: config.timers,
                sent_by_host: config.sent_by_host.clone(),
                ..DriverConfig::default()
            },
        )?;
        let (commands, commands_rx) = mpsc::channel(config.command_capacity.max(1));
        let (events, events_rx) = event_queue::channel(config.event_capacity);
        let engine = Engine::new(config, driver, incoming, commands_rx, events);
        tokio::spawn(engine.run());
        Ok((Client { commands }, Events(events_rx)))
    }
}

/// The events of one [`Client`], in order. At most
/// [`ClientConfig::event_capacity`] wait; an application that falls further behind gets
/// [`Event::Lagged`] and the latest states instead of every event (see the field's docs).
#[derive(Debug)]
pub struct Events(EventReceiver);

impl Events {
    /// The next event; `None` once the client has shut down.
    pub async fn recv(&mut self) -> Option<Event> {
        self.0.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.0.try_recv()
    }
}

/// A running client: cheap to clone, every clone drives the same task.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
}

impl Client {
    /// A builder with the default configuration.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Creates a profile from provisioning XML (`CreateProfile`): schema-checked, and refused
    /// if it has expired.
    pub fn create_profile(&self, xml: &str) -> Result<Profile> {
        let profile = Profile::from_xml(xml)?;
        #[allow(clippy::disallowed_methods)] // the facade owns the clock
        profile.check_expiry(SystemTime::now())?;
        Ok(profile)
    }

    /// Registers `profile` for the sessions `flags` names (`EnableProfile`). Returns once the
    /// registration has started; its progress comes as [`Event::Registration`]. The servers
    /// are looked up (RFC 3263) in the background, again when their DNS TTL expires and after
    /// every server failed: a failed lookup is an `Error` event saying why, retried with
    /// backoff, not an error here.
    pub async fn enable_profile(&self, profile: &Profile, flags: RegisterFlags) -> Result<()> {
        self.call(|reply| Command::EnableProfile {
            profile: Box::new(profile.clone()),
            flags,
            reply,
        })
        .await
    }

    /// Logs off (`DoSIPLogoff`): ends the profile's sessions (BYE, CANCEL, or 480 for an
    /// invitation still ringing), removes the binding (REGISTER with expires 0) and forgets
    /// the profile. Returns when the registrar answered or gave up.
    pub async fn disable_profile(&self, profile: &Profile) -> Result<()> {
        self.call(|reply| Command::DisableProfile {
            key: profile.key.clone(),
            reply,
        })
        .await
    }

    /// Sends a `text/plain` instant message (RFC 3428) through the first enabled profile;
    /// returns when the recipient accepted it.
    pub async fn send_message(&self, to: &str, text: &str) -> Result<()> {
        self.call(|reply| Command::SendMessage {
            to: to.to_owned(),
            content_type: "text/plain;charset=UTF-8".to_owned(),
            body: text.as_bytes().to_vec().into(),
            reply,
        })
        .await
    }

    /// Sends a message of any type (RFC 3428; `IRTCSession::SendMessage` with its content
    /// type), e.g. `text/plain;charset=ISO-8859-1` with the text so encoded; returns when the
    /// recipient accepted it. A recipient that cannot take the type answers 415:
    /// [`Error::Refused`](crate::Error::Refused).
    ///
    /// ```no_run
    /// # async fn f(client: &rtc_client::Client) -> rtc_client::Result<()> {
    /// client
    ///     .send_content("sip:bob@example.com", "text/plain;charset=ISO-8859-1", b"caf\xe9".to_vec())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_content(
        &self,
        to: &str,
        content_type: &str,
        body: impl Into<bytes::Bytes>,
    ) -> Result<()> {
        let body = body.into();
        self.call(|reply| Command::SendMessage {
            to: to.to_owned(),
            content_type: content_type.to_owned(),
            body,
            reply,
        })
        .await
    }

    /// Tells `to` that we are (`true`) or stopped (`false`) composing a message (RFC 3994
    /// §3.2). Call it with `true` at each sign of composing (a keystroke, say): only a change
    /// of state is sent, and returns when the peer accepted it. While active, the indication is
    /// refreshed every 120 s; 15 s after the last call with `true`, or when a message is sent
    /// to `to`, the state is idle (the peer is told, unless a message told it already).
    pub async fn set_typing(&self, to: &str, active: bool) -> Result<()> {
        self.call(|reply| Command::SetTyping {
            to: to.to_owned(),
            active,
            reply,
        })
        .await
    }

    /// Answers the invitation `id` from [`Event::Invite`]: accepted (200 OK, every offered
    /// media stream declined) or declined (603 Decline). Accepted, the 200 is retransmitted
    /// until the caller's ACK ([`Event::SessionConfirmed`]); with no ACK in 64·T1 the session
    /// is hung up ([`SessionEnd::NoAck`](crate::SessionEnd::NoAck)).
    pub async fn answer_invite(&self, id: u64, accept: bool) -> Result<()> {
        self.session(|reply| SessionCommand::Answer {
            id,
            accept,
            sdp: None,
            reply,
        })
        .await
    }

    /// Accepts the invitation `id` from [`Event::Invite`] with `sdp` as the answer (signalling
    /// only: the application makes the SDP and carries the media); see
    /// [`answer_invite`](Self::answer_invite).
    pub async fn accept_invite(&self, id: u64, sdp: impl Into<Bytes>) -> Result<()> {
        let sdp = Some(sdp.into());
        self.session(|reply| SessionCommand::Answer {
            id,
            accept: true,
            sdp,
            reply,
        })
        .await
    }

    /// Calls `uri` (a SIP URI) offering `sdp` (empty: no offer), from the first registered
    /// profile, through its proxy or registrar; challenges are answered with its credentials.
    /// Returns the session's id at once; what follows comes as events:
    /// [`Event::SessionProgress`], then [`Event::SessionAnswered`] or [`Event::SessionFailed`],
    /// then [`Event::SessionEnded`].
    ///
    /// ```no_run
    /// # async fn f(client: rtc_client::Client) -> rtc_client::Result<()> {
    /// let sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n";
    /// let id = client.invite("sip:bob@example.com", sdp).await?;
    /// client.hang_up(id).await?; // once answered; `cancel(id)` before
    /// # Ok(()) }
    /// ```
    pub async fn invite(&self, uri: &str, sdp: impl Into<Bytes>) -> Result<u64> {
        let sdp: Bytes = sdp.into();
        let to = uri.to_owned();
        self.session(|reply| SessionCommand::Invite {
            to,
            sdp: (!sdp.is_empty()).then_some(sdp),
            reply,
        })
        .await
    }

    /// Cancels our call `id` before it is answered (CANCEL, RFC 3261 §9.1): it ends with
    /// [`SessionEnd::Cancelled`](crate::SessionEnd::Cancelled).
    pub async fn cancel(&self, id: u64) -> Result<()> {
        self.session(|reply| SessionCommand::Cancel { id, reply })
            .await
    }

    /// Ends the answered session `id`, ours or the peer's (BYE): it ends with
    /// [`SessionEnd::HungUp`](crate::SessionEnd::HungUp).
    pub async fn hang_up(&self, id: u64) -> Result<()> {
        self.session(|reply| SessionCommand::HangUp { id, reply })
            .await
    }

    /// Enables presence (`EnablePresence(TRUE)`) with buddies, watchers, policies and the local
    /// status loaded from `store` (a missing file starts empty; a corrupt one is an error and
    /// is left untouched). Works before or after registering: enabled before, the user appears
    /// offline to watchers until they set a status, while still seeing their buddies.
    ///
    /// The store is taken for this client ([`Store::lock`]): another client on it, in this
    /// process or another, gets
    /// [`PresenceError::StoreLocked`](crate::PresenceError::StoreLocked) until presence is
    /// disabled here. Every edit is saved within about a second, off the client's task; also at
    /// [`Client::disable_presence`], at shutdown, and when the client is dropped.
    pub async fn enable_presence(&self, store: Store) -> Result<()> {
        self.presence(|reply| PresenceCommand::Enable { store, reply })
            .await
    }

    /// Disables presence (`EnablePresence(FALSE)`): exports to the store first, then ends
    /// every subscription (final NOTIFYs to watchers, unsubscribes from buddies) and clears the
    /// lists. If the export fails, nothing else happens: presence stays enabled and working.
    pub async fn disable_presence(&self) -> Result<()> {
        self.presence(|reply| PresenceCommand::Disable { reply })
            .await
    }

    /// Writes the presence data to `path` (atomically).
    pub async fn export(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref().to_owned();
        self.presence(|reply| PresenceCommand::Export { path, reply })
            .await
    }

    /// Reads presence data from `path`, replacing or merging with what is there.
    pub async fn import(&self, path: impl AsRef<Path>, mode: ImportMode) -> Result<()> {
        let path = path.as_ref().to_owned();
        self.presence(|reply| PresenceCommand::Import { path, mode, reply })
            .await
    }

    /// Adds a buddy and starts watching it (`AddBuddy`). A buddy with the same address of
    /// record is already there: [`Error::BuddyExists`](crate::Error::BuddyExists), and the
    /// entry is left as it was. A URI too long for a subscription within the message limits
    /// ([`TransportConfig::parse`]; about 15 KiB by default) is refused with
    /// [`Error::BuddyUriTooLong`](crate::Error::BuddyUriTooLong), which names the limit.
    pub async fn add_buddy(&self, uri: &str, name: &str) -> Result<()> {
        let (uri, name) = (uri.to_owned(), name.to_owned());
        self.presence(|reply| PresenceCommand::AddBuddy { uri, name, reply })
            .await
    }

    /// Stops watching a buddy and removes it (`RemoveBuddy`).
    pub async fn remove_buddy(&self, uri: &str) -> Result<()> {
        let uri = uri.to_owned();
        self.presence(|reply| PresenceCommand::RemoveBuddy { uri, reply })
            .await
    }

    /// The buddy list (`EnumerateBuddies`).
    pub async fn buddies(&self) -> Result<Vec<Buddy>> {
        self.presence(|reply| PresenceCommand::Buddies { reply })
            .await
    }

    /// The watcher list (`EnumerateWatchers`).
    pub async fn watchers(&self) -> Result<Vec<Watcher>> {
        self.presence(|reply| PresenceCommand::Watchers { reply })
            .await
    }

    /// Lets `uri` see our presence, now and from now on.
    pub async fn allow_watcher(&self, uri: &str) -> Result<()> {
        self.set_watcher(uri, WatcherState::Allowed).await
    }

    /// Blocks `uri`: it sees us offline from now on.
    pub async fn block_watcher(&self, uri: &str) -> Result<()> {
        self.set_watcher(uri, WatcherState::Blocked).await
    }

    async fn set_watcher(&self, uri: &str, state: WatcherState) -> Result<()> {
        let uri = uri.to_owned();
        self.presence(|reply| PresenceCommand::SetWatcher { uri, state, reply })
            .await
    }

    /// Removes the watcher entry of `uri` (`RemoveWatcher`). Its subscriptions, now and
    /// later, are decided as a new watcher's would be (offered again, with the default modes),
    /// so an allowed watcher removed stops seeing our presence at once.
    pub async fn remove_watcher(&self, uri: &str) -> Result<()> {
        let uri = uri.to_owned();
        self.presence(|reply| PresenceCommand::RemoveWatcher { uri, reply })
            .await
    }

    /// Sets our status and note (`SetLocalPresenceInfo`): every allowed watcher is notified,
    /// and the presence server, if there is one, gets a PUBLISH.
    pub async fn set_local_presence(&self, status: Status, note: Option<&str>) -> Result<()> {
        let note = note.map(str::to_owned);
        self.presence(|reply| PresenceCommand::SetLocal {
            status,
            note,
            reply,
        })
        .await
    }

    /// Sets the privacy mode (block list, or allow list only) and what happens to watchers not
    /// in the list (offered to the application, or added automatically).
    pub async fn set_watcher_modes(
        &self,
        privacy: Option<PrivacyMode>,
        offer: Option<OfferMode>,
    ) -> Result<()> {
        self.presence(|reply| PresenceCommand::SetModes {
            privacy,
            offer,
            reply,
        })
        .await
    }

    /// Stops the client: every profile logs off and every subscription ends (waiting at most
    /// 2 s for the notifiers' final NOTIFYs, RFC 6665 §4.1.2.3), then the transports close.
    pub async fn shutdown(&self) -> Result<()> {
        self.call(|reply| Command::Shutdown { reply }).await
    }

    async fn presence<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> PresenceCommand,
    ) -> Result<T> {
        self.call(|reply| Command::Presence(command(reply))).await
    }

    async fn session<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> SessionCommand,
    ) -> Result<T> {
        self.call(|reply| Command::Session(command(reply))).await
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }
}
