# The funnel's steps, shared by both behaviours as a mixin (Locust 0.8: a plain class whose
# methods use self.client, mixed into each TaskSet). Request names follow the funnel's
# nine steps.
from helpers import ADDRESS, Helpers, fake


class SharedTasks(Helpers):
    def register_user(self):
        response = self.client.get("/account/signup/")
        csrf_token = self.parse_csrf(response.text)
        self.client.post("/account/signup/", {
            "csrfmiddlewaretoken": csrf_token,
            "email": fake.email(),
            "password": fake.password(),
        })

    def find_hoodie(self):
        self.client.get("/", name="1 home")
        self.client.get("/products/category/apparel-1/", name="2 /products/category/apparel-1/")
        self.client.get("/products/codemash-1/", name="3 /products/codemash-1/")

    def add_to_cart(self):
        headers = self.csrf_header()
        headers["X-Requested-With"] = "XMLHttpRequest"
        self.client.post("/products/codemash-1/add/", {"quantity": 1, "variant": 1},
                         headers=headers, name="4 products/codemash-1/add/")

    def checkout(self):
        self.client.get("/checkout/", name="5 /checkout/")
        address = dict(ADDRESS, email=fake.email(), address="new_address")
        self.client.post("/checkout/shipping-address/", address, headers=self.csrf_header(),
                         name="6 /checkout/shipping-address/")
        self.client.post("/checkout/shipping-method/", {"method": 1}, headers=self.csrf_header(),
                         name="7 /checkout/shipping-method/")
        response = self.client.post("/checkout/summary/", {"address": "shipping_address"},
                                    headers=self.csrf_header(), name="8 /checkout/summary/")
        # The summary redirects to the order's payment page: pay there.
        self.client.post(response.url, {"method": "default"}, headers=self.csrf_header(),
                         name="9 /order/[order-id]/payment")
