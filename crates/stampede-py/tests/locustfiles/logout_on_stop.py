# A user that logs out in on_stop: under the default --stop-timeout 0 the run's end kills
# the user, and its on_stop still runs and sends its request, as under Locust.
from locust import HttpUser, constant, task


class LoggedIn(HttpUser):
    wait_time = constant(0.2)

    @task
    def page(self):
        self.client.get("/")

    def on_stop(self):
        self.client.post("/logout/", name="logout")
