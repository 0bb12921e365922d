# response.history: each redirect followed, with its status, URL and headers, as requests
# keeps them; none when redirects are not followed. Notes go to $EVENTS_OUT.
import os

from locust import HttpUser, constant, task
from locust.exception import StopUser


def note(line):
    with open(os.environ["EVENTS_OUT"], "a") as f:
        f.write(line + "\n")


class Redirected(HttpUser):
    wait_time = constant(0)

    @task
    def follow(self):
        r = self.client.get("/products/category/not-the-slug-1/", name="moved")
        hops = [(h.status_code, h.url, h.headers.get("Location"), h.request.method) for h in r.history]
        note(f"{r.status_code} {r.url} history={hops}")
        r = self.client.get("/products/category/not-the-slug-1/", name="not followed", allow_redirects=False)
        note(f"{r.status_code} {r.headers.get('Location')} history={len(r.history)} is_redirect={r.is_redirect}")
        raise StopUser()
