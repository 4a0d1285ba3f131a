#!/usr/bin/python3
"""The alternative a user would write: the same model and the same GRPO step as grpo-train, in Python on
PyTorch (Debian's python3-torch, the same LibTorch 1.13), with a KV cache, batched sampling and the same
work per step (rollout, old and reference log-probs, minibatched update, AdamW). Prints one JSON line with
mean generation and training tokens/s over the steps after the first, measured as grpo-train measures
them (docs/performance.md). Random init, so every completion runs to max_new_tokens on both sides.

    /usr/bin/python3 bench/grpo_python.py --d-model 64 --layers 3 --heads 4 --mlp 176 --steps 6

The shape of a real model (bench/qwen_shape.sh: Qwen2.5-0.5B's 896 hidden, 24 layers, 14 query and 2 key/value
heads, 4864 MLP, a 151936-row tied embedding, q/k/v biases) takes --vocab, --kv-heads, --head-dim, --qkv-bias,
--tie/--no-tie, --rope-base and --norm-eps. Prompts stay the built-in arithmetic prompts in the char alphabet
(ids < 34, valid in any vocab). --as-trainer does the step exactly as grpo-train does it (trainer/sampler.cpp,
trainer/grpo_step.cpp, trainer/model.cpp), with the same shortcuts:
  - decoding attention (one new token) as a broadcast multiply-and-sum over the cache, grouped-query heads
    by expand + reshape; prompts and training through matmul;
  - the output head only where logits are used: the last prompt position when prefilling, the L positions
    that predict completion tokens when scoring (not all P + L);
  - sampling as the trainer's: ids from --sampled-vocab on masked (a padded embedding's rows with no token),
    PAD masked unless it ends a sequence, softmax(l / T), then argmax(p / q) with q ~ Exp(1); any --eos id
    ends a row; rewards are scored inside the generation timer, as grpo-train times them;
  - with --minibatches 1 (one pass) the old log-probs are the training forward's own, detached, so no
    separate pass; with --beta 0 no reference model and no reference pass;
  - the entropy of every position in the training forward (what grpo-train records), the clipped loss with
    sequence-mean aggregation, its clip fractions, gradient clipping at 1, AdamW.
Without --as-trainer (and with the defaults) the step is the one docs/performance.md measures, unchanged.

    /usr/bin/python3 bench/grpo_python.py --as-trainer --d-model 896 --layers 24 --heads 14 --kv-heads 2 \
        --mlp 4864 --vocab 151936 --qkv-bias --tie --rope-base 1e6 --norm-eps 1e-6 --prompts 2 --group 4 \
        --max-new-tokens 32 --minibatches 1 --beta 0 --steps 2 --eos 151645,151643 --pad 151643 \
        --sampled-vocab 151669
"""
import argparse
import json
import math
import random
import re
import time

import torch
import torch.nn.functional as F

ALPHABET = "\n0123456789+*=:,<>/ Qacehiknorstw"  # grpo-train's built-in alphabet; id 0 is PAD
PAD, EOS = 0, 1
STOI = {c: i + 1 for i, c in enumerate(ALPHABET)}


def encode(s):
    return [STOI[c] for c in s]


def decode(ids):
    return "".join(ALPHABET[i - 1] for i in ids if i > 1)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):  # half-split convention
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


class Block(torch.nn.Module):
    def __init__(self, d, heads, kv_heads, mlp, head_dim=0, qkv_bias=False, eps=1e-5, trainer_attention=False):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, head_dim or d // heads
        self.trainer_attention = trainer_attention
        self.attn_norm, self.mlp_norm = RMSNorm(d, eps), RMSNorm(d, eps)
        self.wq = torch.nn.Linear(d, heads * self.hd, bias=qkv_bias)
        self.wk = torch.nn.Linear(d, kv_heads * self.hd, bias=qkv_bias)
        self.wv = torch.nn.Linear(d, kv_heads * self.hd, bias=qkv_bias)
        self.wo = torch.nn.Linear(heads * self.hd, d, bias=False)
        self.w1 = torch.nn.Linear(d, mlp, bias=False)
        self.w2 = torch.nn.Linear(mlp, d, bias=False)
        self.w3 = torch.nn.Linear(d, mlp, bias=False)

    def forward(self, x, cos, sin, mask, cache=None, start=0):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.kvh, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.kvh, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if cache is not None:
            cache[0][:, :, start:start + T] = k
            cache[1][:, :, start:start + T] = v
            k, v = cache[0][:, :, :start + T], cache[1][:, :, :start + T]
        if self.trainer_attention:
            y = self.attention_as_trainer(q, k, v, mask)
        else:
            y = self.attention(q, k, v, mask)
        x = x + self.wo(y.transpose(1, 2).reshape(B, T, -1))
        h = self.mlp_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))

    def attention(self, q, k, v, mask):
        if self.kvh != self.h:
            k = k.repeat_interleave(self.h // self.kvh, dim=1)
            v = v.repeat_interleave(self.h // self.kvh, dim=1)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.hd) + mask, -1)
        return att @ v  # (B, H, T, hd)

    def attention_as_trainer(self, q, k, v, mask):  # trainer/model.cpp, AttentionImpl::forward
        B, T, S = q.shape[0], q.shape[2], k.shape[2]
        if self.kvh != self.h:  # each kv head serves h / kvh query heads
            rep = self.h // self.kvh
            k = k.unsqueeze(2).expand(B, self.kvh, rep, S, self.hd).reshape(B, self.h, S, self.hd)
            v = v.unsqueeze(2).expand(B, self.kvh, rep, S, self.hd).reshape(B, self.h, S, self.hd)
        scale = 1.0 / math.sqrt(self.hd)
        if T == 1:  # decoding one token: broadcast multiply-and-sum instead of B * H tiny GEMMs
            att = (q * k).sum(-1).unsqueeze(2) * scale  # (B, H, 1, S)
            att = torch.softmax(att + mask, -1)
            return (att.transpose(-1, -2) * v).sum(-2, keepdim=True)  # (B, H, 1, hd)
        att = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * scale + mask, -1)
        return torch.matmul(att, v)  # (B, H, T, hd)


class Model(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, kv_heads, mlp, context, head_dim=0, qkv_bias=False, tie=True,
                 rope_base=10000.0, eps=1e-5, as_trainer=False):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, kv_heads, mlp, head_dim, qkv_bias, eps, as_trainer)
                                          for _ in range(layers))
        self.norm = RMSNorm(d, eps)
        self.lm_head = None if tie else torch.nn.Linear(d, vocab, bias=False)
        for n, p in self.named_parameters():
            if "norm" not in n:
                if n.endswith(".bias"):  # as grpo-train's random init: biases 0
                    torch.nn.init.zeros_(p)
                    continue
                std = 0.02 / math.sqrt(2 * layers) if n.endswith(("wo.weight", "w2.weight")) else 0.02
                torch.nn.init.normal_(p, 0.0, std)
        hd = head_dim or d // heads
        inv = rope_base ** (-torch.arange(0, hd // 2, dtype=torch.float64) / (hd // 2))
        ang = torch.outer(torch.arange(context, dtype=torch.float64), inv)
        self.cos, self.sin = ang.cos().float(), ang.sin().float()
        self.layers, self.kvh, self.hd = layers, kv_heads, hd

    def forward(self, tokens, positions, key_valid, cache=None, start=0):
        """tokens (B, T); positions (B, T); key_valid (B, S) for the S = start + T attended keys."""
        return self.head(self.hidden(tokens, positions, key_valid, cache, start))

    def head(self, h):  # final hidden states (..., C) -> logits (..., V)
        if self.lm_head is not None:
            return self.lm_head(h)
        return h @ self.emb.weight.t()  # tied output head

    def hidden(self, tokens, positions, key_valid, cache=None, start=0):
        B, T = tokens.shape
        S = start + T
        cos, sin = self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)
        q_idx = torch.arange(start, S).view(T, 1)
        k_idx = torch.arange(S).view(1, S)
        allowed = ((k_idx <= q_idx).unsqueeze(0) & key_valid.unsqueeze(1)) | (k_idx == q_idx).unsqueeze(0)
        mask = torch.zeros(B, 1, T, S).masked_fill(~allowed.unsqueeze(1), float("-inf"))
        x = self.emb(tokens)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, mask, None if cache is None else cache[i], start)
        return self.norm(x)


@torch.no_grad()
def generate(model, prompts, max_new, temperature):
    B, P = len(prompts), max(len(p) for p in prompts)
    prompt = torch.full((B, P), PAD, dtype=torch.long)
    valid = torch.zeros(B, P, dtype=torch.bool)
    for b, p in enumerate(prompts):
        prompt[b, P - len(p):] = torch.tensor(p)
        valid[b, P - len(p):] = True
    cap = P + max_new
    cache = [(torch.zeros(B, model.kvh, cap, model.hd), torch.zeros(B, model.kvh, cap, model.hd))
             for _ in range(model.layers)]
    key_valid = torch.zeros(B, cap, dtype=torch.bool)
    key_valid[:, :P] = valid
    positions = (valid.long().cumsum(1) - 1).clamp(min=0)
    logits = model(prompt, positions, key_valid[:, :P], cache, 0)[:, -1]
    next_pos = valid.sum(1)
    out = torch.full((B, max_new), PAD, dtype=torch.long)
    finished = torch.zeros(B, dtype=torch.bool)
    lengths = torch.zeros(B, dtype=torch.long)
    for t in range(max_new):
        logits[:, PAD] = float("-inf")
        tok = torch.multinomial(torch.softmax(logits / temperature, -1), 1).squeeze(1)
        tok = torch.where(finished, torch.full_like(tok, PAD), tok)
        out[:, t] = tok
        lengths += (~finished).long()
        finished |= tok == EOS
        if t + 1 == max_new or bool(finished.all()):
            break
        key_valid[:, P + t] = True
        logits = model(tok.view(B, 1), next_pos.view(B, 1), key_valid[:, :P + t + 1], cache, P + t)[:, -1]
        next_pos += 1
    mask = (torch.arange(max_new).view(1, -1) < lengths.view(-1, 1)).float()
    return prompt, valid, out, mask, lengths


def token_logp(model, prompt, valid, completion, temperature):
    P, L = prompt.shape[1], completion.shape[1]
    tokens = torch.cat([prompt, completion], 1)
    kv = torch.cat([valid, torch.ones_like(completion, dtype=torch.bool)], 1)
    positions = (kv.long().cumsum(1) - 1).clamp(min=0)
    logits = model(tokens, positions, kv)[:, P - 1:P - 1 + L] / temperature
    return torch.log_softmax(logits, -1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def generate_as_trainer(model, prompts, max_new, temperature, eos, pad, sampled_vocab):
    """trainer/sampler.cpp's generate(): prefill, then one token per step for every row, sampled with
    exponential noise; the output head only at the positions sampled from."""
    B, P = len(prompts), max(len(p) for p in prompts)
    prompt = torch.full((B, P), pad, dtype=torch.long)
    valid = torch.zeros(B, P, dtype=torch.bool)
    for b, p in enumerate(prompts):
        prompt[b, P - len(p):] = torch.tensor(p)
        valid[b, P - len(p):] = True
    cap = P + max_new
    cache = [(torch.zeros(B, model.kvh, cap, model.hd), torch.zeros(B, model.kvh, cap, model.hd))
             for _ in range(model.layers)]
    key_valid = torch.zeros(B, cap, dtype=torch.bool)
    key_valid[:, :P] = valid
    positions = (valid.long().cumsum(1) - 1).clamp(min=0)
    logits = model.head(model.hidden(prompt, positions, key_valid[:, :P], cache, 0)[:, P - 1])  # (B, V)
    next_pos = valid.sum(1)
    out = torch.full((B, max_new), pad, dtype=torch.long)
    finished = torch.zeros(B, dtype=torch.bool)
    lengths = torch.zeros(B, dtype=torch.long)
    never = [] if pad in eos else [pad]  # a PAD that is not an end of sequence is never sampled
    for t in range(max_new):
        l = logits.clone()
        for i in never:
            l[:, i] = float("-inf")
        V = l.shape[1]
        if 0 < sampled_vocab < V:
            l[:, sampled_vocab:] = float("-inf")  # embedding rows without a token
        probs = torch.softmax(l / temperature, -1)
        q = torch.empty_like(probs).exponential_(1)
        tok = (probs / q).argmax(-1)
        tok = torch.where(finished, torch.full_like(tok, pad), tok)
        out[:, t] = tok
        lengths += (~finished).long()
        for e in eos:
            finished = finished | (tok == e)
        if t + 1 == max_new or bool(finished.all()):
            break
        key_valid[:, P + t] = True
        logits = model(tok.view(B, 1), next_pos.view(B, 1), key_valid[:, :P + t + 1], cache, P + t).squeeze(1)
        next_pos += 1
    mask = (torch.arange(max_new).view(1, -1) < lengths.view(-1, 1)).float()
    return prompt, valid, out, mask, lengths


def token_scores_as_trainer(model, prompt, valid, completion, temperature, with_entropy):
    """trainer/sampler.cpp's score_completions(): one forward, the head only at the L positions that
    predict completion tokens; log-probs of the tokens and (detached) entropies."""
    P, L = prompt.shape[1], completion.shape[1]
    tokens = torch.cat([prompt, completion], 1)
    kv = torch.cat([valid, torch.ones_like(completion, dtype=torch.bool)], 1)
    positions = (kv.long().cumsum(1) - 1).clamp(min=0)
    h = model.hidden(tokens, positions, kv)
    logp_all = torch.log_softmax(model.head(h[:, P - 1:P - 1 + L]) / temperature, -1)  # (B, L, V)
    logp = logp_all.gather(-1, completion.unsqueeze(-1)).squeeze(-1)
    entropy = None
    if with_entropy:
        with torch.no_grad():
            lp = logp_all.detach()
            entropy = -(lp.exp() * lp).sum(-1)
    return logp, entropy


def decode_any(ids):  # ids outside the char alphabet (a large vocab) read as '?'
    return "".join(ALPHABET[i - 1] if 1 < i <= len(ALPHABET) else "?" for i in ids)


def step_as_trainer(a, model, ref, opt, problems, G, temp, eps):
    """One GRPO step as trainer/grpo_step.cpp does it (mu = 1). Returns (generated tokens, generation s,
    trained tokens, training s)."""
    prompts = [encode(f"Q:{x}+{y}=") for x, y in problems for _ in range(G)]
    t0 = time.perf_counter()
    prompt, valid, comp, mask, lengths = generate_as_trainer(model, prompts, a.max_new, temp, a.eos, a.pad,
                                                             a.sampled_vocab)
    gen_tokens = int(lengths.sum())
    r = torch.tensor([reward(decode_any(comp[b, :int(lengths[b])].tolist()), str(sum(problems[b // G])))
                      for b in range(len(prompts))]).view(-1, G)
    gen_s = time.perf_counter() - t0
    agree = r.max(1, keepdim=True).values == r.min(1, keepdim=True).values
    centered = r - r.mean(1, keepdim=True)
    adv = torch.where(agree, torch.zeros_like(centered), centered / (r.std(1, keepdim=True) + 1e-4)).view(-1)
    old_is_current = a.minibatches == 1
    old = ref_lp = None
    with torch.no_grad():  # grpo-train's time/scoring: outside both timers
        if not old_is_current:
            old = token_scores_as_trainer(model, prompt, valid, comp, temp, False)[0]
        if a.beta > 0:
            ref_lp = token_scores_as_trainer(ref, prompt, valid, comp, temp, False)[0]
    t0 = time.perf_counter()
    trained = 0
    rows = len(prompts) // a.minibatches
    for mb in range(a.minibatches):
        s = slice(mb * rows, (mb + 1) * rows)
        m = mask[s]
        opt.zero_grad()
        logp, entropy = token_scores_as_trainer(model, prompt[s], valid[s], comp[s], temp, True)
        o = logp.detach() if old_is_current else old[s]
        ratio = torch.exp(logp - o)
        A = adv[s, None]
        objective = torch.min(ratio * A, ratio.clamp(1 - eps, 1 + eps) * A)
        if a.beta > 0:
            log_ratio = ref_lp[s] - logp
            kl = torch.exp(log_ratio) - log_ratio - 1
            objective = objective - a.beta * kl
        else:
            kl = torch.zeros_like(logp)
        loss = -((objective * m).sum(1) / m.sum(1).clamp(min=1)).mean()  # sequence-mean
        with torch.no_grad():  # the loss's own statistics, as grpo_loss() reports them
            n = max(float(m.sum()), 1.0)
            low, high = (ratio < 1 - eps) & (A < 0), (ratio > 1 + eps) & (A > 0)
            _ = [float((x.to(m.dtype) * m).sum()) / n for x in (low, high, low | high)] + [float((kl * m).sum()) / n]
        ntok = float(m.sum())
        trained += int(ntok) + int(valid[s].sum())
        _ = float((entropy * m).sum())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        _ = float(loss)
    train_s = time.perf_counter() - t0
    return gen_tokens, gen_s, trained, train_s


def reward(text, answer):
    m = re.fullmatch(r"<think>(.*)</think><answer>(.*)</answer>", text, re.S)
    return (1.0 if m and m.group(2).strip() == answer else 0.0) + (0.1 if m else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="0: as many as --heads")
    ap.add_argument("--mlp", type=int, default=176)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new", "--max-new-tokens", dest="max_new", type=int, default=109)
    ap.add_argument("--minibatches", type=int, default=2)
    ap.add_argument("--beta", type=float, default=0.02)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    shape = ap.add_argument_group("the shape of a real model (defaults: the built-in model's)")
    shape.add_argument("--vocab", type=int, default=0, help="embedding rows; 0: the built-in alphabet's %d"
                       % (len(ALPHABET) + 1))
    shape.add_argument("--head-dim", type=int, default=0, help="0: d_model / heads")
    shape.add_argument("--qkv-bias", action="store_true", help="biases on q, k and v (Qwen2)")
    shape.add_argument("--tie", action=argparse.BooleanOptionalAction, default=True,
                       help="the output head is the embedding (default: tied)")
    shape.add_argument("--rope-base", type=float, default=10000.0)
    shape.add_argument("--norm-eps", type=float, default=1e-5)
    shape.add_argument("--context", type=int, default=192, help="rotary table length: longest prompt + completion")
    tr = ap.add_argument_group("the step as grpo-train does it (see the top of this file)")
    tr.add_argument("--as-trainer", action="store_true")
    tr.add_argument("--eos", type=lambda v: [int(x) for x in v.split(",")], default=[EOS],
                    help="end-of-sequence ids, comma-separated (default %d)" % EOS)
    tr.add_argument("--pad", type=int, default=PAD)
    tr.add_argument("--sampled-vocab", type=int, default=0,
                    help="ids from here on are never sampled (the tokenizer's size); 0: every id")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    vocab = a.vocab or len(ALPHABET) + 1
    shape_kw = dict(head_dim=a.head_dim, qkv_bias=a.qkv_bias, tie=a.tie, rope_base=a.rope_base, eps=a.norm_eps,
                    as_trainer=a.as_trainer)
    model = Model(vocab, a.d_model, a.layers, a.heads, a.kv_heads or a.heads, a.mlp, a.context, **shape_kw)
    ref = None
    if not a.as_trainer or a.beta > 0:  # grpo-train holds no reference policy when beta is 0
        ref = Model(vocab, a.d_model, a.layers, a.heads, a.kv_heads or a.heads, a.mlp, a.context, **shape_kw)
        ref.load_state_dict(model.state_dict())
        ref.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.99), weight_decay=0.0)
    G, temp, eps = a.group, 1.0, 0.2
    gen_rates, train_rates, step_times = [], [], []
    gen_times, train_times, gen_counts, train_counts = [], [], [], []
    for step in range(1, a.steps + 1):
        t_step = time.perf_counter()
        problems = [(rng.randint(10000, 49999), rng.randint(10000, 49999)) for _ in range(a.prompts)]
        if a.as_trainer:
            gen_tokens, gen_s, trained, train_s = step_as_trainer(a, model, ref, opt, problems, G, temp, eps)
            if step > 1:
                gen_rates.append(gen_tokens / gen_s)
                train_rates.append(trained / train_s)
                step_times.append(time.perf_counter() - t_step)
                gen_times.append(gen_s)
                train_times.append(train_s)
                gen_counts.append(gen_tokens)
                train_counts.append(trained)
            continue
        prompts = [encode(f"Q:{x}+{y}=") for x, y in problems for _ in range(G)]
        t0 = time.perf_counter()
        prompt, valid, comp, mask, lengths = generate(model, prompts, a.max_new, temp)
        gen_s = time.perf_counter() - t0
        gen_tokens = int(lengths.sum())
        r = torch.tensor([reward(decode(comp[b, :int(lengths[b])].tolist()), str(sum(problems[b // G])))
                          for b in range(len(prompts))]).view(-1, G)
        adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)
        with torch.no_grad():
            old = token_logp(model, prompt, valid, comp, temp)
            ref_lp = token_logp(ref, prompt, valid, comp, temp)
        t0 = time.perf_counter()
        trained = 0
        rows = len(prompts) // a.minibatches
        for mb in range(a.minibatches):
            s = slice(mb * rows, (mb + 1) * rows)
            m = mask[s]
            logp = token_logp(model, prompt[s], valid[s], comp[s], temp)
            ratio = torch.exp(logp - old[s])
            surr = torch.min(ratio * adv[s, None], ratio.clamp(1 - eps, 1 + eps) * adv[s, None])
            kl = torch.exp(ref_lp[s] - logp) - (ref_lp[s] - logp) - 1
            per_tok = -(surr - a.beta * kl)
            loss = ((per_tok * m).sum(1) / m.sum(1).clamp(min=1)).mean()  # sequence-mean
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            trained += int(m.sum()) + int(valid[s].sum())
        train_s = time.perf_counter() - t0
        if step > 1:
            gen_rates.append(gen_tokens / gen_s)
            train_rates.append(trained / train_s)
            step_times.append(time.perf_counter() - t_step)
    params = sum(p.numel() for p in model.parameters())
    out = {"impl": "python", "d_model": a.d_model, "layers": a.layers, "parameters": params,
           "gen_tokens_per_s": sum(gen_rates) / len(gen_rates),
           "train_tokens_per_s": sum(train_rates) / len(train_rates),
           "step_s": sum(step_times) / len(step_times)}
    if a.as_trainer:  # means over the steps after the first, as above
        mean = lambda xs: sum(xs) / len(xs)
        out.update({"as_trainer": True, "vocab": vocab, "prompts": a.prompts, "group": G, "max_new_tokens": a.max_new,
                    "minibatches": a.minibatches, "beta": a.beta, "steps": a.steps,
                    "gen_s": mean(gen_times), "train_s": mean(train_times),
                    "gen_tokens": mean(gen_counts), "train_tokens": mean(train_counts)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
