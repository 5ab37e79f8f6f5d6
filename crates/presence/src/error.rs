//! The crate's one error type.

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // Documents, lists and the store.
    /// The document is not well-formed XML, or breaks a rule of its format.
    #[error("{at}: malformed XML: {message}")]
    Xml {
        /// What is wrong.
        message: String,
        /// Where the reader noticed.
        at: Position,
    },
    /// A document type declaration: refused, so no entity is ever declared or expanded.
    #[error("{at}: DOCTYPE is not allowed here")]
    Doctype {
        /// The `<!DOCTYPE`.
        at: Position,
    },
    /// A reference to an entity that is not one of XML's five predefined ones.
    #[error("{at}: undefined entity &{name};")]
    UnknownEntity {
        /// The entity name, without `&` and `;`.
        name: Box<str>,
        /// The reference.
        at: Position,
    },
    /// The document is longer than [`XmlLimits::max_size`](crate::XmlLimits::max_size).
    #[error("{at}: document larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// Where the limit was crossed.
        at: Position,
    },
    /// Elements nest deeper than [`XmlLimits::max_depth`](crate::XmlLimits::max_depth).
    #[error("{at}: elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// The start tag one level too deep.
        at: Position,
    },
    /// The document element is not the one the format requires (name or namespace).
    #[error("{at}: expected root <{expected}> in namespace {namespace:?}, found {found}")]
    UnexpectedRoot {
        /// The element name the format requires.
        expected: &'static str,
        /// The namespace the format requires (empty: none).
        namespace: &'static str,
        /// What the document has, as `{namespace}name`.
        found: String,
        /// The root start tag (or the end of a document without one).
        at: Position,
    },
    /// A required attribute or child element is absent.
    #[error("{at}: <{element}> has no {missing}")]
    Missing {
        /// The element that lacks it.
        element: &'static str,
        /// What is missing (`uri attribute`, `<status> element`, ...).
        missing: &'static str,
        /// The element's start tag.
        at: Position,
    },
    /// A value outside its allowed set or syntax.
    #[error("{at}: invalid {what} {value:?}")]
    InvalidValue {
        /// Which value (`basic status`, `watcher status`, ...).
        what: &'static str,
        /// The text found.
        value: String,
        /// Where it is.
        at: Position,
    },
    /// A body whose content type this crate does not read.
    #[error("unsupported presence content type {0:?}")]
    UnsupportedContentType(String),
    /// A watcherinfo document that cannot be applied in order (RFC 3857 §4.5.2): the
    /// subscriber has missed one and should refresh its subscription to get full state.
    #[error("watcherinfo version {got} cannot follow {}: state needs a refresh",
        last.map_or("no full state".to_owned(), |v| format!("version {v}")))]
    WinfoOutOfOrder {
        /// The last version applied (`None` before any full document).
        last: Option<u32>,
        /// The version received.
        got: u32,
    },
    /// An RFC 4662 list notification that cannot be applied in order (RFC 4662 §5.3): a
    /// partial RLMI document whose version is not the next one. Refresh the list
    /// subscription to get full state.
    #[error("RLMI version {got} cannot follow {}: list state needs a refresh",
        last.map_or("no full state".to_owned(), |v| format!("version {v}")))]
    ListOutOfOrder {
        /// The last version applied (`None` before any full state).
        last: Option<u32>,
        /// The version received.
        got: u32,
    },
    /// A list notification that would make the list state hold more resources than its
    /// bound ([`crate::eventlist::ListState::with_max_resources`]).
    #[error("list notification would hold {resources} resources, more than the {max} allowed")]
    ListTooLarge {
        /// How many resources the state would hold.
        resources: usize,
        /// The most it may hold.
        max: usize,
    },
    /// A MIME multipart body (RFC 2046 §5.1) that is malformed or over its limits.
    #[error("multipart body, byte {at}: {message}")]
    Multipart {
        /// What is wrong.
        message: String,
        /// Byte offset into the body (0 for a fault of the Content-Type).
        at: usize,
    },
    /// A watcher entry of domain scope whose URI is not a SIP URI naming a domain.
    #[error("a domain watcher entry needs a SIP URI such as sip:example.com, not {0:?}")]
    DomainNotSip(String),
    /// A store file written by a newer release, in a format this one cannot read.
    #[error("{at}: store format version {found} is newer than the supported {supported}")]
    StoreVersion {
        /// The version in the file.
        found: u32,
        /// The newest version this release reads.
        supported: u32,
        /// The `version` attribute.
        at: Position,
    },
    /// A store file that cannot be read as a store; the file is left untouched.
    #[error("{}: {source}", path.display())]
    StoreCorrupt {
        /// The store file.
        path: std::path::PathBuf,
        /// Why, with line and column.
        source: Box<Error>,
    },
    /// Another [`StoreLock`](crate::StoreLock) holds the store, most likely another process
    /// using it: two writers on one store would lose each other's edits.
    #[error(
        "{}: the presence store is in use by another process (it holds the lock {})",
        path.display(),
        lock.display()
    )]
    StoreLocked {
        /// The store file.
        path: std::path::PathBuf,
        /// The lock file beside it.
        lock: std::path::PathBuf,
    },
    /// Reading or writing the store file failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What was being done (`read`, `write temp file`, `rename`, ...).
        op: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    // Subscriptions.
    /// A URI handed to the crate (address-of-record, Contact, buddy) does not parse.
    #[error("invalid {what} URI {uri:?}: {source}")]
    InvalidUri {
        /// Which URI.
        what: &'static str,
        /// The text given.
        uri: String,
        /// What is wrong, with the offset into `uri`.
        source: sip_parse::ParseError,
    },
    /// A Via sent-by that is empty or holds white space, `;` or `,`.
    #[error("invalid Via sent-by {0:?}")]
    InvalidSentBy(String),
    /// A SIP message lacks or garbles a header the core needs, or a request could not be built.
    #[error("SIP message: {0}")]
    Sip(#[from] sip_parse::ParseError),
    /// A dialog could not be created or used (RFC 3261 §12), or no random source for a tag.
    #[error("dialog: {0}")]
    Dialog(#[from] sip_txn::Error),
    /// The id names no subscription (it ended or never existed).
    #[error("no subscription with id {0}")]
    UnknownSubscription(u64),
    /// The command does not fit the subscription's state now.
    #[error("not allowed now: {0}")]
    InvalidState(&'static str),
    /// A request failed (reported in events; the core retries where RFC 6665/3903 allow).
    #[error("request failed: {0}")]
    RequestFailed(crate::Failure),
    /// A request would be larger than the message limit the peers are taken to read (the
    /// `max_message_size` of the core's `ParseConfig`, the same as our own parser's): it is
    /// refused here rather than sent to be refused there.
    #[error("a {method} of {size} bytes is over the {limit}-byte message limit")]
    MessageTooLarge {
        /// The request's method.
        method: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl Error {
    /// Where in a document the error is, when it is about one (looking through
    /// [`Error::StoreCorrupt`]).
    ///
    /// ```
    /// let err = presence::pidf::Presence::parse(b"<presence>\n  <").unwrap_err();
    /// assert_eq!(err.position().map(|p| p.line), Some(2));
    /// ```
    pub fn position(&self) -> Option<Position> {
        match self {
            Error::Xml { at, .. }
            | Error::Doctype { at }
            | Error::UnknownEntity { at, .. }
            | Error::TooLarge { at, .. }
            | Error::TooDeep { at, .. }
            | Error::UnexpectedRoot { at, .. }
            | Error::Missing { at, .. }
            | Error::InvalidValue { at, .. }
            | Error::StoreVersion { at, .. } => Some(*at),
            Error::StoreCorrupt { source, .. } => source.position(),
            _ => None,
        }
    }
}

/// A place in an XML document: 1-based line and column (column counted in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column in Unicode scalar values, from 1.
    pub column: u32,
}

impl Position {
    /// The position of byte `offset` of `text` (clamped to its end). Linear in `offset`:
    /// called once, when an error is built.
    ///
    /// ```
    /// use presence::Position;
    /// assert_eq!(Position::of_offset("ab\ncd", 4), Position { line: 2, column: 2 });
    /// ```
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let head = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
        let line_start = head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines = head.iter().filter(|&&b| b == b'\n').count();
        let column = head
            .get(line_start..)
            .unwrap_or(&[])
            .iter()
            .filter(|&&b| b & 0xC0 != 0x80)
            .count();
        Position {
            line: u32::try_from(lines + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
