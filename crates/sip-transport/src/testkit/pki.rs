//! A certificate authority for tests: server and client certificates for TLS listeners and
//! clients on loopback, made on the spot by rcgen (no files, nothing that expires mid-run).
//!
//! ```
//! use sip_transport::testkit::pki::TestCa;
//! use sip_transport::{TlsConfig, TransportConfig};
//!
//! let ca = TestCa::new("Test CA");
//! let server = TransportConfig {
//!     tls: vec!["127.0.0.1:0".parse().unwrap()],
//!     tls_server: Some(ca.server_config(&["sip.example.test", "127.0.0.1"])),
//!     ..Default::default()
//! };
//! let client = TlsConfig::new().add_ca_pem(ca.pem().as_bytes()).unwrap();
//! # let _ = (server, client);
//! ```

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::TlsServerConfig;

/// A self-signed CA that issues leaf certificates.
pub struct TestCa {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

impl TestCa {
    /// A new CA whose subject is `cn`.
    ///
    /// # Panics
    ///
    /// If rcgen cannot make a key or sign (it does not with its ring backend).
    pub fn new(cn: &str) -> Self {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        Self {
            ca: CertifiedIssuer::self_signed(p, key).expect("CA certificate"),
        }
    }

    /// The CA certificate, PEM, for a client's or server's trust store.
    pub fn pem(&self) -> String {
        self.ca.pem()
    }

    /// A server certificate for `names` (IP addresses become IP SANs): (chain PEM, key PEM).
    pub fn server_cert(&self, names: &[&str]) -> (String, String) {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate for `names`: (chain PEM, key PEM).
    pub fn client_cert(&self, names: &[&str]) -> (String, String) {
        self.leaf(names, ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// A TLS listener's configuration presenting a [`server_cert`](Self::server_cert).
    ///
    /// # Panics
    ///
    /// If the certificate just made does not load.
    pub fn server_config(&self, names: &[&str]) -> TlsServerConfig {
        let (cert, key) = self.server_cert(names);
        TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).expect("test certificate")
    }

    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose) -> (String, String) {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(names).expect("leaf names");
        p.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("leaf key");
        let cert = p.signed_by(&key, &self.ca).expect("leaf certificate");
        (cert.pem(), key.serialize_pem())
    }
}
