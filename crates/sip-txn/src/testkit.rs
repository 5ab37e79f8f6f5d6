//! A test harness in the shape of quinn-proto's `Pair`: a client layer and a server layer joined
//! by an in-memory network with a simulated clock that can drop and delay datagrams. Feature
//! `testkit`: for tests, not for production code.
//!
//! Deterministic: loss comes from a seeded generator, time only moves when the harness moves it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{Message, MessageBuilder, Method};

use crate::{
    ClientKey, Event, ServerKey, Target, TerminationReason, TimerConfig, TransactionLayer,
    Transmit, TransportKind,
};

/// One side of the [`Pair`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The side that sends requests.
    Client,
    /// The side that answers them.
    Server,
}

/// A message on the simulated wire.
#[derive(Debug, Clone)]
pub struct Packet {
    /// When it was sent.
    pub sent: Instant,
    /// Who sent it.
    pub from: Side,
    /// What was sent.
    pub payload: Bytes,
    /// Whether the link dropped it.
    pub dropped: bool,
}

/// The link between the two layers.
#[derive(Debug, Clone)]
pub struct Link {
    /// Probability in 0..=1 that an unreliable datagram is lost.
    pub loss: f64,
    /// One-way delay of every message.
    pub delay: Duration,
    /// State of the loss generator (xorshift64*; never 0).
    pub seed: u64,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            loss: 0.0,
            delay: Duration::from_millis(10),
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

impl Link {
    fn lose(&mut self) -> bool {
        // xorshift64*: a fixed, seedable sequence.
        let mut x = self.seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed = x;
        let r = (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        r < self.loss
    }
}

/// A server's automatic answer to every new request (none: the test answers by hand).
pub type Responder = fn(&Message) -> Option<(u16, &'static str)>;

/// Two transaction layers, a link and a clock.
#[derive(Debug)]
pub struct Pair {
    /// The simulated time.
    pub now: Instant,
    /// The client's layer.
    pub client: TransactionLayer,
    /// The server's layer.
    pub server: TransactionLayer,
    /// The transport both use.
    pub transport: TransportKind,
    /// The link (loss, delay).
    pub link: Link,
    /// Answers the server gives by itself.
    pub responder: Option<Responder>,
    /// Every event of the client layer, in order.
    pub client_events: Vec<Event>,
    /// Every event of the server layer, in order.
    pub server_events: Vec<Event>,
    /// Every message put on the wire, in order.
    pub log: Vec<Packet>,
    in_flight: Vec<(Instant, Side, Bytes)>,
}

/// The client's address.
pub const CLIENT_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(192, 0, 2, 1),
    5060,
));
/// The server's address.
pub const SERVER_ADDR: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(192, 0, 2, 2),
    5060,
));

/// An arbitrary origin for simulated time: only offsets from it matter.
#[allow(clippy::disallowed_methods)] // reason: the simulated clock needs some Instant to start at
pub fn epoch() -> Instant {
    Instant::now()
}

/// A request from the client to the server with a fresh branch, `seq` as CSeq and Call-ID.
pub fn request(method: Method<'_>, transport: TransportKind, seq: u32) -> Message {
    let branch = crate::new_branch().unwrap_or_else(|_| format!("z9hG4bKseq{seq}"));
    let wire = MessageBuilder::request(method, "sip:bob@192.0.2.2")
        .header(
            "Via",
            &format!("SIP/2.0/{transport} 192.0.2.1:5060;branch={branch}"),
        )
        .and_then(|b| b.header("Max-Forwards", "70"))
        .and_then(|b| b.header("From", "<sip:alice@192.0.2.1>;tag=a1"))
        .and_then(|b| b.header("To", "<sip:bob@192.0.2.2>"))
        .and_then(|b| b.header("Call-ID", &format!("call-{seq}@192.0.2.1")))
        .and_then(|b| b.header("CSeq", &format!("{seq} {method}")))
        .and_then(|b| b.header("Contact", "<sip:alice@192.0.2.1>"))
        .map(MessageBuilder::build)
        .unwrap_or_default();
    Message::parse(wire).unwrap_or_else(|e| panic!("testkit request does not parse: {e}"))
}

/// A response to `request` with `code`, tagged unless 100.
pub fn response(request: &Message, code: u16, reason: &str) -> Message {
    let tag = (code > 100).then_some("b1");
    let wire = MessageBuilder::response_to(request, code, reason, tag)
        .and_then(|b| b.header("Contact", "<sip:bob@192.0.2.2>"))
        .map(MessageBuilder::build)
        .unwrap_or_default();
    Message::parse(wire).unwrap_or_else(|e| panic!("testkit response does not parse: {e}"))
}

impl Pair {
    /// Two layers with `config` over `transport`, a lossless link with 10 ms delay.
    pub fn new(transport: TransportKind, config: TimerConfig) -> Self {
        Self {
            now: epoch(),
            client: TransactionLayer::new(config),
            server: TransactionLayer::new(config),
            transport,
            link: Link::default(),
            responder: None,
            client_events: Vec::new(),
            server_events: Vec::new(),
            log: Vec::new(),
            in_flight: Vec::new(),
        }
    }

    /// Where the client sends.
    pub fn server_target(&self) -> Target {
        self.target(SERVER_ADDR)
    }

    fn target(&self, addr: SocketAddr) -> Target {
        Target {
            transport: self.transport,
            addr,
            server_name: None,
        }
    }

    /// Starts a client transaction for `request` and drives the network.
    pub fn send_request(&mut self, request: Message) -> ClientKey {
        let target = self.server_target();
        let key = self
            .client
            .send_request(self.now, request, target)
            .unwrap_or_else(|e| panic!("send_request: {e}"));
        self.drive();
        key
    }

    /// Answers server transaction `key` and drives the network.
    pub fn respond(&mut self, key: ServerKey, response: Message) {
        self.server
            .send_response(self.now, key, response)
            .unwrap_or_else(|e| panic!("send_response: {e}"));
        self.drive();
    }

    /// Moves every output across: transmits onto the link, due packets into the layers, events
    /// into the logs (answering new requests with the responder), until nothing moves.
    pub fn drive(&mut self) {
        loop {
            let mut moved = false;
            for side in [Side::Client, Side::Server] {
                while let Some(t) = self.layer(side).poll_transmit() {
                    moved = true;
                    self.put_on_wire(side, t);
                }
                while let Some(e) = self.layer(side).poll_event() {
                    moved = true;
                    self.on_event(side, e);
                }
            }
            let now = self.now;
            let due: Vec<_> = {
                let (due, later) = std::mem::take(&mut self.in_flight)
                    .into_iter()
                    .partition(|(at, _, _)| *at <= now);
                self.in_flight = later;
                due
            };
            for (_, from, payload) in due {
                moved = true;
                let Ok(msg) = Message::parse(payload) else {
                    continue;
                };
                let (to, source) = match from {
                    Side::Client => (Side::Server, self.target(CLIENT_ADDR)),
                    Side::Server => (Side::Client, self.target(SERVER_ADDR)),
                };
                let _ = self.layer(to).handle_message(now, source, msg);
            }
            if !moved {
                break;
            }
        }
    }

    fn layer(&mut self, side: Side) -> &mut TransactionLayer {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn put_on_wire(&mut self, from: Side, t: Transmit) {
        let dropped = !t.reliable && self.link.lose();
        self.log.push(Packet {
            sent: self.now,
            from,
            payload: t.payload.clone(),
            dropped,
        });
        if !dropped {
            self.in_flight
                .push((self.now + self.link.delay, from, t.payload));
        }
    }

    fn on_event(&mut self, side: Side, e: Event) {
        if side == Side::Server
            && let (Some(responder), Event::Request { key, request, .. }) = (self.responder, &e)
            && let Some((code, reason)) = responder(request)
        {
            let rsp = response(request, code, reason);
            let _ = self.server.send_response(self.now, *key, rsp);
        }
        match side {
            Side::Client => self.client_events.push(e),
            Side::Server => self.server_events.push(e),
        }
    }

    /// The next instant anything happens: a timer of either layer or a packet arriving.
    pub fn next_wakeup(&mut self) -> Option<Instant> {
        let arrivals = self.in_flight.iter().map(|(at, _, _)| *at).min();
        [
            self.client.poll_timeout(),
            self.server.poll_timeout(),
            arrivals,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Jumps to the next wake-up (if not later than `limit`) and handles it. Returns whether
    /// anything was pending before `limit`.
    pub fn step(&mut self, limit: Instant) -> bool {
        match self.next_wakeup() {
            Some(at) if at <= limit => {
                self.now = self.now.max(at);
                self.client.handle_timeout(self.now);
                self.server.handle_timeout(self.now);
                self.drive();
                true
            }
            _ => false,
        }
    }

    /// Runs until nothing is pending or `d` has passed; the clock ends at `now + d` at most.
    pub fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        while self.step(limit) {}
        self.now = self.now.max(limit);
        self.drive();
    }

    /// Runs until neither layer has anything left to do (bounded by one hour of simulated time).
    pub fn run(&mut self) {
        let limit = self.now + Duration::from_secs(3600);
        while self.step(limit) {}
    }

    /// How client transaction `key` ended, if it did.
    pub fn client_termination(&self, key: ClientKey) -> Option<TerminationReason> {
        self.client_events.iter().find_map(|e| match e {
            Event::Terminated { key: k, reason } if *k == key.into() => Some(*reason),
            _ => None,
        })
    }

    /// The final response client transaction `key` passed up, if any.
    pub fn final_response(&self, key: ClientKey) -> Option<&Message> {
        self.client_events.iter().find_map(|e| match e {
            Event::Response { key: k, response } if *k == key && response.status() >= Some(200) => {
                Some(response)
            }
            _ => None,
        })
    }
}
