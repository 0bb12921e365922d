//! The smallest plan: one user type, one GET task, no wait. The benchmark harness uses it
//! for raw throughput, and it is the "minimal plan" whose build time the README quotes.
//!
//! ```text
//! cargo run --release --example hello -- --host http://127.0.0.1:8080 --headless -u 32 -r 32 -t 10s
//! ```

use stampede::prelude::*;

struct Reader {
    client: Client,
}

impl Reader {
    async fn get_root(&mut self) -> TaskResult {
        self.client.get("/").send().await?;
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    stampede::main(
        Plan::new().user_type(
            UserType::new("Reader", |ctx| Reader { client: ctx.client() })
                .task(task!(Reader::get_root)),
        ),
    )
}
