# Differential: Locust's events, in order. Each listener writes a line to $EVENTS_OUT; the
# two files (Locust's and Stampede's) must be equal, and so must the stats, including a
# request reported by hand with events.request.fire.
import os

from locust import HttpUser, constant, events, task
from locust.exception import StopUser

OUT = os.environ["EVENTS_OUT"]


def note(line):
    with open(OUT, "a") as f:
        f.write(line + "\n")


@events.init.add_listener
def on_init(environment, runner, **kw):
    note("init " + type(runner).__name__)


@events.test_start.add_listener
def on_test_start(environment, **kw):
    note("test_start")


@events.test_stop.add_listener
def on_test_stop(environment, **kw):
    note("test_stop")


@events.quitting.add_listener
def on_quitting(environment, **kw):
    note("quitting")


@events.request.add_listener
def on_request(request_type, name, response_time, response_length, exception, context, **kw):
    failed = type(exception).__name__ if exception else "ok"
    note(f"request {request_type} {name} {failed} {response_length if request_type == 'CUSTOM' else ''}")


class Reporter(HttpUser):
    wait_time = constant(0)

    def on_start(self):
        note("on_start")

    @task
    def visit(self):
        self.client.get("/")
        self.client.get("/missing/")
        events.request.fire(request_type="CUSTOM", name="db", response_time=12.5,
                            response_length=3, exception=None, context={})
        events.request.fire(request_type="CUSTOM", name="db", response_time=2.0,
                            response_length=0, exception=ValueError("no row"), context={})
        raise StopUser()

    def on_stop(self):
        stats = self.environment.runner.stats
        db = stats.get("db", "CUSTOM")
        note(f"on_stop: {stats.total.num_requests} requests, {stats.total.num_failures} failed, "
             f"db {db.num_requests} ({db.fail_ratio:.2f} failed), / {stats.get('/', 'GET').num_requests}")
