"""``locust.contrib``: only ``fasthttp`` is provided (``locust.contrib.fasthttp``)."""
