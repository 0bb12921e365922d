"""``locust.util``: only the helpers locustfiles import (``timespan``)."""
