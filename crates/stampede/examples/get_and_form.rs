//! The conformance plan: what a browser does on any small site. A page, a redirect, and a
//! form that is fetched and then posted; optionally with a think time between tasks that
//! outlasts the server's keep-alive timeout. `tests/conformance.rs` runs it against real
//! servers (nginx, Apache, gunicorn, uvicorn, Node, Django) and compares with their logs.
//!
//! ```text
//! cargo run --release --example get_and_form -- --host http://127.0.0.1:8080 --headless -u 4 -r 4 -t 20s --think 3
//! ```

use stampede::clap;
use stampede::prelude::*;

#[derive(clap::Args, Clone, Debug)]
struct PlanOptions {
    /// Seconds each user waits between tasks (0: flat out).
    #[arg(long, default_value_t = 0.0)]
    think: f64,
}

struct Browser {
    client: Client,
}

impl Browser {
    async fn page(&mut self) -> TaskResult {
        self.client.get("/").send().await?;
        Ok(())
    }

    /// `/redirect` answers 302 to `/landing`: one request in the report, two server hits.
    async fn redirect(&mut self) -> TaskResult {
        self.client.get("/redirect").send().await?;
        Ok(())
    }

    async fn form(&mut self) -> TaskResult {
        self.client.get("/form").send().await?;
        self.client
            .post("/form")
            .form(&[("name", "stampede"), ("note", "a form post")])
            .send()
            .await?;
        Ok(())
    }
}

fn plan(opts: &PlanOptions) -> Plan {
    Plan::new().user_type(
        UserType::new("Browser", |ctx| Browser { client: ctx.client() })
            .wait_time(constant(opts.think))
            .task(task!(2, Browser::page))
            .task(task!(1, Browser::redirect))
            .task(task!(1, Browser::form)),
    )
}

fn main() -> std::process::ExitCode {
    App::with_options(plan).main()
}
