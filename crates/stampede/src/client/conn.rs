//! Connections: one keep-alive HTTP/1.1 connection per origin per user, like a browser tab
//! that never opens a second socket. Built on hyper's connection API so there is no pool,
//! no lock and no cross-thread hop between a user and its socket.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use url::Url;

use super::ClientError;

/// Scheme, host and port: what a connection is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Origin {
    pub fn of(url: &Url) -> Result<Self, ClientError> {
        let tls = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(ClientError::Url(format!(
                    "unsupported scheme '{other}' in {url}"
                )))
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| ClientError::Url(format!("no host in {url}")))?;
        let port = url
            .port_or_known_default()
            .unwrap_or(if tls { 443 } else { 80 });
        Ok(Self {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
        })
    }
}

/// TLS settings shared by every user: built once, because building a root store per user
/// would cost more than the users themselves.
pub(crate) fn tls_config(insecure: bool) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The future that runs a connection's I/O. It is polled inside the user's own task while
/// that user waits for a response, never on a task of its own: a response then wakes its
/// user directly, without a hop through another task (which, on a saturated core, costs a
/// full trip through the run queue and shows up as latency).
pub(crate) type Driver = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send + Sync>>;

/// Opens a connection: its request handle and its driver.
pub(crate) async fn connect(
    origin: &Origin,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<(SendRequest<Full<Bytes>>, Driver), ClientError> {
    let addr = (origin.host.as_str(), origin.port);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ClientError::Timeout)?
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    if origin.tls {
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| {
            ClientError::Connect(format!("bad TLS server name {}: {e}", origin.host))
        })?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::Connect(format!("TLS handshake failed: {e}")))?;
        handshake(TokioIo::new(stream)).await
    } else {
        handshake(TokioIo::new(tcp)).await
    }
}

async fn handshake<T>(io: T) -> Result<(SendRequest<Full<Bytes>>, Driver), ClientError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + Sync + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    Ok((sender, Box::pin(conn)))
}

/// Awaits `fut` while driving the connection. `Err` when the connection ended first (the
/// request future is then left to settle by itself: the caller drops the connection).
pub(crate) async fn drive<F: Future>(
    driver: &mut Driver,
    fut: F,
) -> Result<F::Output, (F::Output, String)> {
    tokio::pin!(fut);
    let ended = tokio::select! {
        biased;
        out = &mut fut => return Ok(out),
        end = driver.as_mut() => end,
    };
    // With the connection gone, the request future completes at once: with what was
    // already read (a `Connection: close` answer) or with an error.
    let out = fut.await;
    Err((
        out,
        match ended {
            Ok(()) => "connection closed".to_owned(),
            Err(e) => e.to_string(),
        },
    ))
}

/// The `--insecure` verifier: accepts any certificate, for self-signed staging servers.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
