# Differential: --tags picks tasks by tag, recursively, as Locust does; the user ends
# itself after 10 tasks.
from locust import HttpUser, constant, tag, task
from locust.exception import StopUser

class T(HttpUser):
    wait_time = constant(0)
    n = 0
    @tag("a")
    @task
    def one(self):
        self.client.get("/", name="one")
        self.stop_soon()
    @tag("b")
    @task
    def two(self):
        self.client.get("/", name="two")
        self.stop_soon()
    def stop_soon(self):
        self.n += 1
        if self.n >= 10:
            raise StopUser()
