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
//!
//! With no `--host` it starts the Hoodie Shop in this process. `--wait-scale 0` removes the
//! workshop's waits (5-9 s between tasks, 30 s and 5 s filling in forms).

use hoodie_shop::ShopOptions;
use stampede::prelude::*;

funnel! {
    /// The funnel's steps, in order: the names of the requests below.
    FUNNEL = [
        HOME = "1 home",
        CATEGORY = "2 /products/category/apparel-1/",
        PRODUCT = "3 /products/codemash-1/",
        ADD_TO_CART = "4 products/codemash-1/add/",
        CHECKOUT = "5 /checkout/",
        ADDRESS = "6 /checkout/shipping-address/",
        SHIPPING = "7 /checkout/shipping-method/",
        SUMMARY = "8 /checkout/summary/",
        PAYMENT = "9 /order/[order-id]/payment",
    ]
}

/// A shopper's browser, with the workshop's `SharedTasks` and `Helpers` as its methods.
struct Shopper {
    client: Client,
}

impl Shopper {
    fn new(ctx: &UserContext) -> Self {
        let mut client = ctx.client();
        // Django's AJAX idiom: send the csrftoken cookie back as a header.
        client.header_from_cookie("X-CSRFToken", "csrftoken");
        Self { client }
    }

    async fn register_user(&mut self) -> TaskResult<Response> {
        let signup = self.client.get("/account/signup/").await?;
        let token = signup.hidden_input("csrfmiddlewaretoken")?;
        let (email, password) = (fake::unique_email(), fake::password());
        let form = [("csrfmiddlewaretoken", token), ("email", email), ("password", password)];
        self.client.post("/account/signup/").form(&form).expect_redirect_to("/").await
    }

    async fn find_hoodie(&mut self) -> TaskResult<Response> {
        self.client.get("/").name(HOME).await?;
        self.client.get("/products/category/apparel-1/").name(CATEGORY).await?;
        self.client.get("/products/codemash-1/").name(PRODUCT).await
    }

    async fn add_to_cart(&mut self) -> TaskResult<Response> {
        let form = [("quantity", "1"), ("variant", "1")];
        self.client.post("/products/codemash-1/add/").name(ADD_TO_CART).ajax().form(&form).await
    }

    async fn checkout(&mut self) -> TaskResult<Response> {
        self.client.get("/checkout/").name(CHECKOUT).await?;
        self.client.think(30.0).await?; // filling in the address form
        let mut fields = fake::us_address().in_place("Cleveland", "OH", "44111").form_fields();
        fields.extend([("email", fake::unique_email()), ("address", "new_address".into())]);
        self.client
            .post("/checkout/shipping-address/")
            .name(ADDRESS)
            .form(&fields)
            .expect_redirect_to("/checkout/shipping-method/")
            .await?;
        self.client.think(5.0).await?; // choosing a shipping method
        self.client
            .post("/checkout/shipping-method/")
            .name(SHIPPING)
            .form(&[("method", "1")])
            .await?;
        let payment = self
            .client
            .post("/checkout/summary/")
            .name(SUMMARY)
            .form(&[("address", "shipping_address")])
            .expect_path(|p| p.ends_with("/payment/"))
            .await?;
        self.client.post(payment.url().path()).name(PAYMENT).form(&[("method", "default")]).await
    }

    async fn just_visiting(&mut self) -> TaskResult<Response> {
        self.client.get("/").await
    }

    async fn search(&mut self) -> TaskResult<Response> {
        self.find_hoodie().await
    }

    async fn bail_on_cart(&mut self) -> TaskResult<Response> {
        self.find_hoodie().await?;
        self.add_to_cart().await
    }

    async fn buy(&mut self) -> TaskResult<Response> {
        self.find_hoodie().await?;
        self.add_to_cart().await?;
        self.checkout().await
    }
}

fn user_funnel() -> Plan {
    Plan::new()
        .user_type(
            UserType::new("Visitor", Shopper::new)
                .weight(80)
                .wait_time(between(5.0, 9.0))
                .task(task!(3, Shopper::just_visiting))
                .task(task!(47, Shopper::search))
                .task(task!(25, Shopper::bail_on_cart))
                .task(task!(25, Shopper::buy)),
        )
        .user_type(
            UserType::new("ReturningUser", Shopper::new)
                .weight(20)
                .wait_time(between(5.0, 9.0))
                .on_start(Shopper::register_user)
                .task(task!(20, Shopper::search))
                .task(task!(5, Shopper::bail_on_cart))
                .task(task!(75, Shopper::buy)),
        )
        .funnel(FUNNEL)
}

fn main() -> ExitCode {
    App::with_options(|_: &ShopOptions| user_funnel()).default_host(ShopOptions::start).main()
}
