# Sessions built by hand outside any user, as Locust's docs show for a second host:
# one at import, one in test_start. Both send from test_start (before any user runs) and
# from test_stop; every request is counted, under the name given.
from locust import HttpUser, constant, events, task
from locust.clients import HttpSession
from locust.exception import StopUser

at_import = None


@events.init.add_listener
def on_init(environment, **kwargs):
    global at_import
    at_import = HttpSession(base_url=environment.host, request_event=environment.events.request, user=None)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    in_start = HttpSession(base_url=environment.host, request_event=environment.events.request, user=None)
    in_start.get("/", name="setup in test_start")
    at_import.get("/?from=init", name="setup from init")
    with at_import.get("/missing", name="setup checked", catch_response=True) as r:
        r.failure("checked by hand")


@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    at_import.get("/", name="teardown")


class Once(HttpUser):
    wait_time = constant(0)

    @task
    def one(self):
        self.client.get("/", name="user")
        raise StopUser()
