"""The OpenAI-compatible engine against real servers on loopback: benchtrust's own server (a separate process
over the default model), and small in-test servers that fail, stall or reject, for retries and timeouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchtrust.inference.openai_engine import EngineHTTPError, OpenAICompatibleEngine
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served_model():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchtrust.inference.server", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
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
        except subprocess.TimeoutExpired:  # a loaded machine can be slow to stop it: kill the group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def local_engine():
    from benchtrust.inference.models import resolve_model
    from benchtrust.inference.transformers_engine import TransformersEngine
    from benchtrust.registry import Registry

    reg = Registry.load()
    return TransformersEngine(resolve_model("smollm2-135m-instruct", reg.models["smollm2-135m-instruct"]))


def test_http_scores_match_in_process(served_model, local_engine):
    eng = OpenAICompatibleEngine(served_model, "smollm2-135m-instruct")
    reqs = [
        ("The capital of France is", [" Paris", " London"]),
        ("Question: 2 + 2 =\nA. 3\nB. 4\nAnswer:", [" A", " B"]),
    ]
    remote, local = eng.score(reqs), local_engine.score(reqs)
    for r_opts, l_opts in zip(remote, local):
        for r, loc in zip(r_opts, l_opts):
            assert r.logprob == pytest.approx(loc.logprob, abs=1e-4)
            assert len(r.token_logprobs) == len(loc.token_logprobs)
            assert r.is_greedy == loc.is_greedy
    assert remote[0][0].logprob > remote[0][1].logprob


def test_http_greedy_generation_matches_in_process(served_model, local_engine):
    eng = OpenAICompatibleEngine(served_model, "smollm2-135m-instruct")
    prompt = "def add(a, b):\n"
    assert eng.generate(prompt, max_new_tokens=16) == local_engine.generate(prompt, max_new_tokens=16)
    chat = OpenAICompatibleEngine(served_model, "smollm2-135m-instruct", chat=True)
    assert isinstance(chat.generate("Say hello.", max_new_tokens=8), str)


class _Scripted(BaseHTTPRequestHandler):
    """Answers from a script: a list of (status, delay_s) per request, then a valid completion."""

    script: list = []
    seen: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        status, delay = type(self).script.pop(0) if type(self).script else (200, 0)
        time.sleep(delay)
        if status != 200:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "scripted failure"}}')
            return
        data = json.dumps({"choices": [{"text": "ok", "logprobs": None}]}).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except BrokenPipeError:  # the client timed out first, as the timeout test intends
            pass


@pytest.fixture()
def scripted():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Scripted.seen = []
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_retries_on_5xx_and_429_then_succeeds(scripted):
    _, url = scripted
    _Scripted.script = [(503, 0), (429, 0)]
    eng = OpenAICompatibleEngine(url, "m", max_retries=3, backoff=0.01)
    assert eng.generate("x", max_new_tokens=2) == "ok"
    assert eng.requests_sent == 3 and len(_Scripted.seen) == 3


def test_timeout_gives_up_after_retries(scripted):
    _, url = scripted
    _Scripted.script = [(200, 1.5), (200, 1.5)]
    eng = OpenAICompatibleEngine(url, "m", timeout=0.3, max_retries=1, backoff=0.01)
    t = time.time()
    with pytest.raises(EngineHTTPError, match="gave up after 2 attempts"):
        eng.generate("x")
    assert time.time() - t < 3


def test_client_errors_are_not_retried(scripted):
    _, url = scripted
    _Scripted.script = [(400, 0)]
    eng = OpenAICompatibleEngine(url, "m", max_retries=3, backoff=0.01)
    with pytest.raises(EngineHTTPError, match="HTTP 400"):
        eng.generate("x")
    assert eng.requests_sent == 1
