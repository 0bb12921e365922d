// Stampede: upstream's three tests here ran PUB/SUB, XPUB/SUB and XSUB/XPUB, which this
// fork does not have; the first one runs on DEALER and ROUTER instead (a frame far larger
// than the read buffer, well under the fork's MAX_FRAME), and the other two are gone.
use zeromq::__async_rt as async_rt;
use zeromq::prelude::*;
use zeromq::{Endpoint, ZmqMessage};

use std::time::Duration;

fn tcp_endpoint(endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::Tcp(_, port) => format!("tcp://127.0.0.1:{port}"),
        _ => unreachable!("expected tcp endpoint"),
    }
}

#[async_rt::test]
async fn dealer_router_delivers_large_message() {
    let payload = vec![0xAB; 300_000];

    let mut router_socket = zeromq::RouterSocket::new();
    let endpoint = tcp_endpoint(router_socket.bind("tcp://127.0.0.1:0").await.unwrap());

    let mut dealer_socket = zeromq::DealerSocket::new();
    dealer_socket.connect(&endpoint).await.unwrap();
    async_rt::task::sleep(Duration::from_millis(100)).await;

    dealer_socket
        .send(ZmqMessage::from(payload.clone()))
        .await
        .unwrap();

    let received = async_rt::task::timeout(Duration::from_secs(2), router_socket.recv())
        .await
        .expect("timeout waiting for large DEALER message")
        .unwrap();
    assert_eq!(received.len(), 2, "identity frame and payload");
    assert_eq!(received.get(1).unwrap().as_ref(), payload.as_slice());
}
