//! Users that make one request and then idle, holding their session and one keep-alive
//! connection: the memory section of `bench/run` measures what each costs.
//!
//! `--spread N` aims user i at 127.0.0.(1 + i % N), so 50,000 connections do not run out of
//! local ports on one address pair.

use stampede::prelude::*;

#[derive(clap::Args, Clone, Debug)]
struct IdleOptions {
    /// Spread users over this many loopback addresses (127.0.0.1 ...).
    #[arg(long, default_value_t = 1)]
    spread: u64,
}

struct Idler {
    client: Client,
    done: bool,
}

impl Idler {
    async fn touch(&mut self) -> TaskResult {
        if !self.done {
            self.client.get("/").send().await?;
            self.done = true;
        }
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    App::with_options(|opts: &IdleOptions| {
        let spread = opts.spread.max(1);
        Plan::new().user_type(
            UserType::new("Idler", move |ctx| {
                let mut base = ctx.host();
                let _ = base.set_host(Some(&format!("127.0.0.{}", 1 + ctx.user_id() % spread)));
                Idler { client: ctx.client_for(base), done: false }
            })
            .wait_time(constant(3600.0))
            .task(task!(Idler::touch)),
        )
    })
    .main()
}
