# The workshop's user funnel as a locustfile, for bench/funnel: the same user types,
# weights, tasks, request names and form posts as crates/stampede/examples/user_funnel.rs,
# with no waits (the harness compares requests per client CPU-second).
import itertools
import re
import uuid

from locust import FastHttpUser, HttpUser, task

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
emails = itertools.count()
ADDRESS = {
    "first_name": "Ada", "last_name": "Lovelace", "company_name": "", "street_address_1": "1 Main St",
    "street_address_2": "", "city": "Cleveland", "city_area": "", "postal_code": "44111",
    "country": "US", "country_area": "OH", "phone": "+12165550142",
}


def unique_email():
    return "bench.{}.{}@example.com".format(next(emails), uuid.uuid4().hex[:8])


class Funnel:
    def register_user(self):
        page = self.client.get("/account/signup/")
        token = CSRF.search(page.text).group(1)
        self.client.post("/account/signup/", data={"csrfmiddlewaretoken": token, "email": unique_email(), "password": "correct-horse-9"})

    def csrf(self):
        return self.client.cookies.get("csrftoken") if hasattr(self.client, "cookies") else self.client.cookiejar._cookies

    def find_hoodie(self):
        self.client.get("/", name="1 home")
        self.client.get("/products/category/apparel-1/", name="2 /products/category/apparel-1/")
        self.client.get("/products/codemash-1/", name="3 /products/codemash-1/")

    def token(self):
        jar = getattr(self.client, "cookies", None)
        if jar is not None:
            return jar.get("csrftoken", "")
        for c in self.client.cookiejar:
            if c.name == "csrftoken":
                return c.value
        return ""

    def add_to_cart(self):
        self.client.post("/products/codemash-1/add/", name="4 products/codemash-1/add/", data={"quantity": "1", "variant": "1"},
                         headers={"X-CSRFToken": self.token(), "X-Requested-With": "XMLHttpRequest"})

    def checkout(self):
        self.client.get("/checkout/", name="5 /checkout/")
        h = {"X-CSRFToken": self.token()}
        self.client.post("/checkout/shipping-address/", name="6 /checkout/shipping-address/",
                         data=dict(ADDRESS, email=unique_email(), address="new_address"), headers=h)
        self.client.post("/checkout/shipping-method/", name="7 /checkout/shipping-method/", data={"method": "1"}, headers=h)
        r = self.client.post("/checkout/summary/", name="8 /checkout/summary/", data={"address": "shipping_address"}, headers=h)
        url = r.url if isinstance(r.url, str) else str(r.url)
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        self.client.post(path, name="9 /order/[order-id]/payment", data={"method": "default"}, headers=h)

    def search(self):
        self.find_hoodie()

    def bail_on_cart(self):
        self.find_hoodie()
        self.add_to_cart()

    def buy(self):
        self.find_hoodie()
        self.add_to_cart()
        self.checkout()


def user_types(base, prefix):
    class Visitor(Funnel, base):
        weight = 80

        @task(3)
        def just_visiting(self):
            self.client.get("/")

        @task(47)
        def search_(self):
            self.search()

        @task(25)
        def bail_on_cart_(self):
            self.bail_on_cart()

        @task(25)
        def buy_(self):
            self.buy()

    class ReturningUser(Funnel, base):
        weight = 20

        def on_start(self):
            self.register_user()

        @task(20)
        def search_(self):
            self.search()

        @task(5)
        def bail_on_cart_(self):
            self.bail_on_cart()

        @task(75)
        def buy_(self):
            self.buy()

    Visitor.__name__ = prefix + "Visitor"
    ReturningUser.__name__ = prefix + "ReturningUser"
    return Visitor, ReturningUser


HttpVisitor, HttpReturningUser = user_types(HttpUser, "Http")
FastVisitor, FastReturningUser = user_types(FastHttpUser, "Fast")
del HttpUser, FastHttpUser
