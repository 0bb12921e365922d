# Requests that get no response at all (a closed port): each is failed and named after its
# own path, as Locust names it.
from locust import HttpUser, constant, task


class Nobody(HttpUser):
    wait_time = constant(0.3)

    @task
    def deep(self):
        self.client.get("/h/path?x=1")
