# A locustfile's own argument given to the master only: Locust's master forwards it with
# each spawn, and its workers read it in test_start and in their tasks; so is the host,
# which workers take as their environment.host. Each process
# appends what it saw to $MESSAGES_LOG.
import os

from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

noted = set()


def note(line):
    if line not in noted:
        noted.add(line)
        with open(os.environ["MESSAGES_LOG"], "a") as f:
            f.write(line + "\n")


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--greeting", type=str, default="unset", help="said by every user")
    parser.add_argument("--rounds", type=int, default=1, help="a number, forwarded as one")


@events.test_start.add_listener
def on_test_start(environment, **kwargs):
    role = "master" if isinstance(environment.runner, MasterRunner) else "worker"
    o = environment.parsed_options
    note(f"{role} test_start: greeting={o.greeting!r} rounds={o.rounds!r} host={environment.host!r}")


class Greeter(FastHttpUser):
    wait_time = constant(0.2)

    @task
    def index(self):
        o = self.environment.parsed_options
        note(f"user: greeting={o.greeting!r} rounds={o.rounds!r}")
        self.client.get("/")
