//! TLS configuration (rustls, ring provider): the client side that verifies servers, and the
//! server side for listeners.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::{Error, Result};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Where PEM text comes from, for error messages.
fn pem_path(path: Option<&Path>) -> PathBuf {
    path.map_or_else(|| PathBuf::from("<memory>"), Path::to_path_buf)
}

fn certs_from_pem(
    pem: &[u8],
    what: &'static str,
    path: Option<&Path>,
) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            what,
            path: pem_path(path),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            what,
            path: pem_path(path),
            reason: "no CERTIFICATE section".into(),
        });
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8], path: Option<&Path>) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| Error::Pem {
        what: "private key",
        path: pem_path(path),
        reason: e.to_string(),
    })
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Pem {
        what,
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Client-side TLS: which servers to trust and which certificate to present.
///
/// By default servers are verified against the Mozilla roots of `webpki-roots` and the
/// [`Target::server_name`](crate::Target::server_name) (the SIP domain or host). Accepting any
/// certificate needs [`TlsConfig::danger_accept_any_certificate`].
///
/// ```
/// let tls = sip_transport::TlsConfig::new();
/// assert!(!tls.accepts_any_certificate());
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    webpki_roots: bool,
    extra_roots: Vec<CertificateDer<'static>>,
    client_cert: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    accept_any: bool,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("webpki_roots", &self.webpki_roots)
            .field("extra_roots", &self.extra_roots.len())
            .field("client_cert", &self.client_cert.is_some())
            .field("accept_any", &self.accept_any)
            .finish()
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConfig {
    /// Verify servers against the `webpki-roots` trust anchors; no client certificate.
    pub fn new() -> Self {
        Self {
            webpki_roots: true,
            extra_roots: Vec::new(),
            client_cert: None,
            accept_any: false,
        }
    }

    /// Also trust the CA certificates in this PEM file.
    pub fn add_ca_file(self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = read(path, "CA certificate")?;
        self.add_ca_pem_from(&pem, Some(path))
    }

    /// Also trust the CA certificates in this PEM text.
    pub fn add_ca_pem(self, pem: &[u8]) -> Result<Self> {
        self.add_ca_pem_from(pem, None)
    }

    fn add_ca_pem_from(mut self, pem: &[u8], path: Option<&Path>) -> Result<Self> {
        let certs = certs_from_pem(pem, "CA certificate", path)?;
        // Check each one now, so a bad CA file fails here rather than at the first connect.
        let mut store = RootCertStore::empty();
        for c in &certs {
            store.add(c.clone())?;
        }
        self.extra_roots.extend(certs);
        Ok(self)
    }

    /// Trust only the CAs added with [`TlsConfig::add_ca_file`] / [`TlsConfig::add_ca_pem`],
    /// not the public web roots (a private PKI).
    pub fn without_webpki_roots(mut self) -> Self {
        self.webpki_roots = false;
        self
    }

    /// Present this client certificate (PEM chain, leaf first) and key (PEM, PKCS#8, PKCS#1 or
    /// SEC1) when a server asks for one.
    pub fn with_client_cert_files(
        self,
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let c = certs_from_pem(
            &read(chain, "certificate chain")?,
            "certificate chain",
            Some(chain),
        )?;
        let k = key_from_pem(&read(key, "private key")?, Some(key))?;
        Ok(self.with_client_cert(c, k))
    }

    /// Like [`TlsConfig::with_client_cert_files`], from PEM text.
    pub fn with_client_cert_pem(self, chain: &[u8], key: &[u8]) -> Result<Self> {
        let c = certs_from_pem(chain, "certificate chain", None)?;
        let k = key_from_pem(key, None)?;
        Ok(self.with_client_cert(c, k))
    }

    fn with_client_cert(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.client_cert = Some((chain, Arc::new(key)));
        self
    }

    /// **Dangerous:** accept any server certificate, whoever signed it and whatever name it
    /// carries. The connection is encrypted but not authenticated; use only for tests or a
    /// server you reach by other trusted means.
    pub fn danger_accept_any_certificate(mut self) -> Self {
        self.accept_any = true;
        self
    }

    /// Whether [`TlsConfig::danger_accept_any_certificate`] was asked for.
    pub fn accepts_any_certificate(&self) -> bool {
        self.accept_any
    }

    /// The rustls configuration this describes.
    pub fn build(&self) -> Result<Arc<rustls::ClientConfig>> {
        let provider = provider();
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if self.accept_any {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        } else {
            let mut roots = RootCertStore::empty();
            if self.webpki_roots {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            for c in &self.extra_roots {
                roots.add(c.clone())?;
            }
            builder.with_root_certificates(roots)
        };
        let config = match &self.client_cert {
            Some((chain, key)) => builder.with_client_auth_cert(chain.clone(), key.clone_key())?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// Server-side TLS for listeners: the certificate chain and key, and optionally client
/// certificate verification.
#[derive(Clone)]
pub struct TlsServerConfig {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    client_roots: Vec<CertificateDer<'static>>,
    client_cert_required: bool,
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig")
            .field("chain", &self.chain.len())
            .field("client_roots", &self.client_roots.len())
            .field("client_cert_required", &self.client_cert_required)
            .finish_non_exhaustive()
    }
}

impl TlsServerConfig {
    /// The server certificate chain (PEM, leaf first) and private key (PEM) from files.
    pub fn from_pem_files(chain: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Self> {
        let (chain, key) = (chain.as_ref(), key.as_ref());
        let c = certs_from_pem(
            &read(chain, "certificate chain")?,
            "certificate chain",
            Some(chain),
        )?;
        let k = key_from_pem(&read(key, "private key")?, Some(key))?;
        Ok(Self::from_der(c, k))
    }

    /// Like [`TlsServerConfig::from_pem_files`], from PEM text.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self> {
        Ok(Self::from_der(
            certs_from_pem(chain, "certificate chain", None)?,
            key_from_pem(key, None)?,
        ))
    }

    fn from_der(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Self {
        Self {
            chain,
            key: Arc::new(key),
            client_roots: Vec::new(),
            client_cert_required: false,
        }
    }

    /// Ask clients for a certificate signed by a CA in this PEM text; with `required`, refuse
    /// clients without one (mutual TLS).
    pub fn with_client_ca_pem(mut self, pem: &[u8], required: bool) -> Result<Self> {
        self.client_roots = certs_from_pem(pem, "client CA certificate", None)?;
        self.client_cert_required = required;
        Ok(self)
    }

    /// The rustls configuration this describes.
    pub fn build(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if self.client_roots.is_empty() {
            builder.with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            for c in &self.client_roots {
                roots.add(c.clone())?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if self.client_cert_required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            let verifier = verifier
                .build()
                .map_err(|e| Error::TlsConfig(rustls::Error::General(e.to_string())))?;
            builder.with_client_cert_verifier(verifier)
        };
        Ok(Arc::new(builder.with_single_cert(
            self.chain.clone(),
            self.key.clone_key(),
        )?))
    }
}

/// The TLS name for a target: its server name, or else its IP address.
pub(crate) fn server_name(
    name: Option<&str>,
    addr: std::net::SocketAddr,
) -> Result<ServerName<'static>> {
    match name {
        Some(n) => ServerName::try_from(n.to_owned()).map_err(|_| Error::InvalidServerName {
            name: n.to_owned(),
            addr,
        }),
        None => Ok(ServerName::IpAddress(addr.ip().into())),
    }
}

/// The verifier behind [`TlsConfig::danger_accept_any_certificate`]: signatures are still
/// checked (so the handshake is well formed), the chain and name are not.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
