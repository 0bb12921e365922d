# Locust used as a library, as its docs show: an Environment, a local runner started and
# quit from the script. Run as `python library_script.py HOST` under Locust and as
# `python -m stampede library_script.py HOST` under Stampede; both print the same lines.
import sys

import gevent
from locust import HttpUser, constant, events, task
from locust.env import Environment


class Visitor(HttpUser):
    host = sys.argv[1]
    wait_time = constant(0.01)

    @task
    def home(self):
        self.client.get("/")


env = Environment(user_classes=[Visitor], events=events)
runner = env.create_local_runner()
events.test_start.add_listener(lambda environment, **kw: print("test_start", flush=True))
runner.start(2, spawn_rate=10)
gevent.spawn_later(1.5, runner.quit)
runner.greenlet.join()
total = env.stats.total
print("requests made:", total.num_requests > 10, "failed:", total.num_failures, flush=True)
