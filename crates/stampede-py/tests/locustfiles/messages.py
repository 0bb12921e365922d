# Master and workers talk: the master greets every worker at test start
# (runner.send_message), each worker answers (register_message both ways), and each
# worker's reports carry an addition (report_to_master) that the master reads
# (worker_report). Every process appends what it saw to $MESSAGES_LOG, one line each,
# for the test to compare with real Locust's.
import os

from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

GREETING = [1, "two", {"three": 3.5}, None, True, [4, [5]]]
seen_report = False


def note(line):
    with open(os.environ["MESSAGES_LOG"], "a") as f:
        f.write(line + "\n")


def on_greet(environment, msg, **kwargs):
    note(f"worker got {msg.type}: {msg.data!r}")
    # A master addresses a worker by the id the worker's runner knows itself by.
    note(f"worker is addressed as itself: {msg.node_id == environment.runner.client_id}")
    environment.runner.send_message("pong", {"echo": msg.data, "n": len(msg.data)})


def on_pong(environment, msg, **kwargs):
    note(f"master got {msg.type}: {msg.data!r}")


@events.init.add_listener
def on_init(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("greet", on_greet)
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("pong", on_pong)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        environment.runner.send_message("greet", GREETING)


@events.report_to_master.add_listener
def on_report_to_master(client_id, data, **kwargs):
    data["custom"] = {"tasks": "counted", "list": [1, 2], "me": client_id}


@events.worker_report.add_listener
def on_worker_report(client_id, data, **kwargs):
    global seen_report
    if not seen_report and "custom" in data:
        note(f"master knows the reporter: {client_id == data['custom'].get('me')}")
        seen_report = True
        keys = sorted(k for k in ("stats", "stats_total", "errors", "user_count") if k in data)
        custom = {k: v for k, v in data["custom"].items() if k != "me"}
        note(f"master got a report with custom {custom!r} beside {keys}")


class Quiet(FastHttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        self.client.get("/")
