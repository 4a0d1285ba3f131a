#!/usr/bin/env python3
"""Regenerates the key table of docs/config.md from trainer/config.h (fields, defaults and comments)."""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
src = (root / "trainer/config.h").read_text()
sections = {"Model": "model", "Task": "task", "Sampling": "sampling", "Grpo": "grpo", "Reward": "rewards", "Optim": "optim",
            "Pretrain": "pretrain"}
types = {"int64_t": "integer", "double": "number", "bool": "bool", "std::string": "string",
         "std::vector<std::string>": "list of strings"}
rows, section = [], None
for line in src.splitlines():
    if m := re.match(r"struct (\w+)Config \{", line):
        section = sections.get(m.group(1))
        continue
    if line.startswith("struct Config {"):
        section = ""
        continue
    if line.startswith("};"):
        section = None
        continue
    if section is None:
        continue
    if m := re.match(r"\s+(int64_t|double|bool|std::string|std::vector<std::string>)\s+(\w+)\s*=\s*(.*?);\s*//\s*(.*)", line):
        t, name, default, comment = m.groups()
        key = f"{section}.{name}" if section else name
        default = default.replace("{", "[").replace("}", "]")
        rows.append(f"| `{key}` | {types[t]} | `{default}` | {comment} |")

doc = root / "docs/config.md"
text = doc.read_text()
head, rest = text.split("| key | type | default | meaning |\n|---|---|---|---|\n", 1)
tail = rest[rest.index("\n\n"):]
doc.write_text(head + "| key | type | default | meaning |\n|---|---|---|---|\n" + "\n".join(rows) + tail)
print(f"docs/config.md: {len(rows)} keys")
