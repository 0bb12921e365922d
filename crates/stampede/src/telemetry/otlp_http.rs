//! The HTTP client the OTLP exporters post with: hyper's HTTP/1.1 connection over a
//! tokio socket (and rustls for `https://` endpoints), one connection per export.
//!
//! The exporters call it from their own threads, outside tokio (the metrics reader runs
//! its collection on a thread of its own), so each post is spawned onto the run's runtime
//! and awaited from there: a `JoinHandle` can be awaited by any executor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use opentelemetry_http::{HttpClient, HttpError};

/// The most of a collector's answer that is read; it is only a status and a short body.
const MAX_ANSWER: usize = 1 << 20;

/// Posts on the run's runtime.
#[derive(Debug, Clone)]
pub struct Poster {
    rt: tokio::runtime::Handle,
    timeout: Duration,
    /// Why the last post failed (`None` after one that got an answer): the exporters'
    /// own errors say only "network error".
    last_error: Arc<Mutex<Option<String>>>,
}

impl Poster {
    /// On the current runtime; `timeout` bounds a whole post (`OTEL_EXPORTER_OTLP_TIMEOUT`).
    pub fn new(timeout: Duration) -> Self {
        Self {
            rt: tokio::runtime::Handle::current(),
            timeout,
            last_error: Arc::default(),
        }
    }

    /// How long a post may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// An exporter's error `e`, with the cause of the last failed post when there is one.
    pub fn explain(&self, e: &str) -> String {
        match self
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_deref()
        {
            Some(cause) => format!("{e} ({cause})"),
            None => e.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for Poster {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let timeout = self.timeout;
        let endpoint = request.uri().to_string();
        let post = self.rt.spawn(async move {
            match tokio::time::timeout(timeout, post(request)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {timeout:?}").into()),
            }
        });
        let answer = post.await?;
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
            answer.as_ref().err().map(|e| format!("{endpoint}: {e}"));
        answer
    }
}

async fn post(request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
    let uri = request.uri().clone();
    let https = uri.scheme_str() == Some("https");
    let host = uri
        .host()
        .ok_or("the OTLP endpoint has no host")?
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
    tcp.set_nodelay(true)?;
    let (mut parts, body) = request.into_parts();
    // The request carries an absolute URI; HTTP/1.1 sends the path and a Host header.
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    parts.uri = path.parse()?;
    let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
    parts.headers.insert(http::header::HOST, authority.parse()?);
    let request = Request::from_parts(parts, Full::new(body));
    if https {
        let tls = crate::client::tls::tls_config(false, None)?;
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await?;
        exchange(TokioIo::new(stream), request).await
    } else {
        exchange(TokioIo::new(tcp), request).await
    }
}

async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<Response<Bytes>, HttpError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    let answer = send.send_request(request).await?;
    let (parts, body) = answer.into_parts();
    let body = Limited::new(body, MAX_ANSWER).collect().await?.to_bytes();
    Ok(Response::from_parts(parts, body))
}
