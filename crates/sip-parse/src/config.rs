//! Parser limits: hostile input is bounded before it costs memory or time.

/// Limits and lenient switches for [`Message`](crate::Message) parsing.
///
/// The defaults suit any SIP deployment: a UDP datagram cannot exceed 65,535 bytes, and real
/// messages have a few dozen headers at most.
///
/// ```
/// let cfg = sip_parse::ParseConfig { max_headers: 32, ..Default::default() };
/// assert!(sip_parse::Message::parse_slice_with(b"OPTIONS sip:a SIP/2.0\r\n\r\n", &cfg).is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseConfig {
    /// Largest whole message (start line, headers and body), in bytes. Default 65,535.
    pub max_message_size: usize,
    /// Most header fields (each physical field line counts once; folded lines belong to their
    /// field). Default 256.
    pub max_headers: usize,
    /// Longest physical line of the start line or header section, in bytes. Default 16,384.
    pub max_line_length: usize,
    /// On stream transports, treat a message without Content-Length as having an empty body.
    /// RFC 3261 §18.3 makes Content-Length mandatory on streams, but some user agents omit it on
    /// bodyless messages; with `false` such a message is an error. Default `true`.
    pub stream_missing_content_length_is_zero: bool,
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self {
            max_message_size: 65_535,
            max_headers: 256,
            max_line_length: 16_384,
            stream_missing_content_length_is_zero: true,
        }
    }
}
