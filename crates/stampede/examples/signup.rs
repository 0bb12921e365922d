//! The workshop's signup script (first walkthrough), in Stampede: load the signup page,
//! pull `csrfmiddlewaretoken` out of the form, post a fresh fake email and password.
//!
//! ```text
//! cargo run --release --example signup -- --headless -u 5 -r 1 -t 30s
//! ```

#[path = "shared/embedded_shop.rs"]
mod embedded_shop;

use std::path::PathBuf;
use std::process::ExitCode;

use stampede::fake;
use stampede::prelude::*;

#[derive(clap::Args, Clone, Debug)]
struct SignupOptions {
    /// Scales the 5-10 s wait between signups; 0 removes it.
    #[arg(long, default_value_t = 1.0)]
    think_scale: f64,
    /// With no --host: keep the embedded shop's database here instead of a temporary file.
    #[arg(long, value_name = "PATH")]
    shop_db: Option<PathBuf>,
}

struct Visitor {
    client: Client,
}

impl Visitor {
    async fn register_user(&mut self) -> TaskResult {
        let response = self.client.get("/account/signup/").send().await?;
        let csrf_token = response.hidden_input("csrfmiddlewaretoken")?;
        self.client
            .post("/account/signup/")
            .form(&[
                ("csrfmiddlewaretoken", csrf_token),
                ("email", fake::unique_email()),
                ("password", fake::password()),
            ])
            .check(|r| {
                if r.url().path() == "/" {
                    Ok(())
                } else {
                    Err("signup form was refused".into())
                }
            })
            .send()
            .await?;
        Ok(())
    }
}

fn signup(opts: &SignupOptions) -> Plan {
    Plan::new().user_type(
        UserType::new("Visitor", |ctx| Visitor {
            client: ctx.client(),
        })
        .wait_time(between(5.0, 10.0).scaled(opts.think_scale))
        .task(task!(Visitor::register_user)),
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = match stampede::parse_args::<SignupOptions>(std::env::args()) {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code as u8),
    };
    let shop = match embedded_shop::ensure_host(&mut cli.options, cli.plan.shop_db.as_deref()).await
    {
        Ok(shop) => shop,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let code = stampede::run_built(&cli, signup).await;
    if let Some(shop) = shop {
        shop.report();
    }
    code
}
