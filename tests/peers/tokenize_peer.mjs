// The peer of trainer/hf_tokenizer.cpp: Hugging Face's JavaScript tokenizer (@huggingface/tokenizers,
// pinned in package.json) encodes each line of a JSONL corpus (one JSON string per line) and writes its ids
// as JSONL (one JSON list per line), without the post-processor's special tokens.
//   node tokenize_peer.mjs <tokenizer folder> <corpus.jsonl> <ids.jsonl>
import { readFileSync, writeFileSync, existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";

export function load_tokenizer(folder) {
  const tokenizer_json = JSON.parse(readFileSync(join(folder, "tokenizer.json"), "utf8"));
  const config_path = join(folder, "tokenizer_config.json");
  const tokenizer_config = existsSync(config_path) ? JSON.parse(readFileSync(config_path, "utf8")) : {};
  return new Tokenizer(tokenizer_json, tokenizer_config);
}

export function read_corpus(path) {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

function main() {
  const [folder, corpus_path, out_path] = process.argv.slice(2);
  if (!out_path) {
    console.error("usage: node tokenize_peer.mjs <tokenizer folder> <corpus.jsonl> <ids.jsonl>");
    process.exit(2);
  }
  const tokenizer = load_tokenizer(folder);
  const items = read_corpus(corpus_path);
  const encode = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids;
  const lines = items.map((text) => JSON.stringify(encode(text)));
  writeFileSync(out_path, lines.join("\n") + "\n");
  console.error(`tokenize_peer: ${items.length} lines of ${corpus_path} -> ${out_path}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
