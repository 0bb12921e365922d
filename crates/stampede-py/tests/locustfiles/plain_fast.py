# One GET per task, no waits: the bench's plain GET, and the lifecycle lines' test.
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Plain(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
