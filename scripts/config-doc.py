#!/usr/bin/env python3
"""Regenerates the key table of docs/config.md: the keys of the schema (trainer/config.cpp's config_fields),
each with its type, default and comment from the struct field it points to (trainer/config.h, and
trainer/model_spec.h for the model's shape)."""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
sections = {"Model": "model", "Task": "task", "Data": "data", "Sampling": "sampling", "Grpo": "grpo", "Reward": "rewards", "Optim": "optim",
            "Pretrain": "pretrain", "ModelSpec": "model"}
types = {"int64_t": "integer", "double": "number", "bool": "bool", "std::string": "string",
         "std::vector<std::string>": "list of strings"}
fields = {}  # key -> row
for header in ("trainer/config.h", "trainer/model_spec.h"):
    section = None
    for line in (root / header).read_text().splitlines():
        if m := re.match(r"struct (\w+?)(Config)? \{", line):
            section = sections.get(m.group(1), "" if m.group(1) == "Config" and m.group(2) is None else None)
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
            fields.setdefault(key, f"| `{key}` | {types[t]} | `{default}` | {comment} |")
        elif m := re.match(r"\s+([\w:<>]+)\s+(\w+);\s*//\s*(.*)", line):  # no default: an empty string or list
            t, name, comment = m.groups()
            key = f"{section}.{name}" if section else name
            if t == "std::string":
                fields.setdefault(key, f'| `{key}` | string | `""` | {comment} |')
            elif t == "std::vector<std::string>":
                fields.setdefault(key, f'| `{key}` | list of strings | `[]` | {comment} |')

# Watchdog rules: WatchdogRule <rule>{"action", threshold, steps};  // comment  ->  watchdogs.<rule>.* (all live)
for line in (root / "trainer/config.h").read_text().splitlines():
    if m := re.match(r'\s+WatchdogRule (\w+)\{"(\w+)", ([\d.e+-]+), (\d+)\};\s*//\s*(.*)', line):
        rule, action, threshold, steps, comment = m.groups()
        k = f"watchdogs.{rule}"
        fields[k + ".action"] = f"| `{k}.action` | string | `\"{action}\"` | live; off, event, alert, pause or checkpoint_pause when: {comment} |"
        if rule == "nonfinite":
            continue  # nothing to tune (add_watchdog_fields gives it no threshold or steps)
        fields[k + ".threshold"] = f"| `{k}.threshold` | number | `{threshold}` | live; the {rule} rule's limit |"
        fields[k + ".steps"] = f"| `{k}.steps` | integer | `{steps}` | live; the {rule} rule's steps (consecutive, or its window) |"
watchdog_keys = [k for k in fields if k.startswith("watchdogs.")]

schema = re.findall(r'(?:num|text|flag|list)\("([\w.]+)"', (root / "trainer/config.cpp").read_text())
schema += watchdog_keys  # add_watchdog_fields() appends them after the table, in this order
missing = [k for k in schema if k not in fields]
if missing:
    raise SystemExit(f"config-doc: no documented field for {missing}")
rows = [fields[k] for k in schema]

doc = root / "docs/config.md"
text = doc.read_text()
head, rest = text.split("| key | type | default | meaning |\n|---|---|---|---|\n", 1)
tail = rest[rest.index("\n\n"):]
doc.write_text(head + "| key | type | default | meaning |\n|---|---|---|---|\n" + "\n".join(rows) + tail)
print(f"docs/config.md: {len(rows)} keys")
