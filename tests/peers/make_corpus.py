#!/usr/bin/env python3
"""Writes the tokenizer peer-check corpus: JSON lines, one JSON string per line (so that an item can hold
newlines, carriage returns and tabs), deterministic for a given source tree (seeded; files read in sorted
order). About 1.5 MB of what a byte-level BPE tokenizer must get right: the repository's own prose and
code, generated English, CJK, emoji sequences, digit runs, whitespace runs and exotic spaces, contractions,
text that is not NFC, other scripts, and the Qwen3 / Llama 3 special tokens inside text.

    python3 make_corpus.py OUT/corpus.jsonl

Only the standard library and files of the repository. Characters are drawn from those Unicode 14.0
assigns (Python 3.11's unicodedata, PCRE2 10.42's tables), so that every peer classifies them alike.
"""

import json
import os
import random
import sys
import unicodedata

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIN_BYTES = 1_200_000
SEED = 20250607

SPECIAL_TOKENS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
    "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|vision_start|>", "<|box_end|>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
    "<|reserved_special_token_0|>", "<|reserved_special_token_250|>", "<|python_tag|>", "<|eom_id|>",
]
NEAR_MISSES = ["<|im_start", "im_start|>", "<|im_start|", "< think>", "<think >", "<|eot_id", "<||>", "<|>",
               "<<|im_end|>>", "<|<|endoftext|>|>", "</think", "<thinking>", "<|IM_START|>",
               "<|begin_of_text|"]

WORDS = ("the of and to in is was he for it with as his on be at by had are but from or have an they which "
         "one you were her all she there would their we him been has when who will more no if out so said "
         "what up its about into than them can only other new some could time these two may then do first "
         "any my now such like our over man me even most made after also did many before must through back "
         "years where much your way well down should because each just those people how too little state "
         "good very make world still own see men work long get here between both life being under never "
         "day same another know while last might us great old year off come since against go came right "
         "used take three gradient policy reward model token advantage sampler checkpoint trainer learning "
         "rate entropy batch group rollout verify answer reasoning Qwen Llama GRPO DeepSeek PyTorch "
         "LibTorch Adam KL PPO GPU CPU JSON UTF-8 BPE tokenizer").split()
NAMES = "Alice Bob Carol Dave Eve Mallory Oscar Peggy Trent Walter Zoë Renée José Łukasz Søren".split()
CONTRACTIONS = ["I'LL", "I'll", "i'll", "she's", "SHE'S", "She'S", "we're", "WE'RE", "We'Re", "they've",
                "THEY'VE",
                "I'm", "I'M", "he'd", "HE'D", "don't", "DON'T", "can't", "won't", "it's", "IT'S", "y'all",
                "rock'n'roll", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "''", "'", "it’s",
                "’s",
                "O'Neil", "l'homme", "c'est", "'tis", "'90s", "Peter's", "PETER'S", "x's", "5's", "'x"]

EXOTIC_SPACES = ["\u0085", "\u00a0", "\u1680", "\u180e", "\u2000", "\u2001", "\u2002", "\u2003", "\u2004",
                 "\u2005",
                 "\u2006", "\u2007", "\u2008", "\u2009", "\u200a", "\u200b", "\u2028", "\u2029", "\u202f",
                 "\u205f",
                 "\u3000", "\ufeff", "\u000b", "\u000c", "\u001c", "\u001d", "\u001e", "\u001f"]

CJK_SENTENCES = [
    "我们用强化学习训练推理模型，让它在回答之前先思考。", "这个分词器必须与参考实现逐个标记完全一致。",
    "机器学习研究人员需要可靠的工具。", "今天的天气很好，我们去公园散步吧！", "第一步：计算12345+67890的和。",
    "私は東京大学で機械学習を研究しています。", "このトークナイザーは、ひらがな・カタカナ・漢字を正しく扱います。",
    "ｶﾀｶﾅの半角もあります。ﾃｽﾄ、ﾃｽﾄ。", "「こんにちは」と彼女は言った。", "ラーメンを食べたい！〜〜",
    "안녕하세요, 저는 인공지능 연구원입니다.", "한국어 문장도 정확하게 토큰화되어야 합니다.", "서울의 날씨는 맑음.",
    "中文、日本語、한국어が混ざったtextもOK。", "「引号」和《书名号》以及……省略号——破折号",
]
OTHER_SCRIPTS = [
    "Привет, мир! Это проверка токенизатора.", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "مرحبا بالعالم، هذا اختبار.", "اَلْعَرَبِيَّةُ لُغَةٌ جَمِيلَةٌ", "١٢٣٤٥ + ٦٧٨٩٠ = ٨٠٢٣٥",
    "नमस्ते दुनिया, यह एक परीक्षण है।", "क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़", "०१२३४५६७८९",
    "Γειά σου Κόσμε· ἀρχὴ ἥμισυ παντός.",
    "שלום עולם, זה מבחן.", "สวัสดีชาวโลก นี่คือการทดสอบ", "வணக்கம் உலகம்", "হ্যালো বিশ্ব",
    "გამარჯობა მსოფლიო",
    "Բարեւ աշխարհ", "Xin chào thế giới, đây là bài kiểm tra tiếng Việt.",
    "Ça va? Ünïcödé façade naïve résumé",
    "Straße, Maß, Fußgängerübergänge", "İstanbul'da ılık bir gün", "ǅemal ǈubljana ǋ", "ﬁnance ﬂow ﬀ ﬃ",
]
NON_NFC = [
    "e\u0301", "cafe\u0301", "A\u030a", "\u212b", "\u2126", "\u1e9b\u0323", "a\u0323\u0301", "a\u0301\u0323",
    "\u0041\u0308\u0304", "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "\uf900\uf901\ufa10",
    "\u0915\u093c", "\u0958", "\u00c5\u030a", "\u0301abc", "\u0308", "o\u0302\u0300", "\u1ec7",
    "e\u0323\u0302",
    "\u0627\u0653", "\u05d0\u05b7", "\u0e40\u0e01\u0e34", "\u2000\u2001", "\u0374\u037e\u0387",
    "\u1f71\u1fbb",
    "\u30ab\u3099", "\u304b\u3099\u304d\u3099", "\uff76\uff9e", "n\u0303o\u0308", "\u0390\u03b9\u0308\u0301",
]
EMOJI = [
    "😀", "😂", "🤖", "🧠", "🔥", "✅", "❌", "⚠️", "❤️", "👍", "👍🏻", "👍🏽", "👍🏿", "👋🏼", "🧑‍💻", "👩‍🔬",
    "👨‍👩‍👧‍👦", "👩‍❤️‍👨", "🏳️‍🌈", "🏴‍☠️", "🇩🇪", "🇯🇵", "🇺🇸", "🇫🇷🇬🇧🇨🇳", "1️⃣", "#️⃣", "*️⃣", "©️", "™",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🫠", "🥲", "🫶🏾", "☺", "☺️", "♀️", "🚀🚀🚀", "🎉🎊", "💯", "🙏🏽", "🤷‍♂️", "🧔🏻‍♀️",
]
CODE_SNIPPETS = [
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\n", "def f(x):\n    return x**2 + 2*x + 1\n",
    "if (x != nullptr && x->next) { /* ... */ }", "std::vector<std::pair<int64_t, std::string>> v;",
    "SELECT id, name FROM runs WHERE step >= 10 ORDER BY step DESC;",
    "{\"lr\": 3e-4, \"beta\": [0.9, 0.999]}",
    "https://huggingface.co/Qwen/Qwen3-0.6B/resolve/main/tokenizer.json?download=true", "user@example.com",
    "x => x.map((y) => y * 2).filter(Boolean)",
    "#include <torch/torch.h>\n#define MAX(a,b) ((a)>(b)?(a):(b))",
    "a += b; c -= d; e *= f; g /= h; i %= j; k <<= 1; l >>= 2; m &&= n; o ||= p;",
    "$ ls -la | grep '^d' > out.txt 2>&1",
    "| col a | col b |\n|---|---:|\n| 1 | 2 |\n", "<div class=\"x\"><span>text</span></div>",
    "0xDEADBEEF 0b1010 0o777 1e-9",
    "=====================================", "------------------------------------------", "...!!!???;;;:::",
    "->>=<=>!==+++---***///\\\\\\|||&&&^^^~~~", "C:\\Users\\me\\file.txt",
    "matrix[i][j] = (i + j) % 2 ? -1 : 1;",
]


def collect_files(exts, roots):
    files = []
    for root in roots:
        base = os.path.join(REPO, root)
        if os.path.isfile(base):
            files.append(base)
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules"
                                 and not d.startswith("build"))
            files += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(exts)]
    return sorted(files)


def read_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def assigned(lo, hi, categories=None):
    """The code points of [lo, hi] Unicode 14 assigns (optionally: of these general categories)."""
    out = []
    for cp in range(lo, hi + 1):
        cat = unicodedata.category(chr(cp))
        if cat in ("Cn", "Cs", "Co"):
            continue
        if categories is None or cat in categories:
            out.append(chr(cp))
    return out


class Corpus:
    def __init__(self, rng):
        self.rng = rng
        self.items = []

    def add(self, text):
        self.items.append(text)

    def size(self):
        return sum(len(t.encode("utf-8")) for t in self.items)


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(3, 18))]
    for _ in range(rng.randint(0, 2)):
        words.insert(rng.randrange(len(words) + 1), rng.choice(NAMES + CONTRACTIONS))
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), str(rng.randint(0, 10 ** rng.randint(1, 9))))
    text = " ".join(words)
    text = text[0].upper() + text[1:]
    if rng.random() < 0.2:
        text = text.upper()
    return text + rng.choice([".", ".", ".", "!", "?", "...", ":", ";", " -", "", "?!"])


def prose(corpus, rng):
    docs = collect_files((".md",), ["README.md", "docs"])
    for path in docs:
        text = read_text(path)
        corpus.add(text)  # the whole document as one item
        for paragraph in text.split("\n\n"):
            if paragraph.strip():
                corpus.add(paragraph)
    for _ in range(2500):
        n = rng.choice([1, 1, 2, 3, 5])
        corpus.add(" ".join(sentence(rng) for _ in range(n)))
    for _ in range(300):  # paragraphs with the newline styles of other systems
        sep = rng.choice(["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n\r", " \n", "\t\n"])
        corpus.add(sep.join(sentence(rng) for _ in range(rng.randint(2, 6))))


def code(corpus, rng):
    sources = collect_files((".cpp", ".h", ".py", ".sh", ".mjs"),
                            ["trainer", "ipc", "ui", "app", "tests", "bench", "scripts"])
    for i, path in enumerate(sources):
        lines = read_text(path).split("\n")
        if i % 9 == 0:
            corpus.add("\n".join(lines))  # some whole files
        pos = 0
        while pos < len(lines):
            n = rng.randint(1, 60)
            chunk = "\n".join(lines[pos:pos + n])
            if rng.random() < 0.15:
                chunk = chunk.replace("\n", "\r\n")
            if rng.random() < 0.1:
                chunk = chunk.replace("    ", "\t")
            corpus.add(chunk)
            pos += n
    for _ in range(300):
        corpus.add(" ".join(rng.choice(CODE_SNIPPETS) for _ in range(rng.randint(1, 4))))


def cjk(corpus, rng):
    han = assigned(0x4E00, 0x9FFF) + assigned(0x3400, 0x4DBF)
    han_b = assigned(0x20000, 0x2A6DF)
    hiragana = assigned(0x3041, 0x309F)
    katakana = assigned(0x30A0, 0x30FF) + assigned(0xFF66, 0xFF9F)
    hangul = assigned(0xAC00, 0xD7A3)
    jamo = assigned(0x1100, 0x11FF)
    compat = assigned(0xF900, 0xFAD9)
    punct = list("。、，！？：；「」『』（）《》【】・ー〜…　")
    fullwidth = assigned(0xFF01, 0xFF5E)
    for _ in range(700):
        pools = rng.choice([[han], [han, punct], [hiragana, katakana, han, punct], [hangul, punct, [" "]],
                            [han_b, han], [jamo], [compat, han], [fullwidth, han], [katakana]])
        length = rng.randint(1, 120)
        corpus.add("".join(rng.choice(rng.choice(pools)) for _ in range(length)))
    for _ in range(400):
        parts = [rng.choice(CJK_SENTENCES) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.4:
            parts.insert(rng.randrange(len(parts) + 1), sentence(rng))
        corpus.add(rng.choice(["", " ", "\n"]).join(parts))
    corpus.add("".join(rng.choice(han) for _ in range(20000)))  # one 60 KB pre-token: the long-word path


def scripts(corpus, rng):
    ranges = [(0x0400, 0x04FF), (0x0600, 0x06FF), (0x0900, 0x097F), (0x0370, 0x03FF), (0x05D0, 0x05EA),
              (0x0E01, 0x0E5B), (0x0B80, 0x0BFF), (0x10A0, 0x10FF), (0x1E00, 0x1EFF), (0x0100, 0x024F)]
    pools = [assigned(lo, hi) for lo, hi in ranges]
    for _ in range(500):
        pool = rng.choice(pools)
        words = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 9)))
                 for _ in range(rng.randint(1, 12))]
        corpus.add(" ".join(words) + rng.choice(["", ".", "!", "؟", "।", "\n"]))
    for _ in range(300):
        corpus.add(" ".join(rng.choice(OTHER_SCRIPTS) for _ in range(rng.randint(1, 3))))


def non_nfc(corpus, rng):
    marks = assigned(0x0300, 0x036F)
    for _ in range(500):
        parts = []
        for _ in range(rng.randint(1, 8)):
            r = rng.random()
            if r < 0.4:
                parts.append(rng.choice(NON_NFC))
            elif r < 0.7:
                base = rng.choice("aeiouAEIOUnNcCsSzZyY")
                parts.append(base + "".join(rng.choice(marks) for _ in range(rng.randint(1, 4))))
            else:
                parts.append(rng.choice(WORDS))
        corpus.add(rng.choice(["", " "]).join(parts))


def emoji(corpus, rng):
    symbols = assigned(0x1F300, 0x1F5FF) + assigned(0x1F900, 0x1F9FF) + assigned(0x2600, 0x26FF)
    for _ in range(600):
        parts = []
        for _ in range(rng.randint(1, 10)):
            parts.append(rng.choice(EMOJI) if rng.random() < 0.6 else rng.choice(symbols))
            if rng.random() < 0.3:
                parts.append(rng.choice([" ", "", "!", sentence(rng)]))
        corpus.add("".join(parts))


def digits(corpus, rng):
    other_digits = (assigned(0x0660, 0x0669) + assigned(0x0966, 0x096F) + assigned(0xFF10, 0xFF19)
                    + list("²³¹¼½¾ⅫⅣ"))
    for _ in range(500):
        r = rng.random()
        if r < 0.3:
            corpus.add("".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40))))
        elif r < 0.5:
            corpus.add(f"{rng.randint(0, 99999)} + {rng.randint(0, 99999)} = {rng.randint(0, 199998)}")
        elif r < 0.65:
            corpus.add(f"{rng.uniform(-1e6, 1e6):,.{rng.randint(0, 6)}f} {rng.random():.3e} "
                       f"{rng.randint(0, 255):#x}")
        elif r < 0.8:
            corpus.add(f"+1 ({rng.randint(200, 999)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}, "
                       f"{rng.randint(1900, 2100)}-{rng.randint(1, 12):02d}-"
                       f"{rng.randint(1, 28):02d}T12:34:56Z")
        else:
            pool = other_digits + list("0123456789 ,.")
            corpus.add("".join(rng.choice(pool) for _ in range(rng.randint(1, 30))))
    corpus.add("".join(rng.choice("0123456789") for _ in range(10000)))  # one long digit run
    corpus.add("3." + "".join(rng.choice("0123456789") for _ in range(2000)))


def whitespace(corpus, rng):
    for _ in range(800):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.35:
                spaces = [" ", " ", "\t", "\n", "\r\n", "\r"]
                parts.append("".join(rng.choice(spaces) for _ in range(rng.randint(1, 12))))
            elif r < 0.5:
                parts.append(rng.choice(EXOTIC_SPACES) * rng.randint(1, 3))
            elif r < 0.6:
                parts.append(" " * rng.randint(1, 40))
            else:
                parts.append(rng.choice(WORDS + CONTRACTIONS + ["!", "?", ".", "()", "{", "}", "x1", "1x"]))
        corpus.add("".join(parts))
    for item in ["", " ", "  ", "\n", "\n\n\n", "\r\n", "\t", " \t \n", "a", "'", "' s", "\u3000",
                 " " * 3000, "\n" * 500, "\t" * 300, "\r\n" * 200, "a" * 5000, "!" * 3000, "ab" * 2000,
                 "=" * 1000]:
        corpus.add(item)


def special_tokens(corpus, rng):
    for _ in range(800):
        parts = []
        for _ in range(rng.randint(1, 10)):
            r = rng.random()
            if r < 0.35:
                parts.append(rng.choice(SPECIAL_TOKENS))
            elif r < 0.45:
                parts.append(rng.choice(NEAR_MISSES))
            elif r < 0.55:
                parts.append(rng.choice(["\n", " ", "  ", "\n\n", "", "user", "assistant", "system"]))
            else:
                parts.append(sentence(rng))
        corpus.add(rng.choice(["", " ", "\n"]).join(parts))
    for _ in range(200):  # chat transcripts as the trainer renders them
        q, a = sentence(rng), sentence(rng)
        corpus.add(f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                   f"<|im_start|>user\n{q}<|im_end|>\n"
                   f"<|im_start|>assistant\n<think>\n{sentence(rng)}\n</think>\n\n{a}<|im_end|>\n")
        corpus.add(f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{q}<|eot_id|>"
                   f"<|start_header_id|>assistant<|end_header_id|>\n\n{a}<|eot_id|>")
    for token in SPECIAL_TOKENS:
        corpus.add(token)


def soup(corpus, rng):
    """Random assigned code points of every plane-0/1 category, mixed with ASCII."""
    pool = assigned(0x00A0, 0x2FFF) + assigned(0xA000, 0xABFF) + assigned(0x10000, 0x1FAFF)
    pool += [chr(c) for c in range(0x00, 0x20)] + ["\x7f", "\ufffd", "\u00ad", "\u034f", "\u200d", "\u2060"]
    for _ in range(600):
        corpus.add("".join(rng.choice(pool) if rng.random() < 0.6 else rng.choice("abc XYZ 123 .,'!\n")
                           for _ in range(rng.randint(1, 80))))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_corpus.py OUT/corpus.jsonl")
    rng = random.Random(SEED)
    corpus = Corpus(rng)
    for part in (prose, code, cjk, scripts, non_nfc, emoji, digits, whitespace, special_tokens, soup):
        part(corpus, rng)
    while corpus.size() < MIN_BYTES:  # a smaller checkout: more generated text
        for part in (prose, cjk, special_tokens):
            part(corpus, rng)
    rng.shuffle(corpus.items)
    os.makedirs(os.path.dirname(os.path.abspath(sys.argv[1])), exist_ok=True)
    with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as out:
        for item in corpus.items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"make_corpus: {len(corpus.items)} items, {corpus.size()} bytes of text -> {sys.argv[1]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
