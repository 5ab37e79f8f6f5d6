//! STUN Binding (RFC 8489), as much as SIP needs: the keep-alive of a UDP flow (RFC 5626
//! §4.4.1) and the public address a NAT gave it.
//!
//! A Binding request is 20 bytes: no attributes. A success response carries the
//! XOR-MAPPED-ADDRESS (§14.2) of the request's source as the server saw it; older servers send
//! MAPPED-ADDRESS (§14.1), which is read too. Nothing else is needed here: SIP's keep-alive runs
//! without credentials (RFC 5626 §4.4.1), so MESSAGE-INTEGRITY and FINGERPRINT are neither
//! sent nor checked.
//!
//! ```
//! use sip_transport::stun::{self, StunMessage, TransactionId};
//!
//! let id = TransactionId([7; 12]);
//! let request = stun::binding_request(id);
//! assert!(stun::is_stun(&request));
//! let from = "203.0.113.9:40000".parse().unwrap();
//! let response = stun::binding_success(id, from);
//! assert_eq!(
//!     stun::parse(&response).unwrap(),
//!     StunMessage::Success { id, mapped: Some(from) }
//! );
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Error, Result};

/// The fixed value in every STUN header (§5), which tells STUN from SIP on one port.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const HEADER: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;

/// The 96-bit transaction id that pairs a response with its request (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransactionId(pub [u8; 12]);

/// A STUN message this stack acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StunMessage {
    /// A Binding request: answer it with [`binding_success`].
    Request {
        /// Its transaction id.
        id: TransactionId,
    },
    /// A Binding success response, with the address the server saw, if it said.
    Success {
        /// The request's transaction id.
        id: TransactionId,
        /// XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS.
        mapped: Option<SocketAddr>,
    },
    /// A Binding error response: the server is there, though it refused.
    Error {
        /// The request's transaction id.
        id: TransactionId,
    },
}

impl StunMessage {
    /// The transaction id.
    pub fn id(&self) -> TransactionId {
        match *self {
            StunMessage::Request { id }
            | StunMessage::Success { id, .. }
            | StunMessage::Error { id } => id,
        }
    }
}

/// Whether `datagram` is STUN rather than SIP: its first two bits are zero and the magic cookie
/// is in place (RFC 8489 §5; RFC 7983 §7). A SIP message starts with a letter.
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.len() >= HEADER
        && datagram[0] & 0xC0 == 0
        && datagram[4..8] == MAGIC_COOKIE.to_be_bytes()
}

/// A Binding request with no attributes.
pub fn binding_request(id: TransactionId) -> Vec<u8> {
    header(BINDING_REQUEST, 0, id)
}

/// A Binding success response telling the requester its address `seen` (XOR-MAPPED-ADDRESS).
pub fn binding_success(id: TransactionId, seen: SocketAddr) -> Vec<u8> {
    let (family, address): (u8, Vec<u8>) = match seen.ip() {
        IpAddr::V4(ip) => (1, xor(&ip.octets(), &key(id))),
        IpAddr::V6(ip) => (2, xor(&ip.octets(), &key(id))),
    };
    let value_len = 4 + address.len();
    let mut out = header(BINDING_SUCCESS, 4 + value_len, id);
    out.extend_from_slice(&XOR_MAPPED_ADDRESS.to_be_bytes());
    out.extend_from_slice(&(value_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, family]);
    out.extend_from_slice(&(seen.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
    out.extend_from_slice(&address);
    out
}

/// Reads a Binding request or response. Other methods and classes (indications) are refused,
/// as is any length that disagrees with the datagram.
///
/// # Errors
///
/// [`Error::Stun`], with the byte offset of what was wrong.
pub fn parse(datagram: &[u8]) -> Result<StunMessage> {
    let bad = |offset: usize, what: &'static str| Error::Stun { offset, what };
    if !is_stun(datagram) {
        return Err(bad(0, "not a STUN message (no magic cookie)"));
    }
    let kind = u16::from_be_bytes([datagram[0], datagram[1]]);
    let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    if len % 4 != 0 {
        return Err(bad(2, "message length is not a multiple of 4"));
    }
    if HEADER + len != datagram.len() {
        return Err(bad(2, "message length disagrees with the datagram"));
    }
    let mut id = [0u8; 12];
    id.copy_from_slice(&datagram[8..HEADER]);
    let id = TransactionId(id);
    match kind {
        BINDING_REQUEST => Ok(StunMessage::Request { id }),
        BINDING_ERROR => Ok(StunMessage::Error { id }),
        BINDING_SUCCESS => Ok(StunMessage::Success {
            id,
            mapped: mapped_address(datagram, id)?,
        }),
        _ => Err(bad(0, "not a Binding request or response")),
    }
}

/// XOR-MAPPED-ADDRESS if present, else MAPPED-ADDRESS, from the attributes after the header.
fn mapped_address(datagram: &[u8], id: TransactionId) -> Result<Option<SocketAddr>> {
    let mut at = HEADER;
    let (mut xored, mut plain) = (None, None);
    while at < datagram.len() {
        let Some(head) = datagram.get(at..at + 4) else {
            return Err(Error::Stun {
                offset: at,
                what: "attribute header cut short",
            });
        };
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let value = datagram.get(at + 4..at + 4 + len).ok_or(Error::Stun {
            offset: at + 2,
            what: "attribute runs past the message",
        })?;
        match kind {
            XOR_MAPPED_ADDRESS => xored = Some(address(value, Some(id), at + 4)?),
            MAPPED_ADDRESS => plain = Some(address(value, None, at + 4)?),
            _ => {} // Comprehension-optional or not ours to act on (§14).
        }
        // Values are padded to 4 bytes (§14).
        at += 4 + len.div_ceil(4) * 4;
    }
    Ok(xored.or(plain))
}

/// One (XOR-)MAPPED-ADDRESS value; `xor_id` undoes the XOR of §14.2.
fn address(value: &[u8], xor_id: Option<TransactionId>, offset: usize) -> Result<SocketAddr> {
    let bad = |what| Error::Stun { offset, what };
    let (family, rest) = match value {
        [_, family, rest @ ..] if rest.len() >= 2 => (*family, rest),
        _ => return Err(bad("address attribute too short")),
    };
    let mut port = u16::from_be_bytes([rest[0], rest[1]]);
    let raw = &rest[2..];
    let key = xor_id.map(key);
    if xor_id.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let bytes = |n: usize| -> Result<Vec<u8>> {
        if raw.len() != n {
            return Err(bad("address length does not match its family"));
        }
        Ok(match &key {
            Some(k) => xor(raw, k),
            None => raw.to_vec(),
        })
    };
    let ip = match family {
        1 => {
            let b: [u8; 4] = bytes(4)?.try_into().map_err(|_| bad("IPv4 address"))?;
            IpAddr::V4(Ipv4Addr::from(b))
        }
        2 => {
            let b: [u8; 16] = bytes(16)?.try_into().map_err(|_| bad("IPv6 address"))?;
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(bad("unknown address family")),
    };
    Ok(SocketAddr::new(ip, port))
}

/// The XOR key of §14.2: the magic cookie, then the transaction id (for IPv6).
fn key(id: TransactionId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    k[4..].copy_from_slice(&id.0);
    k
}

fn xor(data: &[u8], key: &[u8; 16]) -> Vec<u8> {
    data.iter().zip(key).map(|(d, k)| d ^ k).collect()
}

fn header(kind: u16, len: usize, id: TransactionId) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + len);
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(&id.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc5769_sample_ipv4_response() {
        // RFC 5769 §2.2: SOFTWARE, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT.
        let msg = unhex(
            "0101003c 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374
             20766563 746f7220 00200008 0001a147 e112a643 00080014 2b91f599
             fd9e90c3 8c7489f9 2af9ba53 f06be7d7 80280004 c07d4c96",
        );
        assert_eq!(
            parse(&msg).unwrap(),
            StunMessage::Success {
                id: TransactionId([
                    0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae
                ]),
                mapped: Some("192.0.2.1:32853".parse().unwrap()),
            }
        );
    }

    #[test]
    fn rfc5769_sample_ipv6_response() {
        // RFC 5769 §2.3.
        let msg = unhex(
            "01010048 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374
             20766563 746f7220 00200014 0002a147 0113a9fa a5d3f179 bc25f4b5
             bed2b9d9 00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
             80280004 c8fb0b4c",
        );
        let Ok(StunMessage::Success { mapped, .. }) = parse(&msg) else {
            panic!("not a success response");
        };
        assert_eq!(
            mapped,
            Some(
                "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
                    .parse()
                    .unwrap()
            )
        );
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let id = TransactionId(*b"abcdefghijkl");
        assert_eq!(
            parse(&binding_request(id)).unwrap(),
            StunMessage::Request { id }
        );
        for seen in ["198.51.100.7:5060", "[2001:db8::1]:40000"] {
            let seen: SocketAddr = seen.parse().unwrap();
            assert_eq!(
                parse(&binding_success(id, seen)).unwrap(),
                StunMessage::Success {
                    id,
                    mapped: Some(seen)
                }
            );
        }
    }

    #[test]
    fn sip_is_not_stun() {
        assert!(!is_stun(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n"
        ));
        assert!(!is_stun(b"\r\n\r\n"));
        assert!(is_stun(&binding_request(TransactionId([0; 12]))));
    }

    #[test]
    fn hostile_input_is_refused_with_its_offset() {
        let id = TransactionId([1; 12]);
        let good = binding_success(id, "192.0.2.1:1".parse().unwrap());
        // Every truncation and every single-byte corruption: an answer, never a panic.
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for i in 0..good.len() {
            for b in [0x00, 0x01, 0x7f, 0xff] {
                let mut m = good.clone();
                m[i] = b;
                let _ = parse(&m);
            }
        }
        let mut long = good.clone();
        long[3] = 200; // says 200 bytes of attributes
        assert!(matches!(parse(&long), Err(Error::Stun { offset: 2, .. })));
        let mut runs_over = good.clone();
        runs_over[23] = 40; // the attribute says 40 bytes
        assert!(matches!(
            parse(&runs_over),
            Err(Error::Stun { offset: 22, .. })
        ));
    }
}
