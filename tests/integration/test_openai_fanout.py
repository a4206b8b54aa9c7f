"""Fan-out of the OpenAI-compatible engine over several replicas, against real servers on loopback: two
processes of benchtrust's own server over the default model (identical log-likelihoods to one replica, load
spread over both, counted by the servers' /stats), and small in-test HTTP servers for Retry-After, cool-down,
the in-flight bound and a dead replica."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchtrust.inference.openai_engine import EngineHTTPError, OpenAICompatibleEngine, parse_retry_after
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
MODEL = "smollm2-135m-instruct"


@contextmanager
def _served(port: int) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchtrust.inference.server", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.time() < deadline, f"server on port {port} did not answer in 240 s"
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=2)
                break
            except OSError:
                time.sleep(1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def replicas():
    with ExitStack() as stack:
        yield [stack.enter_context(_served(free_port())) for _ in range(2)]


def _completions(url: str) -> int:
    with urllib.request.urlopen(url + "/stats", timeout=10) as r:
        return json.loads(r.read())["requests"].get("/v1/completions", 0)


REQUESTS = [
    ("The capital of France is", [" Paris", " London", " Rome"]),
    ("Question: 2 + 2 =\nA. 3\nB. 4\nAnswer:", [" A", " B"]),
    ("The largest planet in the solar system is", [" Jupiter", " Mars", " Venus", " Earth"]),
    ("Water freezes at", [" 0 degrees Celsius", " 100 degrees Celsius"]),
    ("Question: Which is a mammal?\nA. shark\nB. whale\nC. trout\nAnswer:", [" A", " B", " C"]),
    ("The opposite of hot is", [" cold", " warm"]),
]


def test_two_replicas_give_one_replicas_scores_and_share_the_load(replicas):
    a, b = replicas
    one = OpenAICompatibleEngine(a, MODEL).score(REQUESTS)
    only_b = OpenAICompatibleEngine(b, MODEL, max_in_flight_per_replica=1).score(REQUESTS)
    before = [_completions(a), _completions(b)]
    done: list[int] = []
    fan_engine = OpenAICompatibleEngine([a, b], MODEL, max_in_flight_per_replica=2)
    fan = fan_engine.score(REQUESTS, progress=done.append)
    per_replica = [_completions(a) - before[0], _completions(b) - before[1]]
    n_options = sum(len(r[1]) for r in REQUESTS)
    # identical, in input order: same number of options per request, bit-equal log-likelihoods
    for ref in (one, only_b):
        assert [[(o.logprob, o.token_logprobs, o.is_greedy) for o in opts] for opts in fan] == [
            [(o.logprob, o.token_logprobs, o.is_greedy) for o in opts] for opts in ref
        ]
    assert fan[0][0].logprob > fan[0][1].logprob  # " Paris" beats " London": the order was kept
    assert sum(done) == len(REQUESTS)
    # the servers' own counters: every option once, and both replicas took a real share
    assert sum(per_replica) == n_options == fan_engine.requests_sent
    assert min(per_replica) >= n_options // 4, per_replica
    assert [r.sent for r in fan_engine.replicas] == per_replica


def test_greedy_generation_fans_out_identically(replicas):
    a, b = replicas
    prompts = ["def add(a, b):\n", "The sky is", "1, 2, 3,", "Once upon a time"]
    single = OpenAICompatibleEngine(a, MODEL)
    ref = [single.generate(p, max_new_tokens=8) for p in prompts]
    fan = OpenAICompatibleEngine([a, b], MODEL, max_in_flight_per_replica=1)
    assert fan.generate_many([{"prompt": p, "max_new_tokens": 8} for p in prompts]) == ref
    assert all(r.sent >= 1 for r in fan.replicas)


def test_a_dead_replica_is_marked_unhealthy_and_the_live_one_takes_its_load(replicas):
    a, _ = replicas
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connections are refused
    eng = OpenAICompatibleEngine([dead, a], MODEL, max_in_flight_per_replica=2, backoff=0.01, unhealthy_seconds=60)
    assert eng.score(REQUESTS[:3]) == OpenAICompatibleEngine(a, MODEL).score(REQUESTS[:3])
    dead_r, live_r = eng.replicas
    # the dead one is tried at most once per in-flight slot before it is marked down, then left alone
    assert 1 <= dead_r.failures <= 2 and dead_r.sent == dead_r.failures
    assert dead_r.down_until > time.monotonic()
    assert live_r.sent == sum(len(r[1]) for r in REQUESTS[:3])


# ----------------------------------------------------------------------------------------------------------------
# in-test servers: each answers from its own script and records arrival times and concurrency


class Scripted:
    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None, delay: float = 0.0):
        self.script, self.delay = list(script or []), delay
        self.arrivals: list[float] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                with state.lock:
                    state.arrivals.append(time.monotonic())
                    state.in_flight += 1
                    state.max_in_flight = max(state.max_in_flight, state.in_flight)
                    status, headers = state.script.pop(0) if state.script else (200, {})
                try:
                    time.sleep(state.delay)
                    body = (
                        json.dumps({"choices": [{"text": "ok", "logprobs": None}]}).encode()
                        if status == 200
                        else b'{"error": {"message": "scripted"}}'
                    )
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with state.lock:
                        state.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def servers():
    made: list[Scripted] = []

    def make(*a, **kw) -> Scripted:
        made.append(Scripted(*a, **kw))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_parse_retry_after():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = 1_700_000_000.0
    assert parse_retry_after(formatdate(now + 42, usegmt=True), now=now) == pytest.approx(42.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0  # in the past


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_with_retry_after_waits_that_long(servers, form):
    value = "1" if form == "seconds" else formatdate(time.time() + 2, usegmt=True)  # 1 to 2 s (1 s resolution)
    srv = servers([(429, {"Retry-After": value})])
    eng = OpenAICompatibleEngine(srv.url, "m", max_retries=2, backoff=0.01)
    assert eng.generate("x", max_new_tokens=2) == "ok"
    assert len(srv.arrivals) == 2 and eng.requests_sent == 2
    gap = srv.arrivals[1] - srv.arrivals[0]
    assert 0.9 <= gap < 4.0, gap  # honoured, not the 0.01 s back-off


def test_retry_after_is_capped(servers):
    srv = servers([(503, {"Retry-After": "3600"})])
    eng = OpenAICompatibleEngine(srv.url, "m", max_retries=1, backoff=0.01, max_retry_after=0.3)
    t = time.monotonic()
    assert eng.generate("x", max_new_tokens=2) == "ok"
    assert 0.25 <= time.monotonic() - t < 3


def test_a_cooling_replica_hands_its_load_to_the_other(servers):
    slow_down = servers([(429, {"Retry-After": "30"})])
    other = servers()
    eng = OpenAICompatibleEngine([slow_down.url, other.url], "m", max_in_flight_per_replica=1, backoff=0.01)
    t = time.monotonic()
    out = eng.generate_many([{"prompt": f"p{i}", "max_new_tokens": 2} for i in range(6)])
    assert out == ["ok"] * 6
    assert time.monotonic() - t < 10  # nobody waited the 30 s: the other replica answered meanwhile
    assert len(slow_down.arrivals) == 1 and len(other.arrivals) == 6
    assert eng.replicas[0].cool_until > time.monotonic() + 15


def test_in_flight_is_bounded_per_replica_and_spread(servers):
    a, b = servers(delay=0.2), servers(delay=0.2)
    eng = OpenAICompatibleEngine([a.url, b.url], "m", max_in_flight_per_replica=2)
    assert eng.generate_many([{"prompt": f"p{i}", "max_new_tokens": 2} for i in range(12)]) == ["ok"] * 12
    assert a.max_in_flight == b.max_in_flight == 2  # the bound was reached and never passed
    assert len(a.arrivals) + len(b.arrivals) == 12 and min(len(a.arrivals), len(b.arrivals)) >= 4


def test_gives_up_when_every_answer_is_429(servers):
    srv = servers([(429, {"Retry-After": "0"})] * 5)
    eng = OpenAICompatibleEngine(srv.url, "m", max_retries=2, backoff=0.01)
    with pytest.raises(EngineHTTPError, match=r"gave up after 3 attempts: .*HTTP 429"):
        eng.generate("x")
    assert len(srv.arrivals) == 3


def test_registry_base_urls_build_a_fanned_out_engine():
    from benchtrust.inference.models import build_engine, resolve_model

    one = resolve_model("m", {"source": {"type": "openai", "base_url": "http://h1:8000", "model": "served"}})
    many = resolve_model(
        "m",
        {
            "source": {
                "type": "openai",
                "base_url": "http://h1:8000",
                "model": "served",
                "base_urls": ["http://h2:8000/", "http://h1:8000"],
                "max_in_flight_per_replica": 3,
                "unhealthy_seconds": 5,
            }
        },
    )
    assert many.model_version == one.model_version  # replicas serve the same weights: cached cells stay valid
    eng = build_engine(many)
    assert [r.url for r in eng.replicas] == ["http://h1:8000", "http://h2:8000"]
    assert eng.max_in_flight == 3 and eng.unhealthy_seconds == 5 and eng.concurrency == 6
    assert "+1 replicas" in eng.provenance()["device"]
    assert [r.url for r in build_engine(one).replicas] == ["http://h1:8000"]
    with pytest.raises(ValueError, match="base_url or base_urls"):
        resolve_model("m", {"source": {"type": "openai", "model": "served"}})
