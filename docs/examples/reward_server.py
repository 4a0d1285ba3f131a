#!/usr/bin/env python3
"""Serves a TRL-style Python reward function to grpo-train over ZeroMQ (docs/reward-server.md).

    python3 docs/examples/reward_server.py --bind tcp://127.0.0.1:5555 my_reward:accuracy

The function has TRL's signature, f(prompts, completions, **columns) -> list[float | None], and is called
as TRL calls it: f(prompts=[...], completions=[...], **columns), one keyword per dataset column.

Protocol "grpo-reward/1", one JSON message each way on a REP socket. The trainer's REQ socket resends a
request on a fresh socket when the reply is late, so each request is handled on its own, and a resend
(byte-for-byte the same request) gets the same reply:
    request  {"protocol": "grpo-reward/1", "id": 7, "prompts": [...], "completions": [...],
              "columns": {"answer": [...], ...}}               every list has the same length n
    reply    {"id": 7, "rewards": [1.0, 0.0, null, ...]}       n numbers; null: not applicable
             {"id": 7, "error": "ValueError: ..."}             the function raised, or its return was bad
    ping     {"protocol": "grpo-reward/1", "ping": true}  ->  {"pong": true, "name": "accuracy"}
Only pyzmq is needed (Debian: python3-zmq).
"""
import argparse
import importlib
import importlib.util
import json
import math
import numbers
import os
import signal
import sys
import time

import zmq

PROTOCOL = "grpo-reward/1"


def load(spec):
    """'module:function', the module importable or a path such as ./my_reward.py or dir/my_reward.py."""
    module_name, sep, func_name = spec.rpartition(":")
    if not sep or not module_name or not func_name:
        sys.exit(f"reward_server: expected module:function, got {spec!r}")
    if module_name.endswith(".py") or os.sep in module_name:
        path = os.path.abspath(module_name if module_name.endswith(".py") else module_name + ".py")
        sys.path.insert(0, os.path.dirname(path))  # so the module can import its neighbours
        if not os.path.isfile(path):
            sys.exit(f"reward_server: no module file {path}")
        mod_spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(mod_spec)
        sys.modules[mod_spec.name] = module
        mod_spec.loader.exec_module(module)
    else:
        sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        sys.exit(f"reward_server: {module_name} has no function {func_name}")
    return func


def check_rewards(rewards, n):
    """The function's return as a JSON-ready list, or raises ValueError naming the problem."""
    if not isinstance(rewards, (list, tuple)):
        raise ValueError(f"reward function returned {type(rewards).__name__}, expected a list of {n}")
    if len(rewards) != n:
        raise ValueError(f"reward function returned {len(rewards)} rewards for {n} completions")
    out = []
    for i, r in enumerate(rewards):
        if r is None:
            out.append(None)
        elif isinstance(r, numbers.Real) and not isinstance(r, bool):  # int, float, numpy scalars
            try:
                value = float(r)
            except OverflowError:
                value = math.inf
            if not math.isfinite(value):
                raise ValueError(f"reward function returned {value} for row {i}")
            out.append(value)
        else:
            raise ValueError(f"reward function returned {type(r).__name__} {r!r:.40} for row {i}, "
                             "expected a number or None")
    return out


def handle(func, name, raw):
    """One request (bytes) -> one reply (dict). Never raises."""
    try:
        req = json.loads(raw)
    except ValueError as e:
        return {"id": None, "error": f"bad request: not JSON ({e})"}
    if not isinstance(req, dict):
        return {"id": None, "error": "bad request: not a JSON object"}
    rid = req.get("id")
    if req.get("protocol") != PROTOCOL:
        return {"id": rid, "error": f"bad request: protocol {req.get('protocol')!r}, expected {PROTOCOL}"}
    if req.get("ping"):
        return {"pong": True, "name": name}
    prompts, completions, columns = req.get("prompts"), req.get("completions"), req.get("columns", {})
    if not isinstance(prompts, list) or not isinstance(completions, list) or len(prompts) != len(completions):
        return {"id": rid, "error": "bad request: prompts and completions must be lists of the same length"}
    if not isinstance(columns, dict):
        return {"id": rid, "error": "bad request: columns must be an object"}
    n = len(completions)
    for key, values in columns.items():
        if key in ("prompts", "completions"):
            return {"id": rid, "error": f"bad request: column {key!r} clashes with an argument name"}
        if not isinstance(values, list) or len(values) != n:
            return {"id": rid, "error": f"bad request: column {key!r} must be a list of {n}"}
    try:
        rewards = func(prompts=prompts, completions=completions, **columns)
    except Exception as e:  # the user's error goes back to the trainer, which reports it
        return {"id": rid, "error": f"{type(e).__name__}: {e}"}
    try:
        return {"id": rid, "rewards": check_rewards(rewards, n)}
    except ValueError as e:
        return {"id": rid, "error": str(e)}


def describe(reply):
    """A reply in a few words, for --verbose."""
    if "pong" in reply:
        return "ping"
    if "error" in reply:
        return f"#{reply['id']} error: {reply['error']}"
    scored = [r for r in reply["rewards"] if r is not None]
    mean = f"{sum(scored) / len(scored):.4g}" if scored else "-"
    return f"#{reply['id']} n={len(reply['rewards'])} mean={mean} null={len(reply['rewards']) - len(scored)}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("function", help="module:function, e.g. my_reward:accuracy or ./my_reward.py:accuracy")
    ap.add_argument("--bind", default="tcp://127.0.0.1:5555",
                    help="endpoint to bind (default %(default)s); tcp://127.0.0.1:* picks a free port")
    ap.add_argument("--delay", type=float, default=0.0, metavar="SECONDS",
                    help="sleep before each reply: simulate a slow reward (e.g. a sandboxed code run)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr in one line")
    args = ap.parse_args()

    func = load(args.function)
    name = getattr(func, "__name__", args.function.rpartition(":")[2])
    stop = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.append(True))

    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.linger = 0
    try:
        sock.bind(args.bind)
    except zmq.ZMQError as e:
        sys.exit(f"reward_server: cannot bind {args.bind}: {e}")
    print(f"listening on {sock.getsockopt_string(zmq.LAST_ENDPOINT)}", flush=True)

    # A retry is byte-for-byte the request it repeats (same id), and while a slow batch is scored the
    # trainer may give up and resend it: the retry waits in the queue behind the original. Keeping the
    # last reply answers it at once instead of scoring the batch again, and again, behind each retry.
    last_raw, last_reply = None, None
    while not stop:
        if not sock.poll(200):  # wake up now and then to see a signal
            continue
        raw = sock.recv()
        start = time.monotonic()
        resend = raw == last_raw
        if resend:
            reply = last_reply
        else:
            reply = handle(func, name, raw)
            while time.monotonic() - start < args.delay and not stop:
                time.sleep(min(0.05, args.delay))
            last_raw, last_reply = raw, reply
        sock.send_string(json.dumps(reply))  # to a client that gave up, ZeroMQ drops it
        if args.verbose:
            print(f"reward_server: {describe(reply)}{' (resend)' if resend else ''} "
                  f"{time.monotonic() - start:.3f}s", file=sys.stderr, flush=True)
    sock.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
