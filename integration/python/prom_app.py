"""An app instrumented with the official Prometheus Python client (prometheus_client),
serving /metrics on a loopback port for ferrotel's prometheus receiver to scrape.

Prints {"port": N, "start": <unix seconds when the metrics were created>} on one line, then
serves until stdin closes. Values are fixed so the test can assert them exactly.
"""

import json
import sys
import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    Summary,
    start_http_server,
)

registry = CollectorRegistry()
start = time.time()
requests = Counter("app_requests", "Requests handled.", ["method"], registry=registry)
requests.labels(method="get").inc(7)
requests.labels(method="post").inc(2)
temperature = Gauge("app_temperature_celsius", "Temperature.", registry=registry)
temperature.set(21.5)
latency = Histogram(
    "app_latency_seconds", "Latency.", buckets=(0.1, 0.5, 1.0), registry=registry
)
for v in (0.05, 0.2, 0.3, 0.7, 2.0):
    latency.observe(v)
size = Summary("app_payload_bytes", "Payload sizes.", registry=registry)
size.observe(100)
size.observe(300)
Info("app_build", "Build info.", registry=registry).info({"version": "1.2.3"})

server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
print(json.dumps({"port": server.server_port, "start": start}), flush=True)
sys.stdin.read()
