#!/usr/bin/env python3
"""Render conversations with a Hugging Face chat template, exactly as transformers does.

grpo-train runs this helper (trainer/chat_template.cpp) once per batch of prompts. It reproduces
transformers' `apply_chat_template(..., tokenize=False)`: the Jinja environment of
`_compile_jinja_template` (transformers/utils/chat_template_utils.py) and the variables that
`render_jinja_template` passes. Standard library and jinja2 (Debian: python3-jinja2) only.

Request (one JSON object on stdin):
  {"template": str,
   "conversations": [[{"role": ..., "content": ..., ...}, ...], ...],
   "add_generation_prompt": bool,
   "variables": {...}}      # special tokens (bos_token, eos_token, ...) and extra kwargs
                            # (enable_thinking, tools, date_string, ...)
Reply (stdout): {"rendered": [str, ...]}, one string per conversation, exit 0.
On a template error: {"error": str, "line": int|null, "conversation": int|null}, exit 2.
When jinja2 is missing or too old: {"error": str, "missing": "jinja2"}, exit 3.
A malformed request: {"error": str}, exit 4.
"""
import json
import sys
import traceback
from datetime import datetime


def reply(obj, code):
    # ASCII-only JSON: independent of the locale's encoding, and exact (\\u escapes round-trip).
    sys.stdout.buffer.write(json.dumps(obj, ensure_ascii=True).encode("ascii"))
    sys.stdout.buffer.flush()
    sys.exit(code)


try:
    import jinja2
    import jinja2.ext
    import jinja2.nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError as e:  # pragma: no cover - depends on the machine
    reply({"error": "jinja2 is not installed for %s (%s)" % (sys.executable, e), "missing": "jinja2"}, 3)


def _version_tuple(v):
    out = []
    for part in v.split("."):
        digits = "".join(c for c in part if c.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


if _version_tuple(jinja2.__version__) < (3, 1, 0):
    # transformers refuses these too
    reply({"error": "chat templates need jinja2>=3.1.0; %s has %s" % (sys.executable, jinja2.__version__),
           "missing": "jinja2"}, 3)


class AssistantTracker(jinja2.ext.Extension):
    """transformers' `{% generation %}...{% endgeneration %}` tag. Without assistant-mask tracking
    (return_assistant_tokens_mask=False, as for tokenize=False) it renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers overrides jinja's tojson, which would escape HTML characters
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def template_line(source, lineno):
    if not lineno:
        return None
    lines = source.splitlines()
    if 1 <= lineno <= len(lines):
        return lines[lineno - 1].strip()
    return None


def runtime_lineno(exc):
    """The template line a render error came from: jinja rewrites tracebacks so that template frames
    carry the file name '<template>' and the template's line numbers."""
    lineno = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == "<template>":
            lineno = frame.lineno
    return lineno


def describe(exc):
    msg = str(exc) or type(exc).__name__
    if not isinstance(exc, jinja2.exceptions.TemplateError):
        msg = "%s: %s" % (type(exc).__name__, msg)
    return msg


def main():
    try:
        request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        reply({"error": "bad request: %s" % e}, 4)
    if not isinstance(request, dict) or not isinstance(request.get("template"), str) \
            or not isinstance(request.get("conversations"), list):
        reply({"error": "bad request: needs a string 'template' and a list 'conversations'"}, 4)
    source = request["template"]
    variables = request.get("variables") or {}
    if not isinstance(variables, dict):
        reply({"error": "bad request: 'variables' must be an object"}, 4)
    add_generation_prompt = bool(request.get("add_generation_prompt", False))

    try:
        template = compile_template(source)
    except jinja2.exceptions.TemplateSyntaxError as e:
        line = template_line(source, e.lineno)
        msg = "syntax error on template line %s: %s" % (e.lineno, e.message)
        if line:
            msg += " (in: %s)" % line
        reply({"error": msg, "line": e.lineno, "conversation": None}, 2)
    except Exception as e:  # noqa: BLE001 - any compile failure is the template's
        reply({"error": "template does not compile: %s" % describe(e), "line": None, "conversation": None}, 2)

    # render_jinja_template: messages, tools and documents (None unless given), add_generation_prompt,
    # then **{**tokenizer.special_tokens_map, **kwargs}.
    kwargs = {"tools": None, "documents": None}
    kwargs.update(variables)
    kwargs.pop("messages", None)
    kwargs["add_generation_prompt"] = add_generation_prompt

    rendered = []
    for index, chat in enumerate(request["conversations"]):
        try:
            rendered.append(template.render(messages=chat, **kwargs))
        except Exception as e:  # noqa: BLE001 - raise_exception, undefined names, type errors...
            lineno = runtime_lineno(e)
            msg = describe(e)
            if lineno:
                msg += " (template line %d" % lineno
                line = template_line(source, lineno)
                msg += ": %s)" % line if line else ")"
            reply({"error": msg, "line": lineno, "conversation": index}, 2)
    reply({"rendered": rendered}, 0)


if __name__ == "__main__":
    main()
