#!/usr/bin/python3
"""The alternative a user would write: the same model and the same GRPO step as grpo-train, in Python on
PyTorch (Debian's python3-torch, the same LibTorch 1.13), with a KV cache, batched sampling and the same
work per step (rollout, old and reference log-probs, minibatched update, AdamW). Prints one JSON line with
mean generation and training tokens/s over the steps after the first, measured as grpo-train measures
them (docs/performance.md). Random init, so every completion runs to max_new_tokens on both sides.

    /usr/bin/python3 bench/grpo_python.py --d-model 64 --layers 3 --heads 4 --mlp 176 --steps 6
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
    def __init__(self, d, heads, kv_heads, mlp):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, d // heads
        self.attn_norm, self.mlp_norm = RMSNorm(d), RMSNorm(d)
        self.wq = torch.nn.Linear(d, heads * self.hd, bias=False)
        self.wk = torch.nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wv = torch.nn.Linear(d, kv_heads * self.hd, bias=False)
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
        if self.kvh != self.h:
            k = k.repeat_interleave(self.h // self.kvh, dim=1)
            v = v.repeat_interleave(self.h // self.kvh, dim=1)
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.hd) + mask, -1)
        y = (att @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.wo(y)
        h = self.mlp_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Model(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, kv_heads, mlp, context):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, d)
        self.blocks = torch.nn.ModuleList(Block(d, heads, kv_heads, mlp) for _ in range(layers))
        self.norm = RMSNorm(d)
        for n, p in self.named_parameters():
            if "norm" not in n:
                std = 0.02 / math.sqrt(2 * layers) if n.endswith(("wo.weight", "w2.weight")) else 0.02
                torch.nn.init.normal_(p, 0.0, std)
        hd = d // heads
        inv = 10000.0 ** (-torch.arange(0, hd // 2, dtype=torch.float64) / (hd // 2))
        ang = torch.outer(torch.arange(context, dtype=torch.float64), inv)
        self.cos, self.sin = ang.cos().float(), ang.sin().float()
        self.layers, self.kvh, self.hd = layers, kv_heads, hd

    def forward(self, tokens, positions, key_valid, cache=None, start=0):
        """tokens (B, T); positions (B, T); key_valid (B, S) for the S = start + T attended keys."""
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
        return self.norm(x) @ self.emb.weight.t()  # tied output head


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
    ap.add_argument("--max-new", type=int, default=109)
    ap.add_argument("--minibatches", type=int, default=2)
    ap.add_argument("--beta", type=float, default=0.02)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rng = random.Random(0)
    model = Model(len(ALPHABET) + 1, a.d_model, a.layers, a.heads, a.kv_heads or a.heads, a.mlp, 192)
    ref = Model(len(ALPHABET) + 1, a.d_model, a.layers, a.heads, a.kv_heads or a.heads, a.mlp, 192)
    ref.load_state_dict(model.state_dict())
    ref.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, betas=(0.9, 0.99), weight_decay=0.0)
    G, temp, eps = a.group, 1.0, 0.2
    gen_rates, train_rates, step_times = [], [], []
    for step in range(1, a.steps + 1):
        t_step = time.perf_counter()
        problems = [(rng.randint(10000, 49999), rng.randint(10000, 49999)) for _ in range(a.prompts)]
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
    print(json.dumps({"impl": "python", "d_model": a.d_model, "layers": a.layers, "parameters": params,
                      "gen_tokens_per_s": sum(gen_rates) / len(gen_rates),
                      "train_tokens_per_s": sum(train_rates) / len(train_rates),
                      "step_s": sum(step_times) / len(step_times)}))


if __name__ == "__main__":
    main()
