# Differential: a LoadTestShape in the locustfile drives the users: 2 users, then 4, then
# the shape ends the test. The lifecycle lines (shape starting, updating, stopping) and
# the exit code must be Locust's.
from locust import LoadTestShape, constant, task
from locust.contrib.fasthttp import FastHttpUser


class Plain(FastHttpUser):
    wait_time = constant(0.1)

    @task
    def index(self):
        self.client.get("/")


class Steps(LoadTestShape):
    def tick(self):
        t = self.get_run_time()
        if t < 1.5:
            return (2, 50)
        if t < 3.5:
            return (4, 50)
        return None
