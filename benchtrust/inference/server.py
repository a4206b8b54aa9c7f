"""A small OpenAI-compatible server over the in-process transformers engine (``benchtrust-serve``).

For tests and for sharing one loaded model between processes. Implements ``/v1/models``,
``/v1/completions`` (text prompts; ``echo`` + ``logprobs`` + ``max_tokens=0`` returns the prompt's token
log-probabilities), ``/v1/chat/completions``, and ``/stats`` (POST requests answered per route, for checking
how a client spreads its load over replicas). It binds to loopback unless told otherwise; one request is
computed at a time.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchtrust.inference.transformers_engine import TransformersEngine


class CompletionService:
    def __init__(self, engine: TransformersEngine, name: str):
        self.engine, self.name, self.lock = engine, name, threading.Lock()
        self.counts: dict[str, int] = {}
        self.counts_lock = threading.Lock()

    def count(self, route: str) -> None:
        with self.counts_lock:
            self.counts[route] = self.counts.get(route, 0) + 1

    def prompt_logprobs(self, prompt: str, top: int) -> dict[str, Any]:
        import torch

        eng = self.engine
        enc = eng.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc.input_ids, [o[0] for o in enc.offset_mapping]
        with torch.inference_mode():
            logits = eng.model(input_ids=torch.tensor([ids], device=eng.device)).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1).cpu()
        tokens = [eng.tokenizer.decode([t]) for t in ids]
        token_lp: list[float | None] = [None] + [float(logp[i - 1, ids[i]]) for i in range(1, len(ids))]
        top_lp: list[dict[str, float] | None] = [None]
        for i in range(1, len(ids)):
            vals, idx = torch.topk(logp[i - 1], max(1, top))
            top_lp.append({eng.tokenizer.decode([int(j)]): float(v) for v, j in zip(vals, idx)})
        return {"tokens": tokens, "token_logprobs": token_lp, "text_offset": offsets, "top_logprobs": top_lp}

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise ValueError("prompt must be a string")
        max_tokens = int(body.get("max_tokens", 16))
        with self.lock:
            if max_tokens == 0:
                if not body.get("echo"):
                    raise ValueError("max_tokens=0 needs echo=true")
                choice = {
                    "index": 0,
                    "text": prompt,
                    "finish_reason": "length",
                    "logprobs": self.prompt_logprobs(prompt, int(body.get("logprobs") or 1)),
                }
            else:
                temp = float(body.get("temperature", 1.0))
                text = self.engine.generate(
                    prompt,
                    max_new_tokens=max_tokens,
                    stop=body.get("stop") or (),
                    do_sample=temp > 0,
                    temperature=temp or 1.0,
                    top_p=float(body.get("top_p", 1.0)),
                    seed=int(body.get("seed", 0)),
                )
                choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
        return {
            "id": f"cmpl-{time.time_ns()}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [choice],
        }

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        msgs = body.get("messages") or []
        prompt = self.engine.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        res = self.complete({**body, "prompt": prompt, "max_tokens": body.get("max_tokens", 128)})
        text = res["choices"][0]["text"]
        return {
            "id": res["id"],
            "object": "chat.completion",
            "created": res["created"],
            "model": self.name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }


def make_handler(service: CompletionService):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": service.name, "object": "model"}]})
            elif self.path.rstrip("/") == "/stats":
                with service.counts_lock:
                    self._send(200, {"model": service.name, "requests": dict(service.counts)})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                service.count(self.path.rstrip("/"))
                if self.path.rstrip("/") == "/v1/completions":
                    self._send(200, service.complete(body))
                elif self.path.rstrip("/") == "/v1/chat/completions":
                    self._send(200, service.chat(body))
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
            except (ValueError, KeyError, json.JSONDecodeError) as e:
                self._send(400, {"error": {"message": str(e)}})

    return Handler


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="OpenAI-compatible server over a benchtrust model (loopback by default)")
    ap.add_argument("--model", default="smollm2-135m-instruct", help="a name from config/models.yaml")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)
    from benchtrust.inference.models import resolve_model
    from benchtrust.registry import Registry

    reg = Registry.load()
    engine = TransformersEngine(resolve_model(args.model, reg.models[args.model]))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(CompletionService(engine, args.model)))
    print(f"serving {args.model} on http://{args.host}:{args.port}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
