# run_single_user, Locust's way to debug a user: `python single_user.py HOST` under Locust,
# `python -m stampede single_user.py HOST` under Stampede. The user stops itself.
import sys

from locust import HttpUser, constant, run_single_user, task
from locust.exception import StopUser


class Debugged(HttpUser):
    host = sys.argv[1]
    wait_time = constant(0)

    def on_start(self):
        self.left = 3

    @task
    def home(self):
        self.client.get("/", name="home")
        self.left -= 1
        if not self.left:
            raise StopUser()


if __name__ == "__main__":
    run_single_user(Debugged)
    print("done", flush=True)
