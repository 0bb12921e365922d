//! A plan and a served web UI for the UI's API tests (`tests/web_api.rs`): a real HTTP
//! server on a free loopback port, a browser-like client, and polling the API.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use stampede::advanced::config::NoOptions;
use stampede::advanced::try_parse_args;
use stampede::advanced::web::{router, Control, Guard};
use stampede::prelude::*;

pub struct U {
    client: Client,
}

impl U {
    async fn home(&mut self) -> TaskResult {
        self.client.get("/").name("home").send().await?;
        Ok(())
    }
    async fn oops(&mut self) -> TaskResult {
        Err(TaskError::msg("oops"))
    }
}

pub fn plan() -> Plan {
    Plan::new()
        .user_type(
            UserType::new("Reader", |ctx| U {
                client: ctx.client(),
            })
            .weight(3)
            .wait_time(constant(0.05))
            .task(task!(U::home)),
        )
        .user_type(
            UserType::new("Clumsy", |ctx| U {
                client: ctx.client(),
            })
            .weight(1)
            .wait_time(constant(0.05))
            .task(task!(U::oops)),
        )
        .funnel(["home"])
}

/// Starts the UI on 127.0.0.1:0 against the test server; returns (ui url, test server).
pub async fn ui(extra: &[&str]) -> (url::Url, super::TestServer) {
    ui_with(plan(), extra).await
}

pub async fn ui_with(plan: Plan, extra: &[&str]) -> (url::Url, super::TestServer) {
    let srv = super::start().await;
    let host = srv.url().to_string();
    let mut argv = vec!["plan".to_owned(), "-H".to_owned(), host];
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = try_parse_args::<NoOptions>(argv).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let guard = Guard::new(
        cli.options.web_auth.clone(),
        addr,
        &cli.options.web_allowed_hosts,
    );
    let control = Arc::new(Control::new(plan, cli.options));
    tokio::spawn(async move { axum::serve(listener, router(control, guard)).await.unwrap() });
    (format!("http://{addr}/").parse().unwrap(), srv)
}

/// A browser on the UI that accepts any status.
pub fn browser(base: &url::Url) -> Client {
    super::client(base.clone()).0
}

pub async fn send(b: stampede::RequestBuilder<'_>) -> stampede::Response {
    b.check(|_| Ok(())).send().await.unwrap()
}

pub async fn json(c: &mut Client, path: &str) -> Value {
    send(c.get(path)).await.json().unwrap()
}

pub async fn until(c: &mut Client, path: &str, cond: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let v = json(c, path).await;
        if cond(&v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{path} never satisfied the condition: {}",
        json(c, path).await
    );
}
