# A master shares out test data among its workers at test start, reading the runner's
# target user count, worker count and clients, and addressing each worker by its id;
# workers note what they got, their index, and the runner's state around the test.
import os

from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

names = []


def note(line):
    with open(os.environ["MESSAGES_LOG"], "a") as f:
        f.write(line + "\n")


def take_names(environment, msg, **kwargs):
    names.extend(msg.data)
    note(f"worker {environment.runner.worker_index} got {msg.data}")


@events.init.add_listener
def on_init(environment, **kwargs):
    if isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("names", take_names)


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        wanted = [f"user{i}" for i in range(runner.target_user_count)]
        count = runner.worker_count
        note(f"master test_start: target={runner.target_user_count} workers={count} clients={len(runner.clients)}")
        share = len(wanted) // count
        for i, worker in enumerate(runner.clients):
            part = wanted[i * share : (i + 1) * share if i + 1 < count else len(wanted)]
            runner.send_message("names", part, worker)


@events.worker_connect.add_listener
def on_worker_connect(client_id, **kwargs):
    note("master saw a worker connect")


@events.test_stopping.add_listener
def on_stopping(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        note("master test_stopping")


@events.test_stop.add_listener
def on_test_stop(environment, **kwargs):
    if isinstance(environment.runner, MasterRunner):
        note(f"master test_stop: state={environment.runner.state} spawn_rate={environment.runner.spawn_rate}")


class Named(FastHttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        self.client.get("/")
