# The json_api example (crates/stampede/examples/json_api.rs) as a locustfile: the same
# user, weights, requests and names against the Hoodie Shop's JSON API (docs/shop.md), and
# the same rule that a value missing from an answer fails that request, by name.
# tests/json_api.rs runs it under real Locust beside the Rust plan.
import os
import uuid

from locust import HttpUser, between, task
from locust.exception import RescheduleTask, StopUser


def extract(response, *path):
    try:
        value = response.json()
        for key in path:
            value = value[key]
        return value
    except (ValueError, KeyError, IndexError, TypeError):
        response.failure("could not extract: no JSON value at '{}'".format(".".join(map(str, path))))


# WAIT_SCALE=0 removes the waits, as the Rust plan's --wait-scale 0 does.
SCALE = float(os.environ.get("WAIT_SCALE", "1"))


class Shopper(HttpUser):
    wait_time = between(1 * SCALE, 3 * SCALE)

    def on_start(self):
        creds = {"email": f"{uuid.uuid4().hex}@example.com", "password": uuid.uuid4().hex}
        self.client.post("/api/register", json=creds, name="register")
        with self.client.post("/api/login", json=creds, name="login", catch_response=True) as login:
            token = extract(login, "token")
        if token is None:
            raise StopUser()
        self.client.headers["Authorization"] = f"Bearer {token}"

    @task(5)
    def browse(self):
        self.client.get("/api/products", name="products")

    @task(2)
    def add_to_cart(self):
        with self.client.get("/api/products/1", name="product", catch_response=True) as product:
            variant = extract(product, "variants", 0, "id")
        if variant is None:
            raise RescheduleTask()
        self.client.post("/api/cart/items", json={"variant_id": variant, "quantity": 1}, name="add to cart")

    @task(1)
    def order(self):
        self.add_to_cart()
        with self.client.post("/api/orders", name="order", catch_response=True) as order:
            order_id = extract(order, "id")
        if order_id is None:
            raise RescheduleTask()
        self.client.get(f"/api/orders/{order_id}", name="/api/orders/[id]")
