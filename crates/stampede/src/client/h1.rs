//! HTTP/1.1 on one connection, one exchange at a time: what a user's browser tab does.
//!
//! Stampede speaks it itself rather than through hyper's client: a connection here is owned
//! by one user and never shared, so hyper's dispatch machinery (a request channel, a
//! response oneshot, a body channel and their wake-ups, about 17 KB of buffers per
//! connection) is pure cost. Here a request is written from a reused buffer and its answer
//! parsed (with `httparse`, as hyper does) straight from the connection's read buffer; a
//! small body is a slice of that buffer, not a copy.
//!
//! Message framing (RFC 9112 §6.3) is `framing.rs`.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::header::HeaderMap;
use http::{Method, StatusCode, Uri, Version};

use super::fields::Fields;
pub(crate) use super::framing::Framing;
use super::framing::{chunk_size, framing, keep_alive_timeout, value};
pub(crate) use super::h1_error::{H1Error, MAX_HEAD};
use super::io::Heard;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The stream a connection runs on: TCP, or TLS over TCP.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin> Io for T {}

/// Headers a response may carry (hyper's default too).
const MAX_HEADERS: usize = 100;
/// The read buffer's first room: a typical response head and a small body fit. Small, as an
/// idle user keeps it (4 KB here cost 3 KB of memory per idle user, measured); a body asks
/// for more when it needs it.
const READ_ROOM: usize = 1024;
/// The most a body read asks for at once.
const BODY_READ: usize = 64 * 1024;
/// Bodies up to this size go out in the same write as the head.
const INLINE_BODY: usize = 16 * 1024;
/// The longest chunk-size line (with extensions) of a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

/// A response's status line and headers.
#[derive(Debug)]
pub(crate) struct Head {
    pub status: StatusCode,
    pub fields: Fields,
    pub framing: Framing,
    /// The connection can carry another exchange after this one.
    pub reusable: bool,
    /// The server's `Keep-Alive: timeout=N`.
    pub keep_alive: Option<Duration>,
}

/// What the read buffer held.
enum Parsed {
    Head(Head),
    /// A 1xx answer, consumed: the final one follows.
    Interim,
    /// Not a whole head yet.
    Partial,
}

/// Where a body's bytes go: kept up to a cap, counted in full.
pub(crate) trait BodySink {
    /// Takes the first `n` bytes of `buf`.
    fn take(&mut self, buf: &mut BytesMut, n: usize);
}

/// One connection's HTTP/1.1 state.
pub(crate) struct H1 {
    io: Box<dyn Io>,
    read: BytesMut,
    write: Vec<u8>,
    /// The server answered before the request was all written: what is left of it was
    /// never sent, so the connection cannot carry another exchange.
    cut: bool,
}

impl H1 {
    pub fn new(io: Box<dyn Io>) -> Self {
        Self {
            io,
            read: BytesMut::new(),
            write: Vec::new(),
            cut: false,
        }
    }

    /// Writes a request: its line, `headers` in order, then `body`.
    pub async fn write_request(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &Bytes,
    ) -> Result<(), H1Error> {
        let w = &mut self.write;
        w.clear();
        w.extend_from_slice(method.as_str().as_bytes());
        w.push(b' ');
        let target = uri.path_and_query().map_or("/", |p| p.as_str());
        w.extend_from_slice(target.as_bytes());
        w.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in headers {
            title_case(name.as_str().as_bytes(), w);
            w.extend_from_slice(b": ");
            w.extend_from_slice(value.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(b"\r\n");
        let inline = body.len() <= INLINE_BODY;
        if inline {
            w.extend_from_slice(body);
        }
        self.cut = false;
        let head = std::mem::take(&mut self.write);
        let sent = self.send(&head, (!inline).then_some(body)).await;
        self.write = head;
        if self.write.capacity() > 4 * INLINE_BODY {
            // A big upload does not keep its buffer for the connection's life.
            self.write = Vec::new();
        }
        match sent {
            // The server may have answered, then stopped reading (a 413 before the upload):
            // that answer, not the broken write, is what happened.
            Err(H1Error::Write(e)) => {
                let mut cx = Context::from_waker(Waker::noop());
                if matches!(self.poll_answer(&mut cx), Heard::Data) {
                    self.cut = true;
                    Ok(())
                } else {
                    Err(H1Error::Write(e))
                }
            }
            other => other,
        }
    }

    /// Writes the head (with a small body), then a big body while watching for an early
    /// answer.
    async fn send(&mut self, head: &[u8], body: Option<&Bytes>) -> Result<(), H1Error> {
        self.io.write_all(head).await.map_err(H1Error::Write)?;
        if let Some(body) = body {
            if self.write_watching(body).await? {
                self.cut = true;
                return Ok(()); // answered before the upload was read: `read_head` has it
            }
        }
        self.io.flush().await.map_err(H1Error::Write)
    }

    /// Writes `buf` unless the server gives its final answer first (true then: it is in the
    /// read buffer). A server that answers an upload early (413, 401) may stop reading it;
    /// a plain write would then wait for room that never comes. Interim answers (a `100
    /// Continue` nobody asked for) are skipped and the upload goes on.
    async fn write_watching(&mut self, buf: &[u8]) -> Result<bool, H1Error> {
        let mut written = 0;
        std::future::poll_fn(|cx| {
            while written < buf.len() {
                match self.poll_answer(cx) {
                    Heard::Nothing => {}
                    Heard::End => return Poll::Ready(Ok(true)),
                    Heard::Data if self.final_answer_begun() => return Poll::Ready(Ok(true)),
                    Heard::Data => continue,
                }
                match Pin::new(&mut self.io).poll_write(cx, &buf[written..]) {
                    Poll::Ready(Ok(0)) => {
                        let e = std::io::Error::from(std::io::ErrorKind::WriteZero);
                        return Poll::Ready(Err(H1Error::Write(e)));
                    }
                    Poll::Ready(Ok(n)) => written += n,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(H1Error::Write(e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(Ok(false))
        })
        .await
    }

    /// Whether the read buffer holds the start of a final answer, after dropping the
    /// complete interim ones before it.
    fn final_answer_begun(&mut self) -> bool {
        loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut slots);
            match resp.parse(&self.read) {
                Ok(httparse::Status::Complete(len)) => match resp.code {
                    Some(code) if interim(code) => self.read.advance(len),
                    _ => return true,
                },
                // Not yet a whole head: if it grows into an interim one, writing goes on.
                Ok(httparse::Status::Partial) => return self.read.len() >= MAX_HEAD,
                Err(_) => return true,
            }
        }
    }

    /// Takes what the server has already sent, without waiting.
    fn poll_answer(&mut self, cx: &mut Context<'_>) -> Heard {
        let mut chunk = [0u8; 1024];
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) if buf.filled().is_empty() => Heard::End,
            Poll::Ready(Ok(())) => {
                self.read.extend_from_slice(buf.filled());
                Heard::Data
            }
            Poll::Ready(Err(_)) => Heard::End,
            Poll::Pending => Heard::Nothing,
        }
    }

    /// Reads more into the read buffer; 0 at the end of the stream.
    async fn fill(&mut self, want: usize) -> Result<usize, H1Error> {
        if self.read.capacity() - self.read.len() < want {
            self.read.reserve(want.max(READ_ROOM));
        }
        self.io
            .read_buf(&mut self.read)
            .await
            .map_err(H1Error::Read)
    }

    /// Reads the final response head to a request with `method`, skipping interim (1xx)
    /// answers.
    pub async fn read_head(&mut self, method: &Method) -> Result<Head, H1Error> {
        loop {
            if !self.read.is_empty() {
                match self.parse_head(method)? {
                    Parsed::Head(mut head) => {
                        head.reusable &= !self.cut;
                        return Ok(head);
                    }
                    Parsed::Interim => continue,
                    Parsed::Partial if self.read.len() >= MAX_HEAD => {
                        return Err(H1Error::HeadTooLarge)
                    }
                    Parsed::Partial => {}
                }
            }
            if self.fill(READ_ROOM).await? == 0 {
                return Err(if self.read.is_empty() {
                    H1Error::Unanswered
                } else {
                    H1Error::HeadCut
                });
            }
        }
    }

    /// The head at the start of the read buffer, taken out of it once it is complete.
    fn parse_head(&mut self, method: &Method) -> Result<Parsed, H1Error> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut slots);
        let len = match resp.parse(&self.read) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
            Err(e) => return Err(H1Error::BadHead(e.to_string())),
        };
        let code = resp.code.unwrap_or(0);
        if code == 101 {
            // Nothing here asks to upgrade; a browser takes this for a network error.
            return Err(H1Error::BadHead(
                "101 Switching Protocols to a request that did not ask to upgrade".into(),
            ));
        }
        if interim(code) {
            self.read.advance(len);
            return Ok(Parsed::Interim);
        }
        let status = StatusCode::from_u16(code)
            .map_err(|_| H1Error::BadHead(format!("status code {code}")))?;
        let version = match resp.version {
            Some(0) => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        let (framing, reusable) = framing(method, status, version, resp.headers)?;
        let keep_alive = value(resp.headers, "keep-alive").and_then(keep_alive_timeout);
        // The head leaves the buffer whole; its fields are read from it when needed.
        let fields = Fields::new(self.read.split_to(len).freeze());
        Ok(Parsed::Head(Head {
            status,
            fields,
            framing,
            reusable,
            keep_alive,
        }))
    }

    /// Reads the body `framing` delimits into `sink`.
    pub async fn read_body(
        &mut self,
        framing: Framing,
        sink: &mut impl BodySink,
    ) -> Result<(), H1Error> {
        match framing {
            Framing::Empty => Ok(()),
            Framing::Length(n) => self
                .read_exact_body(n, sink)
                .await
                .map_err(|got| got.unwrap_or_else(|got| H1Error::Truncated { got, expected: n })),
            Framing::UntilClose => loop {
                if self.read.is_empty() && self.fill(BODY_READ).await? == 0 {
                    return Ok(());
                }
                let n = self.read.len();
                sink.take(&mut self.read, n);
            },
            Framing::Chunked => self.read_chunked(sink).await,
        }
    }

    /// `n` body bytes into `sink`. `Err(Err(got))` when the stream ended after `got`.
    async fn read_exact_body(
        &mut self,
        n: u64,
        sink: &mut impl BodySink,
    ) -> Result<(), Result<H1Error, u64>> {
        let mut left = n;
        while left > 0 {
            if self.read.is_empty() {
                let want = left.min(BODY_READ as u64) as usize;
                if self.fill(want).await.map_err(Ok)? == 0 {
                    return Err(Err(n - left));
                }
            }
            let take = left.min(self.read.len() as u64) as usize;
            sink.take(&mut self.read, take);
            left -= take as u64;
        }
        Ok(())
    }

    /// A chunked body: chunks until the last (size 0), then trailers until an empty line.
    async fn read_chunked(&mut self, sink: &mut impl BodySink) -> Result<(), H1Error> {
        loop {
            let line = self.line(MAX_CHUNK_LINE).await?;
            let size = chunk_size(&self.read[..line])?;
            self.read.advance(line);
            if size == 0 {
                let mut trailers = 0;
                loop {
                    let line = self.line(MAX_HEAD).await?;
                    let empty = line <= 2;
                    self.read.advance(line);
                    trailers += line;
                    if empty {
                        return Ok(());
                    }
                    if trailers > MAX_HEAD {
                        return Err(H1Error::BadChunk("trailers too large"));
                    }
                }
            }
            match self.read_exact_body(size, sink).await {
                Ok(()) => {}
                Err(Ok(e)) => return Err(e),
                Err(Err(_)) => return Err(H1Error::ChunkedCut),
            }
            let line = self.line(MAX_CHUNK_LINE).await?;
            if &self.read[..line] != b"\r\n" {
                return Err(H1Error::BadChunk("no line end after a chunk"));
            }
            self.read.advance(line);
        }
    }

    /// The length of the next line in the read buffer, its `\n` included, reading more
    /// until it is there.
    async fn line(&mut self, max: usize) -> Result<usize, H1Error> {
        let mut searched = 0;
        loop {
            if let Some(i) = memchr_newline(&self.read[searched..]) {
                return Ok(searched + i + 1);
            }
            searched = self.read.len();
            if searched > max {
                return Err(H1Error::BadChunk("line too long"));
            }
            if self.fill(READ_ROOM).await? == 0 {
                return Err(H1Error::ChunkedCut);
            }
        }
    }

    /// What an idle connection holds above its socket, without waiting: bytes that came
    /// after the last answer and were read with it, or what the stream gives at once (TLS
    /// records rustls already took off the socket: a stray answer, or `close_notify`).
    /// The socket itself is `io::peek`'s: this poll sees only what tokio's reactor has
    /// reported. The next real read registers the user's waker again, so no wake-up is
    /// lost.
    pub fn leftover(&mut self) -> Heard {
        if !self.read.is_empty() {
            return Heard::Data;
        }
        self.poll_answer(&mut Context::from_waker(Waker::noop()))
    }

    /// Gives back the read buffer's room after a big body, so an idle user holds little.
    pub fn shrink(&mut self) {
        if self.read.is_empty() && self.read.capacity() > 8 * READ_ROOM {
            self.read = BytesMut::new();
        }
    }
}

/// An interim answer (1xx) that a final one follows; 101 is final (and refused).
fn interim(code: u16) -> bool {
    (100..200).contains(&code) && code != 101
}

fn memchr_newline(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// A header name as browsers, curl and Python's requests write their own (`User-Agent`,
/// `Content-Type`): each word's first letter upper case. The engine's header types keep
/// names in lower case; HTTP says case does not matter, but a server that compares names
/// case-sensitively expects these.
fn title_case(name: &[u8], out: &mut Vec<u8>) {
    let mut start = true;
    for &b in name {
        out.push(if start { b.to_ascii_uppercase() } else { b });
        start = b == b'-';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body sink that keeps everything.
    #[derive(Default)]
    struct All(Vec<u8>);
    impl BodySink for All {
        fn take(&mut self, buf: &mut BytesMut, n: usize) {
            self.0.extend_from_slice(&buf.split_to(n));
        }
    }

    /// The head and body `answer` gives to a GET, read through a real socket pair.
    async fn exchange(answer: &'static [u8]) -> Result<(Head, Vec<u8>), H1Error> {
        exchange_with(Method::GET, answer).await
    }

    async fn exchange_with(
        method: Method,
        answer: &'static [u8],
    ) -> Result<(Head, Vec<u8>), H1Error> {
        let (client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            let mut req = [0u8; 1024];
            let _ = server.read(&mut req).await;
            // Dribbled in small writes, so that every boundary is crossed mid-read.
            for piece in answer.chunks(7) {
                if server.write_all(piece).await.is_err() {
                    return;
                }
            }
        });
        let mut h1 = H1::new(Box::new(client));
        let uri: Uri = "/".parse().unwrap();
        h1.write_request(&method, &uri, &HeaderMap::new(), &Bytes::new())
            .await?;
        let head = h1.read_head(&method).await?;
        let mut body = All::default();
        h1.read_body(head.framing, &mut body).await?;
        Ok((head, body.0))
    }

    #[tokio::test]
    async fn a_length_body_and_an_interim_answer() {
        let (head, body) = exchange(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
        )
        .await
        .unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.fields.get("x-a"), Some("1"));
        assert_eq!((head.framing, head.reusable), (Framing::Length(5), true));
        assert_eq!(body, b"hello");
    }

    #[tokio::test]
    async fn a_chunked_body_with_extensions_and_trailers() {
        let (head, body) = exchange(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert_eq!(body, b"hello!");
    }

    #[tokio::test]
    async fn a_body_to_the_close_and_http_1_0_without_keep_alive() {
        let (head, body) = exchange(b"HTTP/1.0 200 OK\r\n\r\nall of it").await.unwrap();
        assert_eq!((head.framing, head.reusable), (Framing::UntilClose, false));
        assert_eq!(body, b"all of it");
        let (head, _) =
            exchange(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        assert!(head.reusable);
        let (head, _) =
            exchange(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
        assert!(!head.reusable);
    }

    #[tokio::test]
    async fn no_body_after_head_204_and_304_whatever_the_length_says() {
        let (head, body) = exchange_with(
            Method::HEAD,
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!((head.framing, body.len()), (Framing::Empty, 0));
        let (head, _) = exchange(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(head.framing, Framing::Empty);
    }

    #[tokio::test]
    async fn broken_answers_fail_with_what_went_wrong() {
        let short = exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf").await;
        assert!(matches!(
            short,
            Err(H1Error::Truncated {
                got: 4,
                expected: 10
            })
        ));
        let lengths =
            exchange(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").await;
        assert!(matches!(lengths, Err(H1Error::BadLength(_))));
        let cut = exchange(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").await;
        assert!(matches!(cut, Err(H1Error::ChunkedCut)));
        let garbage = exchange(b"SSH-2.0-OpenSSH\r\n\r\n").await;
        assert!(matches!(garbage, Err(H1Error::BadHead(_))));
        assert!(matches!(exchange(b"").await, Err(H1Error::Unanswered)));
        assert!(matches!(
            exchange(b"HTTP/1.1 200 OK\r\n").await,
            Err(H1Error::HeadCut)
        ));
        let bad_size =
            exchange(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").await;
        assert!(matches!(bad_size, Err(H1Error::BadChunk(_))));
    }

    #[tokio::test]
    async fn a_head_past_the_limit_is_refused() {
        let mut big = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        big.resize(MAX_HEAD + 10, b'a');
        let big: &'static [u8] = Box::leak(big.into_boxed_slice());
        assert!(matches!(exchange(big).await, Err(H1Error::HeadTooLarge)));
    }

    /// Header names go out as browsers and requests write them, whatever case the
    /// engine's types keep them in; values are untouched.
    #[tokio::test]
    async fn header_names_go_out_in_title_case() {
        let (client, mut server) = tokio::io::duplex(4096);
        let mut h1 = H1::new(Box::new(client));
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", "python-requests/2.32".parse().unwrap());
        headers.insert("x-csrftoken", "aBc-dEf".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        let uri: Uri = "/x?y=1".parse().unwrap();
        h1.write_request(&Method::POST, &uri, &headers, &Bytes::from_static(b"hi"))
            .await
            .unwrap();
        drop(h1);
        let mut sent = Vec::new();
        server.read_to_end(&mut sent).await.unwrap();
        assert_eq!(
            String::from_utf8(sent).unwrap(),
            "POST /x?y=1 HTTP/1.1\r\nUser-Agent: python-requests/2.32\r\n\
             X-Csrftoken: aBc-dEf\r\nAccept: */*\r\n\r\nhi"
        );
    }
}
