#!/usr/bin/env python3
"""Writes the built-in demo's addition task as a dataset in TRL's row shape, so the demo base model can be
trained through the dataset path (docs/datasets.md, "The demo task as a dataset"):

    python3 docs/examples/make_add_rows.py data/add          # data/add/train.jsonl (400), eval.jsonl (100)

Each row: {"prompt": "Q:52445+19886=", "answer": "72331", "data_source": "carries" | "no-carry",
"carries": <column carries>, "id": n}. Both operands have five digits and so has the sum."""
import json
import pathlib
import random
import sys


def row(rng, i):
    a = rng.randrange(10000, 90000)
    b = rng.randrange(10000, 100000 - a)
    carries = sum(1 for k in range(5) if (a // 10**k) % 10 + (b // 10**k) % 10 >= 10)
    return {"prompt": f"Q:{a}+{b}=", "answer": f"{a + b:05d}",
            "data_source": "no-carry" if carries == 0 else "carries", "carries": carries, "id": i}


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "data/add")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for name, first, n in (("train.jsonl", 0, 400), ("eval.jsonl", 1000, 100)):
        with open(out / name, "w") as f:
            for i in range(first, first + n):
                f.write(json.dumps(row(rng, i)) + "\n")
    print(f"wrote {out / 'train.jsonl'} (400 rows) and {out / 'eval.jsonl'} (100 rows)")


if __name__ == "__main__":
    main()
