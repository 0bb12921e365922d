"""The conformance plan (examples/get_and_form.rs) as a locustfile, for Locust's HttpUser
and FastHttpUser on the same servers. THINK is the wait between tasks, in seconds."""
import os

from locust import HttpUser, constant
from locust.contrib.fasthttp import FastHttpUser

THINK = float(os.environ.get("THINK", "0"))


def page(user):
    user.client.get("/")


def redirect(user):
    user.client.get("/redirect")


def form(user):
    user.client.get("/form")
    user.client.post("/form", data={"name": "stampede", "note": "a form post"})


TASKS = {page: 2, redirect: 1, form: 1}


class HttpBrowser(HttpUser):
    wait_time = constant(THINK)
    tasks = TASKS


class FastBrowser(FastHttpUser):
    wait_time = constant(THINK)
    tasks = TASKS
