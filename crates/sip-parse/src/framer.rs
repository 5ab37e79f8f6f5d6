//! Incremental framing of a byte stream (TCP, TLS) into messages.

use bytes::BytesMut;

use crate::message::frame_head;
use crate::{ErrorKind, Message, ParseConfig, ParseError};

/// Splits messages off a growing stream buffer. It remembers how far it has looked for the end
/// of the header section and, once that is found, how long the message is, so bytes that
/// trickle in are scanned once: no quadratic rescans, and no copy of the message.
///
/// ```
/// use bytes::BytesMut;
/// use sip_parse::StreamFramer;
///
/// let mut framer = StreamFramer::default();
/// let mut buf = BytesMut::new();
/// let wire = b"\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// let mut got = None;
/// for chunk in wire.chunks(5) {
///     buf.extend_from_slice(chunk);
///     if let Some(msg) = framer.next_message(&mut buf)? {
///         got = Some(msg);
///     }
/// }
/// assert_eq!(got.unwrap().body(), b"ok");
/// assert_eq!(framer.take_keepalives(), 2);
/// assert!(buf.is_empty());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamFramer {
    cfg: ParseConfig,
    /// How much of the buffer is known not to hold the end of the header section.
    scanned: usize,
    /// The length of the message at the front, once its header section has been parsed.
    pending: Option<usize>,
    /// Keep-alive CRLF pairs skipped since the last [`StreamFramer::take_keepalives`].
    keepalives: usize,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(cfg: ParseConfig) -> Self {
        Self {
            cfg,
            ..Self::default()
        }
    }

    /// Takes the next whole message off the front of `buf`, or `None` until more bytes arrive.
    /// CRLFs between messages are consumed and counted. After an error the stream cannot be
    /// resynchronized: close the connection.
    pub fn next_message(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, ParseError> {
        if let Some(total) = self.pending {
            if buf.len() < total {
                return Ok(None);
            }
            self.pending = None;
            return self.take(buf);
        }
        let mut skip = 0;
        while buf.get(skip..skip + 2) == Some(b"\r\n") {
            skip += 2;
        }
        if skip > 0 {
            let _ = buf.split_to(skip);
            self.keepalives += skip / 2;
            self.scanned = 0;
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let from = self.scanned.saturating_sub(3);
        if memchr::memmem::find(&buf[from..], b"\r\n\r\n").is_none() {
            self.scanned = buf.len();
            if buf.len() > self.cfg.max_message_size {
                return Err(ParseError::new(
                    ErrorKind::Limit("message size"),
                    self.cfg.max_message_size,
                ));
            }
            return Ok(None);
        }
        self.scanned = 0;
        match frame_head(buf, &self.cfg)? {
            None => Err(ParseError::new(
                ErrorKind::Truncated("header section"),
                buf.len(),
            )),
            Some(f) if buf.len() < f.total => {
                self.pending = Some(f.total);
                Ok(None)
            }
            Some(f) => {
                let bytes = buf.split_to(f.total).freeze();
                Ok(Some(f.into_message(bytes)))
            }
        }
    }

    fn take(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, ParseError> {
        match frame_head(buf, &self.cfg)? {
            Some(f) if buf.len() >= f.total => {
                let bytes = buf.split_to(f.total).freeze();
                Ok(Some(f.into_message(bytes)))
            }
            _ => Err(ParseError::new(ErrorKind::Truncated("message"), buf.len())),
        }
    }

    /// How many CRLF keep-alive pairs were skipped since the last call; a transport answers a
    /// double-CRLF ping with a single CRLF pong (RFC 5626 §3.5.1).
    pub fn take_keepalives(&mut self) -> usize {
        std::mem::take(&mut self.keepalives)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_by_byte_then_pipelined() {
        let one = b"MESSAGE sip:a SIP/2.0\r\nContent-Length: 5\r\n\r\nhello";
        let mut wire = Vec::new();
        for _ in 0..3 {
            wire.extend_from_slice(one);
            wire.extend_from_slice(b"\r\n\r\n");
        }
        let mut framer = StreamFramer::default();
        let mut buf = BytesMut::new();
        let mut got = 0;
        for &b in &wire[..one.len()] {
            buf.extend_from_slice(&[b]);
            if let Some(m) = framer.next_message(&mut buf).unwrap() {
                assert_eq!(m.body(), b"hello");
                got += 1;
            }
        }
        buf.extend_from_slice(&wire[one.len()..]);
        while let Some(m) = framer.next_message(&mut buf).unwrap() {
            assert_eq!(m.as_bytes(), one);
            got += 1;
        }
        assert_eq!(got, 3);
        assert_eq!(framer.take_keepalives(), 6);
    }

    #[test]
    fn oversized_and_malformed_streams_fail() {
        let mut framer = StreamFramer::new(ParseConfig {
            max_message_size: 64,
            ..Default::default()
        });
        let mut buf = BytesMut::from(&[b'A'; 100][..]);
        assert!(framer.next_message(&mut buf).is_err());
        let mut framer = StreamFramer::default();
        let mut buf = BytesMut::from(&b"GARBAGE\r\n\r\n"[..]);
        assert!(framer.next_message(&mut buf).is_err());
        let mut buf = BytesMut::from(&b"OPTIONS sip:a SIP/2.0\r\nl: 99999999\r\n\r\n"[..]);
        assert!(StreamFramer::default().next_message(&mut buf).is_err());
    }
}
