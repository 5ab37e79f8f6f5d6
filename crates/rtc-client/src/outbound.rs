//! SIP Outbound (RFC 5626) as the client uses it: the instance id that names this device across
//! restarts (§4.1), the `reg-id` and `+sip.instance` of its REGISTER Contacts (§4.2), and what
//! the registrar's 2xx says about it (§4.2.1: `Require: outbound`, `Flow-Timer`).
//!
//! With an instance id and a `reg-id`, a registrar that supports outbound keys our binding by
//! them instead of by the Contact URI: a client restarted on the same device (same instance id,
//! another port or address) replaces its binding rather than adding a second one (§6), and the
//! registrar reaches us over the flow the REGISTER came on, so no Contact rewrite is needed
//! behind NAT. A registrar that does not support outbound ignores both parameters; the client
//! then keeps to RFC 3581 (the Contact follows `received`/`rport`).
//!
//! ```
//! use rtc_client::outbound::InstanceId;
//!
//! let id = InstanceId::generate()?;
//! assert!(id.as_str().starts_with("urn:uuid:"));
//! assert_eq!(InstanceId::parse(id.as_str())?, id);
//! # Ok::<(), rtc_client::Error>(())
//! ```

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sip_parse::{HeaderName, Message};

use crate::{Error, Result};

/// A device's `+sip.instance` (RFC 5626 §4.1): a `urn:uuid:` URN of a version 4 (random) UUID
/// (RFC 9562 §5.4), lower case, the same for the life of the device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

/// The longest instance file read: one URN and a line end, with room to spare.
const FILE_MAX: u64 = 256;

impl InstanceId {
    /// A new random instance id, from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut b = [0u8; 16];
        sip_txn::random_bytes(&mut b)?;
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // the RFC 9562 variant
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        Ok(Self(format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )))
    }

    /// Reads `urn:uuid:` and a UUID in its 8-4-4-4-12 hex form (any case; kept lower case).
    ///
    /// ```
    /// use rtc_client::outbound::InstanceId;
    ///
    /// let id = InstanceId::parse("urn:uuid:F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6")?;
    /// assert_eq!(id.as_str(), "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    /// assert!(InstanceId::parse("urn:uuid:not-a-uuid").is_err());
    /// # Ok::<(), rtc_client::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::InvalidInstance(format!("{why}: {:?}", clip(text)));
        let uuid = text
            .get(..9)
            .filter(|p| p.eq_ignore_ascii_case("urn:uuid:"))
            .map(|_| &text[9..])
            .ok_or_else(|| bad("not a urn:uuid: URN"))?;
        let groups: Vec<&str> = uuid.split('-').collect();
        let sizes = [8, 4, 4, 4, 12];
        if groups.len() != sizes.len()
            || groups
                .iter()
                .zip(sizes)
                .any(|(g, n)| g.len() != n || !g.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(bad("not a UUID (8-4-4-4-12 hex digits)"));
        }
        Ok(Self(format!("urn:uuid:{}", uuid.to_ascii_lowercase())))
    }

    /// The URN, `urn:uuid:…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The instance id kept in the file at `path` (one line, the URN), created with a new one
    /// if the file does not exist. The file is written once, atomically (a temporary file of
    /// its own, flushed, then linked into place, which fails rather than replaces if another
    /// process created it first: then that one is read). A file that holds no instance id is
    /// an error naming it, and is left as it is.
    ///
    /// ```
    /// use rtc_client::outbound::InstanceId;
    ///
    /// let dir = std::env::temp_dir().join(format!("instance-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("presence.xml.instance");
    /// let first = InstanceId::load_or_create(&path)?;
    /// assert_eq!(InstanceId::load_or_create(&path)?, first); // the same after a restart
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if let Some(id) = Self::load(path)? {
            return Ok(id);
        }
        let id = Self::generate()?;
        let io = |op: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::InstanceFile {
                path: p,
                op,
                source,
            }
        };
        let tmp = temp_path(path);
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io("create temporary file", &tmp))?;
            writeln!(file, "{}", id.0).map_err(io("write temporary file", &tmp))?;
            file.sync_all().map_err(io("flush temporary file", &tmp))?;
            Ok::<_, Error>(())
        })();
        let linked = written.and_then(|()| match fs::hard_link(&tmp, path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io("link temporary file to", path)(e)),
        });
        let _ = fs::remove_file(&tmp);
        if !linked? {
            // Another process created it between our look and our link: theirs counts.
            return Self::load(path)?
                .ok_or_else(|| io("read", path)(std::io::Error::from(ErrorKind::NotFound)));
        }
        #[cfg(unix)]
        {
            // The new name is durable only once the directory is flushed.
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io("flush directory", dir))?;
        }
        Ok(id)
    }

    /// The instance id in the file at `path`; `None` if there is no such file.
    fn load(path: &Path) -> Result<Option<Self>> {
        let mut text = String::new();
        let read = File::open(path).and_then(|f| f.take(FILE_MAX).read_to_string(&mut text));
        match read {
            Ok(_) => Self::parse(text.trim())
                .map(Some)
                .map_err(|e| Error::InvalidInstanceFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::InstanceFile {
                path: path.to_path_buf(),
                op: "read",
                source,
            }),
        }
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// At most 40 characters of `text`, for error messages about hostile input.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A temporary name beside `path` no other write uses: the pid and a counter.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{}.{n}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// What a registration asks for under RFC 5626: this device's instance id and the `reg-id` of
/// the flow (one flow per registration here, so `1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The device's instance id.
    pub instance: InstanceId,
    /// The flow's `reg-id` (§4.2), at least 1.
    pub reg_id: u32,
}

impl Outbound {
    /// The instance id on flow 1.
    pub fn new(instance: InstanceId) -> Self {
        Self {
            instance,
            reg_id: 1,
        }
    }

    /// The Contact header parameters of a REGISTER (§4.2):
    /// `;reg-id=1;+sip.instance="<urn:uuid:…>"`.
    pub fn contact_params(&self) -> String {
        format!(
            ";reg-id={};+sip.instance=\"<{}>\"",
            self.reg_id.max(1),
            self.instance
        )
    }
}

/// The `Supported` header value of a REGISTER that asks for outbound (RFC 5626 §4.2, and
/// RFC 3327 Path, which an edge proxy adds).
pub const SUPPORTED: &str = "outbound, path";

/// What the registrar's 2xx said about outbound (§4.2.1), if it supports it: the registration
/// then lives on its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// The `Flow-Timer` (§4.4): keep-alives at 80–100 % of it; `None` if not given.
    pub flow_timer: Option<Duration>,
}

impl Flow {
    /// `Some` if `response` (a 2xx to a REGISTER that asked for outbound) has the option tag
    /// `outbound` in a `Require` header field (§4.2.1); `None` means the registrar ignored
    /// outbound, and RFC 3581 applies.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rtc_client::outbound::Flow;
    /// use sip_parse::Message;
    ///
    /// let ok = Message::parse_slice(
    ///     b"SIP/2.0 200 OK\r\nRequire: outbound\r\nFlow-Timer: 25\r\nContent-Length: 0\r\n\r\n",
    /// )?;
    /// assert_eq!(Flow::of(&ok), Some(Flow { flow_timer: Some(Duration::from_secs(25)) }));
    /// let plain = Message::parse_slice(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")?;
    /// assert_eq!(Flow::of(&plain), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(response: &Message) -> Option<Flow> {
        let required = response
            .headers_named(HeaderName::Require)
            .filter_map(|h| h.value_str().map(str::to_owned))
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("outbound"))
            });
        if !required {
            return None;
        }
        let flow_timer = response
            .headers_by_name("Flow-Timer")
            .next()
            .and_then(|h| h.value_str()?.trim().parse::<u32>().ok())
            .filter(|&s| s > 0)
            .map(|s| Duration::from_secs(u64::from(s)));
        Some(Flow { flow_timer })
    }
}

/// The keep-alive of a registration's UDP flow: `configured`, at the registrar's Flow-Timer
/// when it supports outbound and gave one (RFC 5626 §4.4.1: keep-alives at 80–100 % of it;
/// [`KeepAliveConfig::interval`](crate::keepalive::KeepAliveConfig::interval) draws each wait
/// from its last seventh). Turned off (`configured` is `None`), it stays off except on an
/// outbound flow: there keep-alives are part of the contract (RFC 5626 §4.4: the UA MUST keep
/// each flow alive), with the default settings.
pub(crate) fn keepalive_for(
    configured: Option<crate::keepalive::KeepAliveConfig>,
    flow: Option<Flow>,
) -> Option<crate::keepalive::KeepAliveConfig> {
    let config = configured.or(flow.map(|_| crate::keepalive::KeepAliveConfig::default()))?;
    Some(match flow.and_then(|f| f.flow_timer) {
        Some(interval) => crate::keepalive::KeepAliveConfig { interval, ..config },
        None => config,
    })
}

/// Without a Flow-Timer, the keep-alive of an outbound stream when none is configured: RFC 5626
/// §4.4.1 recommends 95–120 s for connection-oriented flows, which the transport's jitter
/// (80–100 %) draws from 120 s.
const STREAM_FLOW_DEFAULT: Duration = Duration::from_secs(120);

/// The ping interval to ask of a registration's TCP or TLS connection
/// ([`sip_transport::Transport::set_keepalive`]): on an outbound flow the registrar's
/// Flow-Timer (RFC 5626 §4.4.1; the transport pings at 80–100 % of it), else the configured
/// interval, else every 96–120 s, since the UA MUST keep an outbound flow alive (§4.4); `None`
/// elsewhere, for the transport's configured interval (none if turned off).
pub(crate) fn stream_keepalive_for(
    configured: Option<Duration>,
    flow: Option<Flow>,
) -> Option<Duration> {
    let flow = flow?;
    flow.flow_timer
        .or_else(|| configured.is_none().then_some(STREAM_FLOW_DEFAULT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_version_4_and_differ() {
        let a = InstanceId::generate().unwrap();
        let b = InstanceId::generate().unwrap();
        assert_ne!(a, b);
        let uuid = a.as_str().strip_prefix("urn:uuid:").unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4", "version nibble of {uuid}");
        assert!(
            matches!(&uuid[19..20], "8" | "9" | "a" | "b"),
            "variant of {uuid}"
        );
        assert_eq!(InstanceId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn parse_refuses_what_is_not_a_uuid_urn() {
        for bad in [
            "",
            "urn:uuid:",
            "uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf",
            "urn:uuid:f81d4fae7dec-11d0-a765-00a0c91e6bf6-",
            "urn:uuid:g81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\"",
            "urn:uuid:é81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        ] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_instance_file_is_created_once_and_then_kept() {
        let dir = std::env::temp_dir().join(format!("outbound-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.xml.instance");
        let first = InstanceId::load_or_create(&path).unwrap();
        let again = InstanceId::load_or_create(&path).unwrap();
        assert_eq!(first, again);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{first}\n"),
            "one line, the URN"
        );
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        // A file that is not an instance id is reported with its path, and left alone.
        fs::write(&path, "garbage").unwrap();
        let e = InstanceId::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("store.xml.instance"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "garbage");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn contact_params_carry_reg_id_and_the_quoted_instance() {
        let id = InstanceId::parse("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6").unwrap();
        assert_eq!(
            Outbound::new(id).contact_params(),
            ";reg-id=1;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\""
        );
    }

    #[test]
    fn keep_alives_follow_the_flow_timer_of_an_outbound_registrar() {
        use crate::keepalive::KeepAliveConfig;
        let configured = KeepAliveConfig::default();
        let flow = |s| Flow {
            flow_timer: Some(Duration::from_secs(s)),
        };
        assert_eq!(
            keepalive_for(Some(configured), Some(flow(120))).map(|c| c.interval),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            keepalive_for(Some(configured), Some(Flow { flow_timer: None })),
            Some(configured)
        );
        assert_eq!(keepalive_for(Some(configured), None), Some(configured));
        // Turned off, it stays off unless the flow is outbound.
        assert_eq!(keepalive_for(None, None), None);
        assert_eq!(
            keepalive_for(None, Some(flow(25))),
            Some(KeepAliveConfig {
                interval: Duration::from_secs(25),
                ..configured
            })
        );
        assert_eq!(
            keepalive_for(None, Some(Flow { flow_timer: None })),
            Some(configured)
        );
    }

    #[test]
    fn outbound_stream_pings_follow_the_flow_timer_even_when_turned_off() {
        let configured = Some(Duration::from_secs(50));
        let timer = Duration::from_secs(2);
        let flow = Some(Flow {
            flow_timer: Some(timer),
        });
        assert_eq!(stream_keepalive_for(configured, flow), Some(timer));
        assert_eq!(
            stream_keepalive_for(configured, Some(Flow { flow_timer: None })),
            None
        );
        assert_eq!(stream_keepalive_for(configured, None), None);
        // An outbound flow is kept alive even with pings turned off (RFC 5626 §4.4).
        assert_eq!(stream_keepalive_for(None, flow), Some(timer));
        assert_eq!(
            stream_keepalive_for(None, Some(Flow { flow_timer: None })),
            Some(STREAM_FLOW_DEFAULT)
        );
        assert_eq!(stream_keepalive_for(None, None), None);
    }

    #[test]
    fn require_outbound_is_found_among_other_option_tags() {
        let ok = Message::parse_slice(
            b"SIP/2.0 200 OK\r\nRequire: path\r\nRequire: gruu, OutBound\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(Flow::of(&ok), Some(Flow { flow_timer: None }));
        let supported_only = Message::parse_slice(
            b"SIP/2.0 200 OK\r\nSupported: outbound\r\nContent-Length: 0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(Flow::of(&supported_only), None);
    }
}
