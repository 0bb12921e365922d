# Differential: one HttpUser, seeded task choice, no waits, ends itself after 40 tasks.
# Per-name counts and failure texts must be equal under Locust 2.47 and Stampede.
import random

from locust import HttpUser, constant, task
from locust.exception import StopUser

random.seed(7)


class Shopper(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.done = 0
        self.client.get("/", name="hello")

    def tick(self):
        self.done += 1
        if self.done > 40:
            raise StopUser()

    @task(5)
    def home(self):
        self.tick()
        self.client.get("/")

    @task(3)
    def product(self):
        self.tick()
        self.client.get("/products/codemash-1/", name="product")

    @task(2)
    def missing(self):
        self.tick()
        self.client.get("/no-such-page/")

    @task(2)
    def search(self):
        self.tick()
        self.client.get("/search/", params={"q": "hoodie blue"})

    @task(1)
    def judged(self):
        self.tick()
        with self.client.get("/", catch_response=True, name="judged") as r:
            if "odie" in r.text:
                r.failure("found a hoodie")
            else:
                r.success()

    @task(1)
    def broken(self):
        self.tick()
        raise ValueError("a task that fails")

    def on_stop(self):
        self.client.get("/", name="bye")
