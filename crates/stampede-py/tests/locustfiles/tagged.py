# Two tagged tasks; a master's --tags decides which run on its workers.
from locust import FastHttpUser, constant, tag, task


class Tagged(FastHttpUser):
    wait_time = constant(0.1)

    @tag("a")
    @task
    def first(self):
        self.client.get("/", name="a")

    @tag("b")
    @task
    def second(self):
        self.client.get("/", name="b")
