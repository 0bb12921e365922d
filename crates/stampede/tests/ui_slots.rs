//! The UI's connection slots against clients that take them and send nothing (issue 24,
//! item 2): the operator, with the right credentials, still gets the page at once.

use std::sync::Arc;
use std::time::Duration;

use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::advanced::web::{router, serve, Control, Guard, Limits};
use stampede::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct U;

impl U {
    async fn nothing(&mut self) -> TaskResult {
        Ok(())
    }
}

/// The UI with `--web-auth admin:s3cret` and the default limits, on 127.0.0.1:0.
async fn ui() -> (std::net::SocketAddr, stampede::CancellationToken) {
    let plan = Plan::new().user_type(UserType::new("U", |_| U).task(task!(U::nothing)));
    let argv = ["plan", "--web-auth", "admin:s3cret"].map(String::from);
    let cli = try_parse_args::<NoOptions>(argv).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let guard = Guard::new(cli.options.web_auth.clone(), addr, &[]);
    let app = router(Arc::new(Control::new(plan, cli.options)), guard);
    let stop = stampede::CancellationToken::new();
    tokio::spawn(serve(listener, app, Limits::default(), stop.clone()));
    (addr, stop)
}

/// `GET /` with the operator's credentials; the status line's code.
async fn operator_get(addr: std::net::SocketAddr) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // base64("admin:s3cret")
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic YWRtaW46czNjcmV0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_silent_connections_do_not_lock_the_operator_out() {
    let (addr, stop) = ui().await;
    assert!(Limits::default().max_connections < 300);
    // More silent connections than there are slots, each held open by the test; none sends
    // a byte, and each would keep its slot for the 10 s header deadline.
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let status = tokio::time::timeout(Duration::from_secs(2), operator_get(addr))
        .await
        .expect("the operator's GET / answered within 2 s");
    assert_eq!(status, 200);
    // The oldest silent connection made room for the others, and was closed for it.
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), silent[0].read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0))),
        "the oldest silent connection was closed: {read:?}"
    );
    stop.cancel();
}
