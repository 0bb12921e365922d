//! HTTPS against a server with a self-signed certificate (made by `openssl`, as a staging
//! team would): refused with a hint, accepted with `--ca-cert` or `--insecure`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use stampede::advanced::client::ClientConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn self_signed(dir: &Path) {
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl is on every Debian machine");
    assert!(status.status.success(), "{status:?}");
}

/// An HTTPS server answering "ok" to every request, on 127.0.0.1:0.
async fn https_server(dir: &Path) -> std::net::SocketAddr {
    let certs = CertificateDer::pem_file_iter(dir.join("cert.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("key.pem")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if tls.write_all(ok).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_with_the_way_out_then_trusted() {
    let dir = tempfile::tempdir().unwrap();
    self_signed(dir.path());
    let addr = https_server(dir.path()).await;
    let url: url::Url = format!("https://localhost:{}/", addr.port())
        .parse()
        .unwrap();

    let (mut c, _) = common::client(url.clone());
    let e = c.get("/").send().await.unwrap_err();
    assert!(
        e.reason.starts_with(&format!(
            "failed while doing the TLS handshake (localhost:{})",
            addr.port()
        )),
        "{}",
        e.reason
    );
    assert!(
        e.reason.contains("--insecure") && e.reason.contains("--ca-cert"),
        "{}",
        e.reason
    );

    let ca = dir.path().join("cert.pem");
    let trusted = ClientConfig::with_tls(false, Some(&ca)).unwrap();
    let (mut c, _) = common::client_with(url.clone(), trusted);
    assert_eq!(c.get("/").send().await.unwrap().text(), "ok");

    let (mut c, _) = common::client_with(url, ClientConfig::new(true));
    assert_eq!(c.get("/").send().await.unwrap().text(), "ok");
}

#[test]
fn a_ca_file_without_certificates_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let e = ClientConfig::with_tls(false, Some(&empty)).err().unwrap();
    assert!(e.contains("no PEM certificate"), "{e}");
    let e = ClientConfig::with_tls(false, Some(&dir.path().join("missing.pem")))
        .err()
        .unwrap();
    assert!(e.starts_with("--ca-cert"), "{e}");
    // A device or a directory is refused before it is read (/dev/zero never ends).
    for path in ["/dev/zero", "/tmp"] {
        let e = ClientConfig::with_tls(false, Some(Path::new(path)))
            .err()
            .unwrap();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
