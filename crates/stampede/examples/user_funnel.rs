//! The workshop's user funnel (second walkthrough), in Stampede.
//!
//! 80 % of users are new `Visitor`s, 20 % `ReturningUser`s who register when they start.
//! Both find the CodeMash hoodie, some add it to the cart, some buy it. Requests are named
//! `1 home` ... `9 /order/[order-id]/payment` so the table reads as the funnel.
//!
//! ```text
//! cargo run --release --example user_funnel -- --headless -u 50 -r 10 -t 60s
//! cargo run --release --example user_funnel -- --host http://my-saleor:8000 --headless -u 10 -r 5
//! ```

#[path = "shared/embedded_shop.rs"]
mod embedded_shop;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use stampede::fake;
use stampede::prelude::*;

/// The funnel's steps, in order: the request names below.
const FUNNEL: [&str; 9] = [
    "1 home",
    "2 /products/category/apparel-1/",
    "3 /products/codemash-1/",
    "4 products/codemash-1/add/",
    "5 /checkout/",
    "6 /checkout/shipping-address/",
    "7 /checkout/shipping-method/",
    "8 /checkout/summary/",
    "9 /order/[order-id]/payment",
];

/// The plan's own options (Locust's `init_command_line_parser`).
#[derive(clap::Args, Clone, Debug)]
struct FunnelOptions {
    /// Scales the workshop's waits (5-9 s between tasks, 30 s and 5 s filling in forms); 0 removes them.
    #[arg(long, default_value_t = 1.0)]
    think_scale: f64,
    /// With no --host: keep the embedded shop's database here instead of a temporary file.
    #[arg(long, value_name = "PATH")]
    shop_db: Option<PathBuf>,
}

/// A shopper's browser and the workshop's helpers (its `SharedTasks` and `Helpers`).
struct Shopper {
    client: Client,
    think_scale: f64,
}

impl Shopper {
    fn new(ctx: &UserContext, think_scale: f64) -> Self {
        Self {
            client: ctx.client(),
            think_scale,
        }
    }

    /// A person filling in a form.
    async fn think(&self, secs: f64) {
        if self.think_scale > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(secs * self.think_scale)).await;
        }
    }

    fn csrf(&self) -> Result<String, TaskError> {
        self.client
            .cookie("csrftoken")
            .ok_or_else(|| TaskError::msg("no csrftoken cookie yet"))
    }

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

    async fn find_hoodie(&mut self) -> TaskResult {
        self.client.get("/").name("1 home").send().await?;
        self.client
            .get("/products/category/apparel-1/")
            .name("2 /products/category/apparel-1/")
            .send()
            .await?;
        self.client
            .get("/products/codemash-1/")
            .name("3 /products/codemash-1/")
            .send()
            .await?;
        Ok(())
    }

    async fn add_to_cart(&mut self) -> TaskResult {
        let csrf = self.csrf()?;
        self.client
            .post("/products/codemash-1/add/")
            .name("4 products/codemash-1/add/")
            .ajax()
            .header("X-CSRFToken", &csrf)
            .form(&[("quantity", "1"), ("variant", "1")])
            .send()
            .await?;
        Ok(())
    }

    async fn checkout(&mut self) -> TaskResult {
        self.client
            .get("/checkout/")
            .name("5 /checkout/")
            .send()
            .await?;
        self.think(30.0).await;
        let mut address = fake::us_address();
        (address.city, address.country_area, address.postal_code) =
            ("Cleveland".into(), "OH".into(), "44111".into());
        let mut fields = address.form_fields();
        fields.push(("email", fake::unique_email()));
        fields.push(("address", "new_address".into()));
        let csrf = self.csrf()?;
        self.client
            .post("/checkout/shipping-address/")
            .name("6 /checkout/shipping-address/")
            .header("X-CSRFToken", &csrf)
            .form(&fields)
            .check(|r| {
                if r.url().path() == "/checkout/shipping-method/" {
                    Ok(())
                } else {
                    Err("address was refused".into())
                }
            })
            .send()
            .await?;
        self.think(5.0).await;
        self.client
            .post("/checkout/shipping-method/")
            .name("7 /checkout/shipping-method/")
            .header("X-CSRFToken", &csrf)
            .form(&[("method", "1")])
            .send()
            .await?;
        let payment = self
            .client
            .post("/checkout/summary/")
            .name("8 /checkout/summary/")
            .header("X-CSRFToken", &csrf)
            .form(&[("address", "shipping_address")])
            .check(|r| {
                if r.url().path().ends_with("/payment/") {
                    Ok(())
                } else {
                    Err("no order was placed".into())
                }
            })
            .send()
            .await?;
        let payment_url = payment.url().path().to_owned();
        self.client
            .post(&payment_url)
            .name("9 /order/[order-id]/payment")
            .header("X-CSRFToken", &csrf)
            .form(&[("method", "default")])
            .send()
            .await?;
        Ok(())
    }

    async fn just_visiting(&mut self) -> TaskResult {
        self.client.get("/").send().await?;
        Ok(())
    }

    async fn search(&mut self) -> TaskResult {
        self.find_hoodie().await
    }

    async fn bail_on_cart(&mut self) -> TaskResult {
        self.find_hoodie().await?;
        self.add_to_cart().await
    }

    async fn buy(&mut self) -> TaskResult {
        self.find_hoodie().await?;
        self.add_to_cart().await?;
        self.checkout().await
    }
}

fn user_funnel(opts: &FunnelOptions) -> Plan {
    let wait = between(5.0, 9.0).scaled(opts.think_scale);
    let scale = opts.think_scale;
    Plan::new()
        .user_type(
            UserType::new("Visitor", move |ctx| Shopper::new(ctx, scale))
                .weight(80)
                .wait_time(wait.clone())
                .task(task!(3, Shopper::just_visiting))
                .task(task!(47, Shopper::search))
                .task(task!(25, Shopper::bail_on_cart))
                .task(task!(25, Shopper::buy)),
        )
        .user_type(
            UserType::new("ReturningUser", move |ctx| Shopper::new(ctx, scale))
                .weight(20)
                .wait_time(wait)
                .on_start(Shopper::register_user)
                .task(task!(20, Shopper::search))
                .task(task!(5, Shopper::bail_on_cart))
                .task(task!(75, Shopper::buy)),
        )
        .funnel(FUNNEL)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = match stampede::parse_args::<FunnelOptions>(std::env::args()) {
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
    // Built from the options, so a worker can rebuild it from its master's options.
    let code = stampede::run_built(&cli, user_funnel).await;
    if let Some(shop) = shop {
        shop.report();
    }
    code
}
