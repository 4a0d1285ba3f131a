// Encoding speed of Hugging Face's JavaScript tokenizer on a JSONL corpus, the peer of bench/bench_tokenizer:
// one warm-up pass, then timed passes; prints one line per pass: "<MB/s> <seconds> <ids>" (MB = 10^6 bytes
// of UTF-8 text), as bench/bench_tokenizer does.
//   node bench_peer.mjs <tokenizer folder> <corpus.jsonl> [passes=1]
import { load_tokenizer, read_corpus } from "./tokenize_peer.mjs";

const [folder, corpus_path, passes_arg] = process.argv.slice(2);
if (!corpus_path) {
  console.error("usage: node bench_peer.mjs <tokenizer folder> <corpus.jsonl> [passes=1]");
  process.exit(2);
}
const tokenizer = load_tokenizer(folder);
const items = read_corpus(corpus_path);
const encoder = new TextEncoder();
const bytes = items.reduce((sum, text) => sum + encoder.encode(text).length, 0);

const pass = () => {
  let ids = 0;
  for (const text of items) ids += tokenizer.encode(text, { add_special_tokens: false }).ids.length;
  return ids;
};
pass();  // warm-up: JIT compilation, and the model's caches
for (let i = 0; i < Number(passes_arg ?? 1); ++i) {
  const start = process.hrtime.bigint();
  const ids = pass();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${(bytes / seconds / 1e6).toFixed(3)} ${seconds.toFixed(4)} ${ids}`);
}
