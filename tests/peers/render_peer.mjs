// Chat-template peer: renders every case of conversations.json with @huggingface/jinja (the independent
// JavaScript Jinja of transformers.js), passing the variables transformers' apply_chat_template passes:
// messages, add_generation_prompt, tools/documents (null unless given), the tokenizer's special tokens,
// then the extra kwargs (date_string, enable_thinking, tools). Prints JSON {case_id: rendered} on stdout.
// tests/trainer/test_chat_template.cpp renders the same cases through ChatTemplate and compares bytes.
// Usage: node render_peer.mjs > chat_js.json
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";

const here = dirname(fileURLToPath(import.meta.url));
const spec = JSON.parse(readFileSync(join(here, "conversations.json"), "utf8"));

// transformers' tokenizer.special_tokens_map: the set special tokens as strings.
function specialTokens(cfg) {
  const out = {};
  const text = (v) => (typeof v === "string" ? v : v && typeof v.content === "string" ? v.content : null);
  for (const n of ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"]) {
    const t = text(cfg[n]);
    if (t !== null) out[n] = t;
  }
  if (Array.isArray(cfg.additional_special_tokens)) {
    const list = cfg.additional_special_tokens.map(text).filter((t) => t !== null);
    if (list.length) out.additional_special_tokens = list;
  }
  return out;
}

function loadTemplate(t) {
  if (t.file) return { source: readFileSync(join(here, t.file), "utf8"), special: t.special_tokens || {} };
  const dir = join(here, t.folder);
  const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  let special = specialTokens(cfg);
  const mapFile = join(dir, "special_tokens_map.json");
  if (existsSync(mapFile)) special = { ...special, ...specialTokens(JSON.parse(readFileSync(mapFile, "utf8"))) };
  const jinjaFile = join(dir, "chat_template.jinja");
  let source = existsSync(jinjaFile) ? readFileSync(jinjaFile, "utf8") : cfg.chat_template;
  if (Array.isArray(source)) source = source.find((e) => e.name === "default").template;
  return { source, special };
}

// The case id, shared with test_chat_template.cpp.
export function caseId(template, conv, agp, thinking) {
  let id = `${template}|${conv}|agp=${agp ? 1 : 0}`;
  if (thinking !== undefined) id += `|think=${thinking === null ? "unset" : thinking}`;
  return id;
}

const result = {};
for (const [name, t] of Object.entries(spec.templates)) {
  const { source, special } = loadTemplate(t);
  const template = new Template(source);
  const thinkings = t.thinking ? spec.enable_thinking : [undefined];
  for (const conv of spec.conversations) {
    for (const agp of spec.add_generation_prompt) {
      for (const thinking of thinkings) {
        const vars = { tools: null, documents: null, ...special, date_string: spec.date_string, ...(conv.variables || {}) };
        if (thinking !== undefined && thinking !== null) vars.enable_thinking = thinking;
        const id = caseId(name, conv.id, agp, thinking);
        try {
          result[id] = template.render({ ...vars, messages: conv.messages, add_generation_prompt: agp });
        } catch (e) {
          result[id] = { error: String(e && e.message ? e.message : e) };
        }
      }
    }
  }
}
process.stdout.write(JSON.stringify(result, null, 1) + "\n");
