# The workshop's first walkthrough (../shared/seeds/000_*): sign up a new user on the shop.
# Written in Locust 0.8's dialect, as the workshop was: HttpLocust, task_set, min_wait and
# max_wait in milliseconds. Run it with `stampede --host http://<shop>` (UI on :8089), or
# headless: `stampede --host URL --headless -u 1 -r 1 -t 30s --wait-scale 0`.
from bs4 import BeautifulSoup
from faker import Faker
from locust import HttpLocust, TaskSet, task

fake = Faker()


class Helpers:
    """Helper functions the tasks use; the workshop does not change them."""

    def parse_csrf(self, html):
        """The form's hidden csrfmiddlewaretoken (Django's CSRF token)."""
        soup = BeautifulSoup(html, "html.parser")
        field = soup.find("input", {"name": "csrfmiddlewaretoken"})
        return field["value"] if field else ""


class VisitorBehavior(TaskSet, Helpers):
    @task
    def register_user(self):
        response = self.client.get("/account/signup/")
        csrf_token = self.parse_csrf(response.text)
        response = self.client.post("/account/signup/", {
            "csrfmiddlewaretoken": csrf_token,
            "email": fake.email(),
            "password": fake.password(),
        })


class Visitor(HttpLocust):
    task_set = VisitorBehavior
    min_wait = 5000
    max_wait = 10000
