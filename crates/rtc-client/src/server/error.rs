//! What can stop the embedded server from starting.

/// Why [`EmbeddedServer`](super::EmbeddedServer) or [`RegistrarProxy`](super::RegistrarProxy)
/// could not start. Once running, nothing a peer sends is an error: bad input is answered
/// (400, 401, …) or dropped, and logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding or using a listener failed.
    #[error(transparent)]
    Transport(#[from] sip_transport::Error),
    /// The operating system's random source failed (nonce secret, tags).
    #[error(transparent)]
    Random(#[from] sip_txn::Error),
    /// No listener was configured, or one is bound to an unspecified address (`0.0.0.0`,
    /// `::`): Via and Record-Route need an address peers can reach.
    #[error("listener {0} cannot be advertised in Via/Record-Route (bind a specific address)")]
    UnusableListener(String),
}

/// `Result` with the server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
