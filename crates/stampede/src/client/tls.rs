//! TLS settings shared by every user: built once, because building a root store per user
//! would cost more than the users themselves.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// The public web's roots (webpki), plus `ca_cert`'s certificates when given; or no checks
/// at all with `insecure`.
pub(crate) fn tls_config(
    insecure: bool,
    ca_cert: Option<&Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
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
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = ca_cert {
            add_pem(&mut roots, path)?;
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A CA bundle larger than this is refused: the public web's whole bundle is ~250 KB.
const MAX_CA_FILE: u64 = 4 << 20;

fn add_pem(roots: &mut rustls::RootCertStore, path: &Path) -> Result<(), String> {
    let shown = path.display();
    // Only a regular file of sane size is read: /dev/zero or a FIFO would never end.
    let meta = std::fs::metadata(path).map_err(|e| format!("--ca-cert {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("--ca-cert {shown}: not a regular file"));
    }
    if meta.len() > MAX_CA_FILE {
        return Err(format!(
            "--ca-cert {shown}: {} bytes is more than a CA file holds (at most {MAX_CA_FILE})",
            meta.len()
        ));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--ca-cert {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--ca-cert {shown}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("--ca-cert {shown}: no PEM certificate in the file"));
    }
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("--ca-cert {shown}: {e}"))?;
    }
    Ok(())
}

/// The `--insecure` verifier: accepts any certificate, for self-signed staging servers.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
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
        cert: &CertificateDer<'_>,
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
