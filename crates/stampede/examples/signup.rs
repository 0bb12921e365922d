//! The workshop's signup script (first walkthrough), in Stampede: load the signup page,
//! pull `csrfmiddlewaretoken` out of the form, post a fresh fake email and password.
//!
//! ```text
//! cargo run --release --example signup -- --headless -u 5 -r 1 -t 30s
//! ```
//!
//! With no `--host` it starts the Hoodie Shop in this process; `--wait-scale 0` removes
//! the 5-10 s wait between signups.

use hoodie_shop::ShopOptions;
use stampede::prelude::*;

struct Visitor {
    client: Client,
}

impl Visitor {
    async fn register_user(&mut self) -> TaskResult<Response> {
        let signup = self.client.get("/account/signup/").await?;
        let token = signup.hidden_input("csrfmiddlewaretoken")?;
        let (email, password) = (fake::unique_email(), fake::password());
        let form = [("csrfmiddlewaretoken", token), ("email", email), ("password", password)];
        // A refused form is shown again; an accepted one redirects home.
        self.client.post("/account/signup/").form(&form).expect_redirect_to("/").await
    }
}

fn signup() -> Plan {
    Plan::new().user_type(
        UserType::new("Visitor", |ctx| Visitor { client: ctx.client() })
            .wait_time(between(5.0, 10.0))
            .task(task!(Visitor::register_user)),
    )
}

fn main() -> ExitCode {
    App::with_options(|_: &ShopOptions| signup()).default_host(ShopOptions::start).main()
}
