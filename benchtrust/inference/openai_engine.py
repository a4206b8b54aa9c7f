"""An engine for OpenAI-compatible servers (vLLM, TGI, llama.cpp server, benchtrust's own ``serve``).

Scoring uses the completions endpoint with ``echo=true, max_tokens=0, logprobs=1`` (the prompt's own token
log-probabilities, as lm-evaluation-harness's ``local-completions`` does); generation uses completions or chat
completions. Requests time out, and connection errors, 429 and 5xx answers are retried with exponential
back-off; other 4xx answers fail at once with the server's message.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Callable, Sequence

from benchtrust.inference.transformers_engine import OptionScore, truncate_at_stop


class EngineHTTPError(RuntimeError):
    pass


class OpenAICompatibleEngine:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0,
                 max_retries: int = 3, backoff: float = 0.5, chat: bool = False):
        self.base_url = base_url.rstrip("/")
        self.model_name = model
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.chat = chat
        self.requests_sent = 0

    def provenance(self) -> dict[str, Any]:
        return {"device": f"http:{self.base_url}", "dtype": "remote", "attn_implementation": "remote",
                "token_budget": None, "library_versions": {"engine": "openai-compatible", "model": self.model_name}}

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: Exception | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            self.requests_sent += 1
            req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return json.loads(r.read())
            except urllib.error.HTTPError as e:
                msg = e.read().decode(errors="replace")[:500]
                if e.code == 429 or e.code >= 500:
                    last = EngineHTTPError(f"{self.base_url}{path}: HTTP {e.code}: {msg}")
                    continue
                raise EngineHTTPError(f"{self.base_url}{path}: HTTP {e.code}: {msg}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                last = EngineHTTPError(f"{self.base_url}{path}: {type(e).__name__}: {getattr(e, 'reason', e)}")
        raise EngineHTTPError(f"gave up after {self.max_retries + 1} attempts: {last}")

    def score(self, requests: Sequence[tuple], progress: Callable[[int], None] | None = None) -> list[list[OptionScore]]:
        out = []
        for req in requests:
            ctx, conts = req[0], req[1]
            opts = []
            for cont in conts:
                res = self._post("/v1/completions", {"model": self.model_name, "prompt": ctx + cont, "max_tokens": 0,
                                                     "echo": True, "logprobs": 1, "temperature": 0.0})
                lp = res["choices"][0]["logprobs"]
                idx = [i for i, off in enumerate(lp["text_offset"]) if off >= len(ctx)]
                if not idx:
                    raise EngineHTTPError("server returned no tokens for the continuation")
                toks = [float(lp["token_logprobs"][i]) for i in idx]
                greedy = all(
                    (lp.get("top_logprobs") or [None] * len(lp["tokens"]))[i] is not None
                    and max(lp["top_logprobs"][i].items(), key=lambda kv: kv[1])[0] == lp["tokens"][i]
                    for i in idx)
                opts.append(OptionScore(sum(toks), toks, greedy))
            out.append(opts)
            if progress:
                progress(1)
        return out

    def generate(self, prompt: str, max_new_tokens: int = 128, stop: Sequence[str] = (), do_sample: bool = False,
                 temperature: float = 1.0, top_p: float = 1.0, seed: int = 0) -> str:
        params = {"model": self.model_name, "max_tokens": max_new_tokens, "temperature": temperature if do_sample else 0.0,
                  "top_p": top_p if do_sample else 1.0, "seed": seed}
        if stop:
            params["stop"] = list(stop)[:4]  # the OpenAI API takes at most 4 stop sequences
        if self.chat:
            res = self._post("/v1/chat/completions", {**params, "messages": [{"role": "user", "content": prompt}]})
            text = res["choices"][0]["message"]["content"]
        else:
            res = self._post("/v1/completions", {**params, "prompt": prompt})
            text = res["choices"][0]["text"]
        return truncate_at_stop(text, stop)
