//! One HTTP/1.1 connection to the server, over TCP or TLS, driven by hyper.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::{Error, Result, XcapRoot};

/// Opens a connection to the root's server; TLS when the root is `https`, verified by `tls`
/// against the root's host (an IP address or a DNS name).
pub(crate) async fn connect(
    root: &XcapRoot,
    tls: Option<&Arc<tokio_rustls::rustls::ClientConfig>>,
) -> Result<SendRequest<Full<Bytes>>> {
    let host = root.host().trim_start_matches('[').trim_end_matches(']');
    let server = format!("{}:{}", root.host(), root.port());
    let tcp = TcpStream::connect((host, root.port()))
        .await
        .map_err(|source| Error::Connect {
            server: server.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    match tls {
        None => handshake(tcp, &server).await,
        Some(config) => {
            let name = ServerName::try_from(host.to_owned()).map_err(|e| Error::Tls {
                server: server.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
            })?;
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(|source| Error::Tls {
                    server: server.clone(),
                    source,
                })?;
            handshake(stream, &server).await
        }
    }
}

async fn handshake<S>(stream: S, server: &str) -> Result<SendRequest<Full<Bytes>>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| Error::Http {
            uri: server.to_owned(),
            source,
        })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("XCAP connection ended: {e}");
        }
    });
    Ok(sender)
}
