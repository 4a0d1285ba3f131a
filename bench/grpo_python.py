#!/usr/bin/python3
"""The alternative a user would write: the same model and the same GRPO step as grpo-train, in Python on
PyTorch (Debian's python3-torch, the same LibTorch 1.13), with a KV cache, batched sampling and the same
work per step (rollout, old and reference log-probs, minibatched update, AdamW). Prints one JSON line with
mean generation and training tokens/s over the steps after the first, measured as grpo-train measures
them (docs/performance.md), and medians of the step's phases. Random init, so every completion runs to
max_new_tokens on both sides; --min-new-tokens N (any mode) masks the end-of-sequence ids before N tokens,
N = --max-new-tokens gives every completion that length.

    /usr/bin/python3 bench/grpo_python.py --d-model 64 --layers 3 --heads 4 --mlp 176 --steps 6

The shape of a real model (bench/qwen_shape.sh: Qwen2.5-0.5B's 896 hidden, 24 layers, 14 query and 2 key/value
heads, 4864 MLP, a 151936-row tied embedding, q/k/v biases) takes --vocab, --kv-heads, --head-dim, --qkv-bias,
--tie/--no-tie, --rope-base and --norm-eps. Prompts stay the built-in arithmetic prompts in the char alphabet
(ids < 34, valid in any vocab). --as-trainer does the step as grpo-train did it before the sampler recorded
π_old (trainer/sampler.cpp, trainer/grpo_step.cpp, trainer/model.cpp), with the same shortcuts:
  - decoding attention (one new token) as a broadcast multiply-and-sum over the cache, grouped-query heads
    by expand + reshape; prompts and training through matmul;
  - the output head only where logits are used: the last prompt position when prefilling, the L positions
    that predict completion tokens when scoring (not all P + L);
  - sampling as the trainer's: ids from --sampled-vocab on masked (a padded embedding's rows with no token),
    PAD masked unless it ends a sequence, softmax(l / T), then argmax(p / q) with q ~ Exp(1); any --eos id
    ends a row; rewards are scored inside the rollout's timer (gen_s: grpo-train's time/generation plus
    time/rewards);
  - with --minibatches 1 (one pass) the old log-probs are the training forward's own, detached, so no
    separate pass; with --beta 0 no reference model and no reference pass;
  - the entropy of every position in the training forward (what grpo-train records), the clipped loss with
    sequence-mean aggregation, its clip fractions, gradient clipping at 1, AdamW.
--fair (implies --as-trainer) is the step as grpo-train does it now:
  - π_old's log-probs recorded by the sampler at each token (grpo.old_logp = "sampler"): log_softmax(l / T)
    of the unmasked logits at the sampled id, 0 for finished rows; with --minibatches 1 the update's own
    first forward serves, as above; so no separate old pass at all;
  - every 8 decode steps the finished rows leave the batch and the KV cache, while the sampling noise is
    still drawn for the whole batch (so no token changes); completions as wide as the longest row; the
    decoding mask is the cache's own additive key bias, not rebuilt each token;
  - step 1 (before the first update of a fresh run) skips the reference pass: π_ref = π_old;
  - generation and the old/reference passes under torch.inference_mode().
--as-trainer and --fair run with grpo-train's process settings (trainer/runtime.cpp): glibc malloc's mmap
threshold at 32 MiB, trim threshold 1 GiB, top pad 64 MiB, and OpenBLAS's pool at one thread. glibc and
OpenBLAS read these from the environment when they load, so the script re-executes itself with
MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_ and OPENBLAS_NUM_THREADS set (values
already in the environment are kept). Without either flag the step is the one docs/performance.md
measures, unchanged and untuned (torch.set_num_threads(--threads) only).
--check samples once on a tiny model and checks that --fair's recorded log-probs equal a separate scoring
pass's (within 1e-5), that compacting the batch changes no token, and that --min-new-tokens works.

    /usr/bin/python3 bench/grpo_python.py --as-trainer --d-model 896 --layers 24 --heads 14 --kv-heads 2 \
        --mlp 4864 --vocab 151936 --qkv-bias --tie --rope-base 1e6 --norm-eps 1e-6 --prompts 2 --group 4 \
        --max-new-tokens 32 --minibatches 1 --beta 0 --steps 2 --eos 151645,151643 --pad 151643 \
        --sampled-vocab 151669
"""
import os
import sys

# grpo-train's allocator and BLAS settings (see above), applied by re-executing before torch is imported.
TUNED_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "1073741824",
             "MALLOC_TOP_PAD_": "67108864", "OPENBLAS_NUM_THREADS": "1"}
if __name__ == "__main__" and {"--fair", "--as-trainer"} & set(sys.argv[1:]) and \
        any(k not in os.environ for k in TUNED_ENV):
    os.execve(sys.executable, [sys.executable] + sys.argv, {**TUNED_ENV, **os.environ})

import argparse
import json
import math
import random
import re
import statistics
import time

import torch
import torch.nn.functional as F

ALPHABET = "\n0123456789+*=:,<>/ Qacehiknorstw"  # grpo-train's built-in alphabet; id 0 is PAD
PAD, EOS = 0, 1
STOI = {c: i + 1 for i, c in enumerate(ALPHABET)}
COMPACT_EVERY = 8  # trainer/sampler.cpp's kCompactEvery


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
    def __init__(self, d, heads, kv_heads, mlp, head_dim=0, qkv_bias=False, eps=1e-5, trainer_attention=False,
                 fused=False):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, head_dim or d // heads
        self.trainer_attention, self.fused = trainer_attention, fused
        self.attn_norm, self.mlp_norm = RMSNorm(d, eps), RMSNorm(d, eps)
        if fused:  # --fused: q/k/v as one GEMM, gate/up as one GEMM (grpo-train stores them separately)
            self.wqkv = torch.nn.Linear(d, (heads + 2 * kv_heads) * self.hd, bias=qkv_bias)
            self.w13 = torch.nn.Linear(d, 2 * mlp, bias=False)
        else:
            self.wq = torch.nn.Linear(d, heads * self.hd, bias=qkv_bias)
            self.wk = torch.nn.Linear(d, kv_heads * self.hd, bias=qkv_bias)
            self.wv = torch.nn.Linear(d, kv_heads * self.hd, bias=qkv_bias)
            self.w1 = torch.nn.Linear(d, mlp, bias=False)
            self.w3 = torch.nn.Linear(d, mlp, bias=False)
        self.wo = torch.nn.Linear(heads * self.hd, d, bias=False)
        self.w2 = torch.nn.Linear(mlp, d, bias=False)

    def forward(self, x, cos, sin, mask, cache=None, start=0):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        if self.fused:
            q, k, v = self.wqkv(h).split([self.h * self.hd, self.kvh * self.hd, self.kvh * self.hd], -1)
        else:
            q, k, v = self.wq(h), self.wk(h), self.wv(h)
        q = q.reshape(B, T, self.h, self.hd).transpose(1, 2)
        k = k.reshape(B, T, self.kvh, self.hd).transpose(1, 2)
        v = v.reshape(B, T, self.kvh, self.hd).transpose(1, 2)
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
        if self.fused:
            g, u = self.w13(h).chunk(2, -1)
            return x + self.w2(F.silu(g) * u)
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
                 rope_base=10000.0, eps=1e-5, as_trainer=False, fused=False):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, kv_heads, mlp, head_dim, qkv_bias, eps, as_trainer, fused)
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

    def forward(self, tokens, positions, key_valid, cache=None, start=0, key_bias=None):
        """tokens (B, T); positions (B, T); key_valid (B, S) for the S = start + T attended keys."""
        return self.head(self.hidden(tokens, positions, key_valid, cache, start, key_bias))

    def head(self, h):  # final hidden states (..., C) -> logits (..., V)
        if self.lm_head is not None:
            return self.lm_head(h)
        return h @ self.emb.weight.t()  # tied output head

    def hidden(self, tokens, positions, key_valid, cache=None, start=0, key_bias=None):
        """key_bias (B, >= S), decoding one token only: the cache's additive key mask (0 on real tokens,
        -inf elsewhere), kept by the caller as trainer/model.cpp's KVCache::key_bias, instead of a mask
        built from key_valid."""
        B, T = tokens.shape
        S = start + T
        cos, sin = self.cos[positions].unsqueeze(1), self.sin[positions].unsqueeze(1)
        if key_bias is not None:
            mask = key_bias[:, :S].clone()
            mask[:, start] = 0.0  # the query itself
            mask = mask.view(B, 1, 1, S)
        else:
            q_idx = torch.arange(start, S).view(T, 1)
            k_idx = torch.arange(S).view(1, S)
            allowed = ((k_idx <= q_idx).unsqueeze(0) & key_valid.unsqueeze(1)) | (k_idx == q_idx).unsqueeze(0)
            mask = torch.zeros(B, 1, T, S).masked_fill(~allowed.unsqueeze(1), float("-inf"))
        x = self.emb(tokens)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, mask, None if cache is None else cache[i], start)
        return self.norm(x)


@torch.no_grad()
def generate(model, prompts, max_new, min_new, temperature):
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
        if t < min_new:
            logits[:, EOS] = float("-inf")
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


def prefill(model, prompts, max_new, pad):
    """trainer/sampler.cpp's generate() up to the first token: the prompts left-padded (every row's last
    prompt token at column P - 1) into a KV cache for P + max_new positions, the output head only at P - 1.
    Returns prompt, valid (B, P), the cache, key_valid (B, P + max_new), logits (B, V), next positions (B)."""
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
    return prompt, valid, cache, key_valid, logits, valid.sum(1)


def pick(logits, temperature, masked, sampled_vocab, batch_rows, rows=None):
    """trainer/sampler.cpp's pick(): the ids in `masked` and those from sampled_vocab on never sampled,
    softmax(l / T), then argmax(p / q) with q ~ Exp(1) drawn for all batch_rows rows of the batch, of
    which `rows` (when given) are the logits' rows."""
    l = logits.clone()
    for i in masked:
        l[:, i] = float("-inf")
    V = l.shape[1]
    if 0 < sampled_vocab < V:
        l[:, sampled_vocab:] = float("-inf")  # embedding rows without a token
    probs = torch.softmax(l / temperature, -1)
    q = torch.empty(batch_rows, V).exponential_(1)
    if rows is not None:
        q = q.index_select(0, rows)
    return (probs / q).argmax(-1)


@torch.no_grad()
def generate_as_trainer(model, prompts, max_new, min_new, temperature, eos, pad, sampled_vocab):
    """trainer/sampler.cpp's generate() before it recorded log-probs: prefill, then one token per step for
    every row, finished ones fed PAD, sampled with exponential noise; the output head only at the positions
    sampled from. The completions are max_new wide."""
    B = len(prompts)
    prompt, valid, cache, key_valid, logits, next_pos = prefill(model, prompts, max_new, pad)
    P = prompt.shape[1]
    out = torch.full((B, max_new), pad, dtype=torch.long)
    finished = torch.zeros(B, dtype=torch.bool)
    lengths = torch.zeros(B, dtype=torch.long)
    never = [] if pad in eos else [pad]  # a PAD that is not an end of sequence is never sampled
    for t in range(max_new):
        tok = pick(logits, temperature, never + (eos if t < min_new else []), sampled_vocab, B)
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


def generate_fair(model, prompts, max_new, min_new, temperature, eos, pad, sampled_vocab, compact=True):
    """trainer/sampler.cpp's generate() as it is now (call it under inference mode): generate_as_trainer's
    sampling, plus π_old's log-probs recorded at each token, log_softmax(l / T) of the unmasked logits at
    the sampled id (0 for finished rows); every COMPACT_EVERY steps the finished rows leave the batch and
    the cache, their noise still drawn (compact=False keeps them, for --check). Returns prompt, valid,
    completion, mask and log-probs (B, longest row) and lengths (B)."""
    B = len(prompts)
    prompt, valid, cache, key_valid, logits, next_pos = prefill(model, prompts, max_new, pad)
    P = prompt.shape[1]
    key_bias = torch.full(key_valid.shape, float("-inf")).masked_fill(key_valid, 0.0)  # (n, P + max_new)
    idx = torch.arange(B)  # (n): the batch rows still decoding; logits, next_pos, fin, the cache: theirs
    fin = torch.zeros(B, dtype=torch.bool)  # (n)
    out = torch.full((B, max_new), pad, dtype=torch.long)
    logp = torch.zeros(B, max_new)
    lengths = torch.zeros(B, dtype=torch.long)
    never = [] if pad in eos else [pad]
    steps = 0
    for t in range(max_new):
        n = idx.shape[0]
        tok = pick(logits, temperature, never + (eos if t < min_new else []), sampled_vocab, B,
                   None if n == B else idx)  # noise for the whole batch, each row takes its own
        steps += 1
        tok = torch.where(fin, torch.full_like(tok, pad), tok)
        out[:, t].index_copy_(0, idx, tok)
        lp = torch.log_softmax(logits / temperature, -1).gather(1, tok.view(n, 1)).squeeze(1)  # (n)
        logp[:, t].index_copy_(0, idx, lp.masked_fill(fin, 0.0))
        lengths.index_add_(0, idx, (~fin).long())
        for e in eos:
            fin = fin | (tok == e)
        if t + 1 == max_new or bool(fin.all()):
            break
        if compact and (t + 1) % COMPACT_EVERY == 0 and bool(fin.any()):
            keep = (~fin).nonzero().squeeze(1)  # (n')
            idx, next_pos, tok, fin, key_valid, key_bias = (x.index_select(0, keep)
                                                            for x in (idx, next_pos, tok, fin, key_valid, key_bias))
            cache = [(k.index_select(0, keep), v.index_select(0, keep)) for k, v in cache]
        m = idx.shape[0]
        key_valid[:, P + t] = True
        key_bias[:, P + t] = 0.0
        logits = model(tok.view(m, 1), next_pos.view(m, 1), key_valid[:, :P + t + 1], cache, P + t,
                       key_bias).squeeze(1)
        next_pos += 1
    mask = (torch.arange(steps).view(1, -1) < lengths.view(-1, 1)).float()
    return prompt, valid, out[:, :steps].contiguous(), mask, logp[:, :steps].contiguous(), lengths


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


def step_as_trainer(a, model, ref, opt, problems, G, temp, eps, ref_is_old):
    """One GRPO step as trainer/grpo_step.cpp does it (mu = 1); with a.fair as it does it now, where
    ref_is_old (step 1 of a fresh run) makes π_ref = π_old. Returns the step's counts and timings."""
    prompts = [encode(f"Q:{x}+{y}=") for x, y in problems for _ in range(G)]
    t0 = time.perf_counter()
    if a.fair:
        with torch.inference_mode():
            prompt, valid, comp, mask, sampled_logp, lengths = generate_fair(
                model, prompts, a.max_new, a.min_new, temp, a.eos, a.pad, a.sampled_vocab)
        # Tensors made under inference mode cannot be saved for backward: the training forward gathers at
        # the completion ids, and the loss is multiplied by the mask.
        comp, mask = comp.clone(), mask.clone()
    else:
        prompt, valid, comp, mask, lengths = generate_as_trainer(model, prompts, a.max_new, a.min_new, temp, a.eos,
                                                                 a.pad, a.sampled_vocab)
    gen_tokens = int(lengths.sum())
    t_rewards = time.perf_counter()
    r = torch.tensor([reward(decode_any(comp[b, :int(lengths[b])].tolist()), str(sum(problems[b // G])))
                      for b in range(len(prompts))]).view(-1, G)
    reward_s = time.perf_counter() - t_rewards
    gen_s = time.perf_counter() - t0
    agree = r.max(1, keepdim=True).values == r.min(1, keepdim=True).values
    centered = r - r.mean(1, keepdim=True)
    adv = torch.where(agree, torch.zeros_like(centered), centered / (r.std(1, keepdim=True) + 1e-4)).view(-1)
    old_is_current = a.minibatches == 1
    old = ref_lp = None
    t0 = time.perf_counter()
    with torch.inference_mode() if a.fair else torch.no_grad():  # grpo-train's time/scoring
        if not old_is_current:
            old = sampled_logp if a.fair else token_scores_as_trainer(model, prompt, valid, comp, temp, False)[0]
        if a.beta > 0 and not ref_is_old:
            ref_lp = token_scores_as_trainer(ref, prompt, valid, comp, temp, False)[0]
    score_s = time.perf_counter() - t0
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
            log_ratio = (o if ref_is_old else ref_lp[s]) - logp
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
    return dict(gen_tokens=gen_tokens, gen_s=gen_s, reward_s=reward_s, score_s=score_s, trained=trained,
                train_s=train_s, decode_steps=int(lengths.max()))


def step_untuned(a, model, ref, opt, problems, G, temp, eps):
    """One GRPO step as a user writes it first (docs/performance.md's Python side). Returns the step's counts
    and timings, as step_as_trainer."""
    prompts = [encode(f"Q:{x}+{y}=") for x, y in problems for _ in range(G)]
    t0 = time.perf_counter()
    prompt, valid, comp, mask, lengths = generate(model, prompts, a.max_new, a.min_new, temp)
    t_rewards = time.perf_counter()
    gen_tokens = int(lengths.sum())
    r = torch.tensor([reward(decode(comp[b, :int(lengths[b])].tolist()), str(sum(problems[b // G])))
                      for b in range(len(prompts))]).view(-1, G)
    reward_s = time.perf_counter() - t_rewards
    gen_s = time.perf_counter() - t0
    adv = ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)
    t0 = time.perf_counter()
    with torch.no_grad():
        old = token_logp(model, prompt, valid, comp, temp)
        ref_lp = token_logp(ref, prompt, valid, comp, temp)
    score_s = time.perf_counter() - t0
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
    return dict(gen_tokens=gen_tokens, gen_s=gen_s, reward_s=reward_s, score_s=score_s, trained=trained,
                train_s=train_s, decode_steps=int(lengths.max()))


def reward(text, answer):
    m = re.fullmatch(r"<think>(.*)</think><answer>(.*)</answer>", text, re.S)
    return (1.0 if m and m.group(2).strip() == answer else 0.0) + (0.1 if m else 0.0)


def check():
    """--check: on a tiny model whose rows end at different steps (some before the first compaction), the
    log-probs --fair records while sampling equal a separate scoring pass's, sampling with and without
    compaction gives the same tokens for one seed, and --min-new-tokens = --max-new-tokens fixes the lengths."""
    torch.manual_seed(0)
    model = Model(len(ALPHABET) + 1, 32, 2, 2, 2, 64, 192, as_trainer=True)
    rng = random.Random(0)
    problems = [encode(f"Q:{rng.randint(10000, 49999)}+{rng.randint(10000, 49999)}=") for _ in range(8)]
    prompts = [p for p in problems for _ in range(8)]  # 8 groups of 8
    max_new, temp = 40, 0.8

    def sample(min_new, compact):
        torch.manual_seed(1)
        with torch.inference_mode():
            return generate_fair(model, prompts, max_new, min_new, temp, [EOS], PAD, 0, compact)

    prompt, valid, comp, mask, logp, lengths = sample(0, True)
    assert lengths.min() < COMPACT_EVERY < lengths.max(), f"no compaction to check: lengths {lengths.tolist()}"
    with torch.inference_mode():
        scored = token_scores_as_trainer(model, prompt, valid, comp, temp, False)[0] * mask
    err = float((logp - scored).abs().max())
    assert err <= 1e-5, f"recorded log-probs differ from the scoring pass's by {err:.3g}"
    _, _, comp_all, _, logp_all, lengths_all = sample(0, False)
    assert torch.equal(comp, comp_all) and torch.equal(lengths, lengths_all), "compaction changed the tokens"
    err_all = float((logp - logp_all).abs().max())
    assert err_all <= 1e-5, f"compaction changed the recorded log-probs by {err_all:.3g}"
    fixed = sample(max_new, True)[5]
    assert bool((fixed == max_new).all()), f"--min-new-tokens {max_new}: lengths {fixed.tolist()}"
    print(f"OK: {len(prompts)} rows, lengths {int(lengths.min())}-{int(lengths.max())}; recorded vs scored "
          f"log-probs max |diff| {err:.2g}; with compaction vs without: tokens identical, log-probs max |diff| "
          f"{err_all:.2g}; --min-new-tokens {max_new}: every row {max_new} tokens")


def main():
    # No abbreviated options: --fair and --as-trainer are matched exactly before torch is imported.
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=0, help="0: as many as --heads")
    ap.add_argument("--mlp", type=int, default=176)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new", "--max-new-tokens", dest="max_new", type=int, default=109)
    ap.add_argument("--min-new-tokens", dest="min_new", type=int, default=0,
                    help="end-of-sequence is not sampled before this many tokens (= --max-new-tokens: fixed lengths)")
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
    tr.add_argument("--fair", action="store_true", help="as grpo-train does it now (implies --as-trainer)")
    tr.add_argument("--fused", action="store_true",
                    help="q/k/v and gate/up stored fused (one GEMM each; grpo-train keeps them separate)")
    tr.add_argument("--check", action="store_true", help="check --fair's sampler on a tiny model and exit")
    tr.add_argument("--eos", type=lambda v: [int(x) for x in v.split(",")], default=[EOS],
                    help="end-of-sequence ids, comma-separated (default %d)" % EOS)
    tr.add_argument("--pad", type=int, default=PAD)
    tr.add_argument("--sampled-vocab", type=int, default=0,
                    help="ids from here on are never sampled (the tokenizer's size); 0: every id")
    a = ap.parse_args()
    a.as_trainer |= a.fair
    if a.steps < 2:
        ap.error("--steps must be at least 2: the first step is not measured")
    if not 0 <= a.min_new <= a.max_new:
        ap.error("--min-new-tokens must be between 0 and --max-new-tokens")
    torch.set_num_threads(a.threads)
    if a.check:
        check()
        return
    torch.manual_seed(0)
    rng = random.Random(0)
    vocab = a.vocab or len(ALPHABET) + 1
    shape_kw = dict(head_dim=a.head_dim, qkv_bias=a.qkv_bias, tie=a.tie, rope_base=a.rope_base, eps=a.norm_eps,
                    as_trainer=a.as_trainer, fused=a.fused)
    model = Model(vocab, a.d_model, a.layers, a.heads, a.kv_heads or a.heads, a.mlp, a.context, **shape_kw)
    ref = None
    if not a.as_trainer or a.beta > 0:  # grpo-train holds no reference policy when beta is 0
        ref = Model(vocab, a.d_model, a.layers, a.heads, a.kv_heads or a.heads, a.mlp, a.context, **shape_kw)
        ref.load_state_dict(model.state_dict())
        ref.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.99), weight_decay=0.0)
    G, temp, eps = a.group, 1.0, 0.2
    measured = []  # the steps after the first: step_as_trainer's / step_untuned's dicts, with step_s
    for step in range(1, a.steps + 1):
        t_step = time.perf_counter()
        problems = [(rng.randint(10000, 49999), rng.randint(10000, 49999)) for _ in range(a.prompts)]
        if a.as_trainer:
            # Before the first update of a fresh run the policy still is π_ref (trainer.cpp's policy_is_reference).
            t = step_as_trainer(a, model, ref, opt, problems, G, temp, eps, ref_is_old=a.fair and step == 1)
        else:
            t = step_untuned(a, model, ref, opt, problems, G, temp, eps)
        t["step_s"] = time.perf_counter() - t_step
        if step > 1:
            measured.append(t)
    mean = lambda k: sum(t[k] for t in measured) / len(measured)
    median = lambda f: statistics.median(f(t) for t in measured)
    # Generation tokens/s: of the rollout with its rewards as the trainer's (as before), of the sampling
    # alone untuned (docs/performance.md's figure).
    gen_rate = lambda t: t["gen_tokens"] / (t["gen_s"] if a.as_trainer else t["gen_s"] - t["reward_s"])
    params = sum(p.numel() for p in model.parameters())
    out = {"impl": "python", "d_model": a.d_model, "layers": a.layers, "parameters": params,
           "gen_tokens_per_s": sum(map(gen_rate, measured)) / len(measured),
           "train_tokens_per_s": sum(t["trained"] / t["train_s"] for t in measured) / len(measured),
           "step_s": mean("step_s")}
    if a.as_trainer:  # means over the steps after the first, as above
        out.update({"as_trainer": True, "vocab": vocab, "prompts": a.prompts, "group": G, "max_new_tokens": a.max_new,
                    "minibatches": a.minibatches, "beta": a.beta, "steps": a.steps,
                    "gen_s": mean("gen_s"), "train_s": mean("train_s"),
                    "gen_tokens": mean("gen_tokens"), "train_tokens": mean("trained")})
    # Medians over the steps after the first: the whole step; the rollout with its rewards; the old and
    # reference no-grad passes; the update; one decode step (the rollout less its rewards, per sampling
    # step, prefill included); one minibatch of the update.
    out.update({"mode": "fair" if a.fair else "as_trainer" if a.as_trainer else "untuned", "fused": a.fused,
                "min_new_tokens": a.min_new,
                "step_s_median": median(lambda t: t["step_s"]), "gen_s_median": median(lambda t: t["gen_s"]),
                "score_s_median": median(lambda t: t["score_s"]), "train_s_median": median(lambda t: t["train_s"]),
                "decode_steps": mean("decode_steps"),
                "decode_step_ms": median(lambda t: 1e3 * (t["gen_s"] - t["reward_s"]) / t["decode_steps"]),
                "minibatch_ms": median(lambda t: 1e3 * t["train_s"] / a.minibatches)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
