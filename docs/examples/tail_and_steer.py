#!/usr/bin/env python3
"""Tails a live grpo-train run and steers it: prints each step's metrics, pauses, changes a
hyperparameter, resumes. A third-party client of docs/protocol.md, using only pyzmq (Debian python3-zmq).

    python3 docs/examples/tail_and_steer.py runs/<name> --steps 10 --pause-after 3 --set optim.lr=5e-5
"""
import argparse
import itertools
import json
import pathlib
import sys
import time

import zmq

PROTOCOL = 1


class Trainer:
    """Control requests over a DEALER socket, with Lazy-Pirate retries."""

    def __init__(self, ctx, endpoint, timeout_ms=2500, retries=2):
        self.ctx, self.endpoint, self.timeout_ms, self.retries = ctx, endpoint, timeout_ms, retries
        self.ids = itertools.count(1)
        self._open()

    def _open(self):
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.connect(self.endpoint)

    def request(self, cmd, **args):
        rid = next(self.ids)
        body = json.dumps({"v": PROTOCOL, "id": rid, "cmd": cmd, "args": args})
        for _ in range(self.retries + 1):
            self.sock.send_string(body)
            deadline = time.monotonic() + self.timeout_ms / 1000
            while (left := deadline - time.monotonic()) > 0:
                if not self.sock.poll(int(left * 1000)):
                    break
                reply = json.loads(self.sock.recv_string())
                if reply.get("id") != rid:
                    continue  # a late reply to an earlier try
                if reply["ok"]:
                    return reply["result"]
                raise RuntimeError(f"{cmd}: {reply['error']['code']}: {reply['error']['message']}")
            self.sock.close()
            self._open()
        raise TimeoutError(f"no reply to {cmd} from {self.endpoint}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="runs/<name> of a live run (it holds endpoints.json)")
    ap.add_argument("--steps", type=int, default=10, help="stop tailing after this many steps")
    ap.add_argument("--pause-after", type=int, default=3, help="pause after this many steps (0: never)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="applied while paused")
    args = ap.parse_args()

    endpoints = json.loads((pathlib.Path(args.run_dir) / "endpoints.json").read_text())
    ctx = zmq.Context()
    events = ctx.socket(zmq.SUB)
    events.setsockopt_string(zmq.SUBSCRIBE, "")
    events.connect(endpoints["events"])
    trainer = Trainer(ctx, endpoints["control"])

    hello = trainer.request("hello")
    print(f"attached to {hello['run']} (protocol {hello['version']}, state {hello['state']}, step {hello['step']})")
    last_seq, seen_steps, paused = None, 0, False
    while seen_steps < args.steps:
        if not events.poll(3000):
            print("trainer silent for 3 s", file=sys.stderr)
            return 1
        topic, payload = events.recv_multipart()
        msg = json.loads(payload)
        topic = topic.decode()
        if topic != "heartbeat":
            if last_seq is not None and msg["seq"] > last_seq + 1:
                gap = trainer.request("history", after_seq=last_seq, limit=1000)
                print(f"  (filled a gap of {msg['seq'] - last_seq - 1} records from history: "
                      f"{len(gap['messages'])} messages)")
            last_seq = msg["seq"]
        if topic == "metrics" and "reward" in msg["values"]:
            v = msg["values"]
            seen_steps += 1
            print(f"step {msg['step']:>4} | reward {v['reward']:.3f} | accuracy {v['accuracy']:.3f} | "
                  f"self-verification {v['self_verification/rate']:.2f} | lr {v['learning_rate']:.2e} | "
                  f"temperature {v['sampling/temperature']:.2f}")
            if args.pause_after and seen_steps == args.pause_after and not paused:
                paused = True
                trainer.request("pause")
                while trainer.request("status")["state"] != "paused":
                    time.sleep(0.05)
                print("paused; status:", trainer.request("status")["state"])
                for kv in args.set:
                    key, value = kv.split("=", 1)
                    result = trainer.request("set", **{key: json.loads(value)})
                    print(f"set {key} = {result['effective'][key]} from step {result['from_step']}")
                trainer.request("resume")
                print("resumed")
        elif topic == "status":
            print(f"status: {msg['state']}")
            if msg["state"] in ("finished", "stopped", "failed"):
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
