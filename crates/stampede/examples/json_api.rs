//! A JSON API with token login, against the Hoodie Shop's `/api` (docs/shop.md): register
//! and log in once per user, keep the token, then browse, fill the cart and order. Each
//! value taken out of an answer fails that request, by name, when it is missing.
//! `bench/locustfile_json_api.py` is the same test as a locustfile.
//!
//! ```text
//! cargo run --release --example json_api -- --headless -u 20 -r 5 -t 30s
//! ```
use hoodie_shop::ShopOptions;
use stampede::prelude::*;

struct Shopper(Client);

impl Shopper {
    async fn log_in(&mut self) -> TaskResult {
        let creds = json!({ "email": fake::unique_email(), "password": fake::password() });
        self.0.post("/api/register").json(&creds).name("register").send().await?;
        let login = self.0.post("/api/login").json(&creds).name("login");
        let token: String = login.extract(|r| r.json_path("token")).await?;
        self.0.set_header("Authorization", &format!("Bearer {token}"));
        Ok(())
    }
    async fn browse(&mut self) -> TaskResult<Response> {
        self.0.get("/api/products").name("products").await
    }
    async fn add_to_cart(&mut self) -> TaskResult<Response> {
        let product = self.0.get("/api/products/1").name("product");
        let variant: u64 = product.extract(|r| r.json_path("variants.0.id")).await?;
        let item = json!({ "variant_id": variant, "quantity": 1 });
        self.0.post("/api/cart/items").json(&item).name("add to cart").await
    }
    async fn order(&mut self) -> TaskResult<Response> {
        self.add_to_cart().await?;
        let id: u64 =
            self.0.post("/api/orders").name("order").extract(|r| r.json_path("id")).await?;
        self.0.get(format!("/api/orders/{id}")).name("/api/orders/[id]").await
    }
}

fn main() -> ExitCode {
    let shopper = UserType::new("Shopper", |ctx| Shopper(ctx.client()))
        .wait_time(between(1.0, 3.0))
        .on_start(Shopper::log_in)
        .task(task!(5, Shopper::browse))
        .task(task!(2, Shopper::add_to_cart))
        .task(task!(1, Shopper::order));
    let plan = Plan::new().user_type(shopper);
    App::with_options(move |_: &ShopOptions| plan.clone()).default_host(ShopOptions::start).main()
}
