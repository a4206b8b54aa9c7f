"""An engine for OpenAI-compatible servers (vLLM, TGI, llama.cpp server, benchtrust's own ``serve``).

Scoring uses the completions endpoint with ``echo=true, max_tokens=0, logprobs=1`` (the prompt's own token
log-probabilities, as lm-evaluation-harness's ``local-completions`` does); generation uses completions or chat
completions.

Fan-out: the engine takes one base URL or several (replicas serving the same weights). Every request is an
independent, deterministic call, so they are sent concurrently — at most ``max_in_flight_per_replica`` at a
time per replica, each to the least-loaded replica — and the answers are put back in input order: the results
are those of one replica. Requests time out; connection errors, 429 and 5xx answers are retried (at most
``max_retries`` times per request) with exponential back-off capped at ``max_backoff`` seconds. A ``Retry-After``
header (seconds or an HTTP date, capped at ``max_retry_after``) cools that replica down: nothing is sent to it
before then, while other replicas take the load. A replica that refuses or drops connections is marked
unhealthy for ``unhealthy_seconds`` and used only when no healthy one is left. Other 4xx answers fail at once
with the server's message.

Hand-written on the standard library (urllib + a thread pool) rather than the ``openai`` client: that client
retries on its own schedule and knows one base URL; the replica choice, cool-downs and health marks are the
point here and are a few dozen lines.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from benchtrust.inference.types import OptionScore, truncate_at_stop


class EngineHTTPError(RuntimeError):
    pass


class _Retryable(Exception):
    def __init__(self, error: EngineHTTPError, retry_after: float | None = None, connection: bool = False):
        super().__init__(str(error))
        self.error, self.retry_after, self.connection = error, retry_after, connection


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date (RFC 9110 §10.2.3);
    None when absent or unparsable. A date in the past gives 0."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


@dataclass
class Replica:
    url: str
    in_flight: int = 0
    sent: int = 0
    failures: int = 0
    cool_until: float = 0.0  # Retry-After: nothing is sent before this time
    down_until: float = 0.0  # connection errors: avoided until this time while a healthy replica exists


class OpenAICompatibleEngine:
    def __init__(
        self,
        base_url: str | Sequence[str],
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        chat: bool = False,
        max_in_flight_per_replica: int = 4,
        max_backoff: float = 30.0,
        max_retry_after: float = 60.0,
        unhealthy_seconds: float = 30.0,
    ):
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        urls = list(dict.fromkeys(u.rstrip("/") for u in urls))
        if not urls:
            raise ValueError("OpenAICompatibleEngine needs at least one base URL")
        if max_in_flight_per_replica < 1:
            raise ValueError(f"max_in_flight_per_replica must be >= 1, got {max_in_flight_per_replica}")
        self.replicas = [Replica(u) for u in urls]
        self.base_url = urls[0]
        self.model_name = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.unhealthy_seconds = unhealthy_seconds
        self.max_in_flight = max_in_flight_per_replica
        self.chat = chat
        self.requests_sent = 0
        self._cond = threading.Condition()

    @property
    def concurrency(self) -> int:
        return len(self.replicas) * self.max_in_flight

    def provenance(self) -> dict[str, Any]:
        device = f"http:{self.base_url}" + (f" (+{len(self.replicas) - 1} replicas)" if len(self.replicas) > 1 else "")
        return {
            "device": device,
            "dtype": "remote",
            "attn_implementation": "remote",
            "token_budget": None,
            "library_versions": {"engine": "openai-compatible", "model": self.model_name},
        }

    # -- replica choice -------------------------------------------------------------------------------------
    def _acquire(self) -> Replica:
        """The least-loaded replica that may take a request now (waits while all are full or cooling down)."""
        with self._cond:
            while True:
                now = time.monotonic()
                free = [r for r in self.replicas if r.in_flight < self.max_in_flight and r.cool_until <= now]
                healthy = [r for r in free if r.down_until <= now]
                pool = healthy or ([] if any(r.down_until <= now for r in self.replicas) else free)
                if pool:
                    r = min(pool, key=lambda r: (r.in_flight, r.sent, r.down_until))
                    r.in_flight += 1
                    r.sent += 1
                    self.requests_sent += 1
                    return r
                cooling = [r.cool_until - now for r in self.replicas if r.cool_until > now]
                self._cond.wait(timeout=min(cooling) if cooling else None)

    def _release(self, r: Replica, retry_after: float | None = None, connection: bool = False) -> None:
        with self._cond:
            r.in_flight -= 1
            now = time.monotonic()
            if retry_after is not None:
                r.cool_until = max(r.cool_until, now + min(retry_after, self.max_retry_after))
            if connection:
                r.failures += 1
                r.down_until = now + self.unhealthy_seconds
            self._cond.notify_all()

    # -- one request ----------------------------------------------------------------------------------------
    def _send(self, r: Replica, path: str, data: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(r.url + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            msg = e.read().decode(errors="replace")[:500]
            err = EngineHTTPError(f"{r.url}{path}: HTTP {e.code}: {msg}")
            if e.code == 429 or e.code >= 500:
                raise _Retryable(err, parse_retry_after(e.headers.get("Retry-After"))) from None
            raise err from None
        except TimeoutError as e:  # slow, not dead: retried, the replica stays healthy
            raise _Retryable(EngineHTTPError(f"{r.url}{path}: timed out after {self.timeout}s ({e})")) from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                raise _Retryable(EngineHTTPError(f"{r.url}{path}: timed out after {self.timeout}s")) from None
            raise _Retryable(EngineHTTPError(f"{r.url}{path}: URLError: {e.reason}"), connection=True) from None
        except (OSError, http.client.HTTPException) as e:  # refused, reset, dropped mid-answer
            raise _Retryable(EngineHTTPError(f"{r.url}{path}: {type(e).__name__}: {e}"), connection=True) from None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        last: _Retryable | None = None
        for attempt in range(self.max_retries + 1):
            if attempt and last is not None and last.retry_after is None:
                # a connection error with another healthy replica left is retried there at once
                other_healthy = last.connection and any(r.down_until <= time.monotonic() for r in self.replicas)
                if not other_healthy:
                    time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
            r = self._acquire()
            try:
                out = self._send(r, path, data)
            except _Retryable as e:
                self._release(r, e.retry_after, e.connection)
                last = e
                continue
            except BaseException:
                self._release(r)
                raise
            self._release(r)
            return out
        assert last is not None
        raise EngineHTTPError(f"gave up after {self.max_retries + 1} attempts: {last.error}")

    def _map(
        self, fn: Callable[[Any], Any], jobs: Sequence[Any], on_done: Callable[[int], None] | None = None
    ) -> list[Any]:
        """``fn`` over ``jobs`` with at most ``concurrency`` in flight; results in input order. The first
        error cancels what has not started and is raised."""
        if len(jobs) <= 1 or self.concurrency == 1:
            res = []
            for i, j in enumerate(jobs):
                res.append(fn(j))
                if on_done:
                    on_done(i)
            return res
        out: list[Any] = [None] * len(jobs)
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(jobs)), thread_name_prefix="openai-engine"
        ) as pool:
            futs: dict[Future, int] = {pool.submit(fn, j): i for i, j in enumerate(jobs)}
            pending = set(futs)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for f in done:
                    if f.exception() is not None:
                        for p in pending:
                            p.cancel()
                        raise f.exception()  # type: ignore[misc]
                    out[futs[f]] = f.result()
                    if on_done:
                        on_done(futs[f])
        return out

    # -- engine interface -----------------------------------------------------------------------------------
    def _score_option(self, job: tuple[str, str]) -> OptionScore:
        ctx, cont = job
        res = self._post(
            "/v1/completions",
            {
                "model": self.model_name,
                "prompt": ctx + cont,
                "max_tokens": 0,
                "echo": True,
                "logprobs": 1,
                "temperature": 0.0,
            },
        )
        lp = res["choices"][0]["logprobs"]
        idx = [i for i, off in enumerate(lp["text_offset"]) if off >= len(ctx)]
        if not idx:
            raise EngineHTTPError("server returned no tokens for the continuation")
        toks = [float(lp["token_logprobs"][i]) for i in idx]
        top = lp.get("top_logprobs") or [None] * len(lp["tokens"])
        greedy = all(
            top[i] is not None and max(top[i].items(), key=lambda kv: kv[1])[0] == lp["tokens"][i] for i in idx
        )
        return OptionScore(sum(toks), toks, greedy)

    def score(
        self, requests: Sequence[tuple], progress: Callable[[int], None] | None = None
    ) -> list[list[OptionScore]]:
        jobs = [(req[0], cont) for req in requests for cont in req[1]]
        owner = [qi for qi, req in enumerate(requests) for _ in req[1]]
        left = [len(req[1]) for req in requests]

        def on_done(ji: int) -> None:  # called on the calling thread; a request counts when all its options are in
            left[owner[ji]] -= 1
            if progress and left[owner[ji]] == 0:
                progress(1)

        flat = self._map(self._score_option, jobs, on_done)
        out: list[list[OptionScore]] = []
        pos = 0
        for req in requests:
            out.append(flat[pos : pos + len(req[1])])
            pos += len(req[1])
        return out

    def generate(
        self,
        prompt: str,
        max_new_tokens: int = 128,
        stop: Sequence[str] = (),
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> str:
        params = {
            "model": self.model_name,
            "max_tokens": max_new_tokens,
            "temperature": temperature if do_sample else 0.0,
            "top_p": top_p if do_sample else 1.0,
            "seed": seed,
        }
        if stop:
            params["stop"] = list(stop)[:4]  # the OpenAI API takes at most 4 stop sequences
        if self.chat:
            res = self._post("/v1/chat/completions", {**params, "messages": [{"role": "user", "content": prompt}]})
            text = res["choices"][0]["message"]["content"]
        else:
            res = self._post("/v1/completions", {**params, "prompt": prompt})
            text = res["choices"][0]["text"]
        return truncate_at_stop(text, stop)

    def generate_many(self, calls: Sequence[dict[str, Any]]) -> list[str]:
        """``generate(**call)`` for each call, fanned out over the replicas; texts in input order."""
        return self._map(lambda kw: self.generate(**kw), calls)
