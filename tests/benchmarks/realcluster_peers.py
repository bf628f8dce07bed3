"""Child processes for tests/benchmarks/test_bench_real_clusters.py, so what they cost is not counted in the
process being measured: `fake` serves a fake obshell cluster with many running DAGs; `sink` answers as an agent
and discards upload bodies; `push` measures one streamed, encrypted upload's memory in a fresh process."""

import json
import os
import sys
import time


def fake(dag_count, agents_per_zone, nodes_per_dag):
    from tests.support.fake_agent import PREFIX, FakeCluster

    cluster = FakeCluster(
        build="4.2.1.0-100000102023092807",
        zones={f"zone{z}": agents_per_zone for z in (1, 2, 3)},
        serving=3,
        tick_seconds=0.5,
    ).start()
    names = PREFIX[:nodes_per_dag]
    cluster.hang.update(names)  # they stay RUNNING: the mirror's steady state is what is measured
    ids = [
        f"1{cluster.create_dag(f'Upgrade check OB {i}', names, maintenance=False, target={}, agent_for_serial=cluster.agents[0]).row}"
        for i in range(dag_count)
    ]
    print(json.dumps({"addresses": cluster.addresses[:3], "password": cluster.password, "dags": ids}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin


def sink():
    """An agent that accepts any upload and throws the body away (no parsing, no decryption)."""
    import base64
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    ).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, data):
            body = json.dumps({"successful": True, "status": 200, "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/api/v1/secret":
                return self._answer({"public_key": public})
            return self._answer({"identity": "CLUSTER AGENT", "version": "4.5.0.0-1", "supportedAuth": ["v2"]})

        def do_POST(self):
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                left -= len(self.rfile.read(min(left, 1 << 20)))
            self._answer({})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(json.dumps({"address": f"127.0.0.1:{server.server_address[1]}"}), flush=True)
    server.serve_forever()


def _rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def push(address, path):
    """RSS is sampled every 20 ms while the upload runs: its peak above the RSS just before is the growth."""
    import threading

    import django

    django.setup()
    from upgrades.backends.obshell.client import AgentClient

    client = AgentClient([address], password="")
    client.connect()
    before = _rss_kib()
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], _rss_kib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    client.upload(path)
    took = time.perf_counter() - started
    done.set()
    sampler.join()
    print(json.dumps({"seconds": took, "rss_growth_kib": max(peak[0], _rss_kib()) - before}), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    command, *args = sys.argv[1:]
    {"fake": lambda: fake(*map(int, args)), "sink": sink, "push": lambda: push(*args)}[command]()
