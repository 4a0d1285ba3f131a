#!/usr/bin/python3
"""Independent Python reference for Hugging Face decoder-only model folders.

What this is
------------
A small, self-contained reference implementation (standard library + torch +
numpy only) of three Hugging Face architectures:

    LlamaForCausalLM   (model_type "llama")
    Qwen2ForCausalLM   (model_type "qwen2")
    Qwen3ForCausalLM   (model_type "qwen3")

It is the yardstick the C++ loader of GRPO Studio (trainer/) is checked
against.  It can

  * ``make``     write a tiny RANDOM model folder in the exact Hugging Face
                 on-disk layout (config.json, generation_config.json,
                 model.safetensors or sharded model-0000i-of-0000N.safetensors
                 + model.safetensors.index.json), with its own safetensors
                 writer;
  * ``forward``  read such a folder (made here or exported by the C++ side)
                 with its own safetensors reader and compute logits for every
                 position of every prompt, plus optional greedy continuations;
  * ``selftest`` check the writer/reader round trip, the rope rules against
                 hand-computed numbers, causality, agreement with a second,
                 loop-based implementation, and that the default tiny models
                 are sensitive to typical loader bugs.

Deliberately independent of the C++
-----------------------------------
Nothing here was derived from the project's C++ sources (trainer/model.cpp
was not read while writing it).  The equations follow the published
transformers modeling files (modeling_llama.py, modeling_qwen2.py,
modeling_qwen3.py) and the rope initialisation in modeling_rope_utils.py:

  * RMSNorm:  y = x / sqrt(mean(x^2) + eps) * w
  * rotary:   inv_freq = 1 / theta^(arange(0, d, 2) / d),  d = head_dim;
              emb = cat(freqs, freqs);  x' = x*cos(emb) + rotate_half(x)*sin(emb)
              with rotate_half(x) = cat(-x[d/2:], x[:d/2])
  * llama3 rope scaling as in _compute_llama3_parameters
  * Qwen3: q_norm / k_norm (RMSNorm over head_dim, per head) BEFORE rope
  * grouped-query attention: kv head j serves query heads j*rep .. j*rep+rep-1
    (repeat_kv = expand + reshape, i.e. repeat_interleave)
  * causal softmax attention, scale 1/sqrt(head_dim)
  * SwiGLU MLP: down(silu(gate(x)) * up(x)); pre-norm residual blocks
  * final norm; lm_head, or the embedding matrix when tie_word_embeddings

Arithmetic: weights are decoded to float32 (exactly; BF16/F16 widen losslessly)
and, by default, every operation is then done in float64 (``--compute f64``),
which is a stronger reference than any float32 implementation.  ``--compute
f32`` instead follows transformers' float32 path (inv_freq and the rope tables
in float32, as transformers computes them).

Each prompt is run on its own, with no padding and positions 0..T-1, so the
result is independent of any batching scheme of the code under test.
"""

import argparse
import json
import math
import os
import shutil
import struct
import sys
import tempfile
import time

import numpy as np
import torch

torch.set_num_threads(1)

# --------------------------------------------------------------------------
# safetensors: own writer and reader
# --------------------------------------------------------------------------

ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4,
            "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bfloat16 bit patterns, round to nearest even.

    Own implementation (the selftest compares it with torch's conversion)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    lsb = (u >> np.uint64(16)) & np.uint64(1)
    r = ((u + np.uint64(0x7FFF) + lsb) >> np.uint64(16)).astype(np.uint16)
    nan = np.isnan(np.asarray(a, dtype=np.float32))
    if nan.any():
        r[nan] = ((u[nan] >> np.uint64(16)).astype(np.uint16)) | np.uint16(0x0040)
    return r


def bf16_bits_to_f32(bits):
    """uint16 bfloat16 bit patterns -> float32 (exact)."""
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def encode_tensor(arr, dtype):
    """float32 numpy array -> little-endian bytes in the safetensors dtype."""
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if dtype == "F32":
        return arr.astype("<f4").tobytes()
    if dtype == "F16":
        return arr.astype("<f2").tobytes()  # numpy casts with round-to-nearest-even
    if dtype == "BF16":
        return f32_to_bf16_bits(arr).astype("<u2").tobytes()
    if dtype == "F64":
        return arr.astype("<f8").tobytes()
    raise ValueError("unsupported dtype for writing: %s" % dtype)


def decode_tensor(buf, dtype, shape):
    """little-endian bytes -> float32 numpy array (exact widening)."""
    if dtype == "F32":
        a = np.frombuffer(buf, dtype="<f4").astype(np.float32)
    elif dtype == "F16":
        a = np.frombuffer(buf, dtype="<f2").astype(np.float32)
    elif dtype == "BF16":
        a = bf16_bits_to_f32(np.frombuffer(buf, dtype="<u2"))
    elif dtype == "F64":
        a = np.frombuffer(buf, dtype="<f8").astype(np.float64)
    else:
        raise ValueError("unsupported tensor dtype %s" % dtype)
    return a.reshape(shape)


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype, shape, bytes). Writes in the given order."""
    header = {}
    off = 0
    for name, dtype, shape, data in tensors:
        n = len(data)
        expect = int(np.prod(shape, dtype=np.int64)) * ITEMSIZE[dtype] if shape else ITEMSIZE[dtype]
        assert n == expect, (name, n, expect)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for _, _, _, data in tensors:
            f.write(data)
    return off


class SafetensorsError(Exception):
    pass


def read_safetensors(path, strict=False):
    """Returns (tensors, raw, header, metadata).

    tensors: name -> float32 (or float64 for F64) numpy array
    raw:     name -> (dtype, shape, bytes)"""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SafetensorsError("%s: file too short" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise SafetensorsError("%s: header length %d exceeds file" % (path, n))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except Exception as e:  # noqa: BLE001
        raise SafetensorsError("%s: bad header json: %s" % (path, e))
    meta = header.pop("__metadata__", None)
    base = 8 + n
    body = len(data) - base
    tensors, raw, spans = {}, {}, []
    for name, info in header.items():
        dtype = info["dtype"]
        shape = tuple(int(s) for s in info["shape"])
        b, e = (int(x) for x in info["data_offsets"])
        if dtype not in ITEMSIZE:
            raise SafetensorsError("%s: %s has unknown dtype %s" % (path, name, dtype))
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if e - b != count * ITEMSIZE[dtype] or b < 0 or e > body:
            raise SafetensorsError("%s: %s offsets %s do not fit shape %s %s"
                                   % (path, name, [b, e], shape, dtype))
        buf = data[base + b:base + e]
        raw[name] = (dtype, shape, buf)
        tensors[name] = decode_tensor(buf, dtype, shape)
        spans.append((b, e, name))
    if strict:
        if n % 8 != 0:
            raise SafetensorsError("%s: header length %d not a multiple of 8" % (path, n))
        spans.sort()
        pos = 0
        for b, e, name in spans:
            if b != pos:
                raise SafetensorsError("%s: gap/overlap before %s" % (path, name))
            pos = e
        if pos != body:
            raise SafetensorsError("%s: %d trailing bytes" % (path, body - pos))
    return tensors, raw, header, meta


def load_folder_tensors(folder, strict=False):
    """Reads model.safetensors or the shards named in model.safetensors.index.json.

    Returns (tensors, raw, layout) where layout describes the files."""
    index = os.path.join(folder, "model.safetensors.index.json")
    single = os.path.join(folder, "model.safetensors")
    tensors, raw = {}, {}
    if os.path.exists(index):
        with open(index) as f:
            idx = json.load(f)
        wmap = idx["weight_map"]
        files = sorted(set(wmap.values()))
        for fn in files:
            t, r, _, _ = read_safetensors(os.path.join(folder, fn), strict)
            for name in t:
                if name in tensors:
                    raise SafetensorsError("tensor %s appears in two shards" % name)
                if wmap.get(name) != fn:
                    msg = "index maps %s to %s but it is in %s" % (name, wmap.get(name), fn)
                    if strict:
                        raise SafetensorsError(msg)
                    sys.stderr.write("hf_reference: warning: %s (loaded anyway)\n" % msg)
            tensors.update(t)
            raw.update(r)
        missing = [k for k in wmap if k not in tensors]
        if missing:
            raise SafetensorsError("index names tensors not found in shards: %s" % missing[:5])
        if strict:
            total = sum(len(r[2]) for r in raw.values())
            ts = idx.get("metadata", {}).get("total_size")
            if ts != total:
                raise SafetensorsError("index total_size %s != %d" % (ts, total))
        layout = {"index": True, "files": files}
    elif os.path.exists(single):
        tensors, raw, _, _ = read_safetensors(single, strict)
        layout = {"index": False, "files": ["model.safetensors"]}
    else:
        files = sorted(fn for fn in os.listdir(folder) if fn.endswith(".safetensors"))
        if not files:
            raise SafetensorsError("no safetensors files in %s" % folder)
        for fn in files:
            t, r, _, _ = read_safetensors(os.path.join(folder, fn), strict)
            tensors.update(t)
            raw.update(r)
        layout = {"index": False, "files": files}
    return tensors, raw, layout


# --------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------

ARCHS = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
}
TORCH_DTYPE_NAME = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}


def parse_config(cfg):
    """HF config dict -> normalized dict used by forward()."""
    mt = cfg.get("model_type")
    if mt is None:
        arch = (cfg.get("architectures") or [None])[0]
        mt = {v: k for k, v in ARCHS.items()}.get(arch)
    if mt not in ARCHS:
        raise ValueError("unsupported model_type %r / architectures %r"
                         % (cfg.get("model_type"), cfg.get("architectures")))
    act = cfg.get("hidden_act", "silu")
    if act != "silu":
        raise ValueError("unsupported hidden_act %r" % act)
    H = int(cfg["hidden_size"])
    nh = int(cfg["num_attention_heads"])
    nkv = int(cfg.get("num_key_value_heads") or nh)
    hd = cfg.get("head_dim")
    if hd is None:
        # Qwen3Config's default head_dim is 128; Llama/Qwen2 use hidden/heads.
        hd = 128 if mt == "qwen3" else H // nh
    hd = int(hd)
    if nh % nkv != 0:
        raise ValueError("num_attention_heads %d not a multiple of num_key_value_heads %d" % (nh, nkv))
    if hd % 2 != 0:
        raise ValueError("odd head_dim %d" % hd)

    # rope: transformers 5 keeps theta and scaling in rope_parameters
    rp = cfg.get("rope_parameters")
    if isinstance(rp, dict) and rp:
        theta = float(rp.get("rope_theta", cfg.get("rope_theta", 10000.0)))
        scaling = dict(rp)
    else:
        theta = float(cfg.get("rope_theta", 10000.0))
        scaling = dict(cfg.get("rope_scaling") or {})
    rtype = scaling.get("rope_type", scaling.get("type", "default")) or "default"
    if rtype not in ("default", "llama3", "linear"):
        raise ValueError("unsupported rope type %r" % rtype)
    if cfg.get("partial_rotary_factor", 1.0) != 1.0:
        raise ValueError("partial_rotary_factor not supported")

    if mt == "qwen2":
        qkv_bias, o_bias = True, False
    else:
        qkv_bias = o_bias = bool(cfg.get("attention_bias", False))
    mlp_bias = bool(cfg.get("mlp_bias", False)) if mt == "llama" else False

    return {
        "model_type": mt,
        "hidden": H,
        "layers": int(cfg["num_hidden_layers"]),
        "heads": nh,
        "kv_heads": nkv,
        "head_dim": hd,
        "intermediate": int(cfg["intermediate_size"]),
        "vocab": int(cfg["vocab_size"]),
        "eps": float(cfg.get("rms_norm_eps", 1e-6)),
        "tie": bool(cfg.get("tie_word_embeddings", False)),
        "rope_theta": theta,
        "rope_type": rtype,
        "rope_scaling": scaling,
        "qkv_bias": qkv_bias,
        "o_bias": o_bias,
        "mlp_bias": mlp_bias,
        "qk_norm": mt == "qwen3",
    }


# --------------------------------------------------------------------------
# rope
# --------------------------------------------------------------------------

def rope_inv_freq(c, dtype=torch.float64):
    """inv_freq as transformers' rope init functions compute it."""
    d = c["head_dim"]
    base = c["rope_theta"]
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.int64).to(dtype) / d))
    if c["rope_type"] == "linear":
        inv = inv / float(c["rope_scaling"]["factor"])
    elif c["rope_type"] == "llama3":
        inv = llama3_inv_freq(inv, c["rope_scaling"])
    return inv


def llama3_inv_freq(inv_freq, s):
    """transformers' _compute_llama3_parameters, step by step."""
    factor = float(s["factor"])
    low_freq_factor = float(s["low_freq_factor"])
    high_freq_factor = float(s["high_freq_factor"])
    old_context_len = float(s["original_max_position_embeddings"])
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    # wavelen < high_freq_wavelen: keep; wavelen > low_freq_wavelen: divide by factor
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    # otherwise: interpolate smoothly
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama)


def rope_tables(c, T, dtype):
    inv = rope_inv_freq(c, dtype)
    pos = torch.arange(T, dtype=dtype)
    freqs = pos[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    d = x.shape[-1] // 2
    return torch.cat([-x[..., d:], x[..., :d]], dim=-1)


# --------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------

def required_tensor_names(c):
    names = ["model.embed_tokens.weight", "model.norm.weight"]
    for i in range(c["layers"]):
        p = "model.layers.%d." % i
        for m in ("q", "k", "v", "o"):
            names.append(p + "self_attn.%s_proj.weight" % m)
        if c["qkv_bias"]:
            names += [p + "self_attn.%s_proj.bias" % m for m in ("q", "k", "v")]
        if c["o_bias"]:
            names.append(p + "self_attn.o_proj.bias")
        if c["qk_norm"]:
            names += [p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight"]
        for m in ("gate", "up", "down"):
            names.append(p + "mlp.%s_proj.weight" % m)
            if c["mlp_bias"]:
                names.append(p + "mlp.%s_proj.bias" % m)
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    if not c["tie"]:
        names.append("lm_head.weight")
    return names


def expected_shapes(c):
    H, nh, nkv, hd, I, V = (c["hidden"], c["heads"], c["kv_heads"], c["head_dim"],
                            c["intermediate"], c["vocab"])
    shp = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,), "lm_head.weight": (V, H)}
    for i in range(c["layers"]):
        p = "model.layers.%d." % i
        shp.update({
            p + "self_attn.q_proj.weight": (nh * hd, H), p + "self_attn.q_proj.bias": (nh * hd,),
            p + "self_attn.k_proj.weight": (nkv * hd, H), p + "self_attn.k_proj.bias": (nkv * hd,),
            p + "self_attn.v_proj.weight": (nkv * hd, H), p + "self_attn.v_proj.bias": (nkv * hd,),
            p + "self_attn.o_proj.weight": (H, nh * hd), p + "self_attn.o_proj.bias": (H,),
            p + "self_attn.q_norm.weight": (hd,), p + "self_attn.k_norm.weight": (hd,),
            p + "mlp.gate_proj.weight": (I, H), p + "mlp.gate_proj.bias": (I,),
            p + "mlp.up_proj.weight": (I, H), p + "mlp.up_proj.bias": (I,),
            p + "mlp.down_proj.weight": (H, I), p + "mlp.down_proj.bias": (H,),
            p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
        })
    return shp


class Model:
    def __init__(self, folder, compute="f64", strict=False, quiet=False):
        with open(os.path.join(folder, "config.json")) as f:
            self.raw_config = json.load(f)
        self.c = parse_config(self.raw_config)
        self.dtype = torch.float64 if compute == "f64" else torch.float32
        arrays, raw, self.layout = load_folder_tensors(folder, strict)
        self.file_dtypes = sorted(set(r[0] for r in raw.values()))
        c = self.c
        need = required_tensor_names(c)
        missing = [n for n in need if n not in arrays]
        if missing:
            raise ValueError("missing tensors: %s" % ", ".join(missing[:8]))
        shapes = expected_shapes(c)
        for n in need + (["lm_head.weight"] if "lm_head.weight" in arrays else []):
            if tuple(arrays[n].shape) != tuple(shapes[n]):
                raise ValueError("tensor %s has shape %s, config implies %s"
                                 % (n, tuple(arrays[n].shape), shapes[n]))
        extra = sorted(set(arrays) - set(need) - {"lm_head.weight"})
        if extra and not quiet:
            sys.stderr.write("hf_reference: warning: unused tensors (HF would ignore them): %s\n"
                             % ", ".join(extra[:8]))
        self.w = {n: torch.from_numpy(np.array(arrays[n], dtype=np.float32)).to(self.dtype)
                  for n in need}
        if c["tie"]:
            self.lm = self.w["model.embed_tokens.weight"]
            if "lm_head.weight" in arrays:
                lm = torch.from_numpy(np.array(arrays["lm_head.weight"], dtype=np.float32)).to(self.dtype)
                if not torch.equal(lm, self.lm) and not quiet:
                    sys.stderr.write("hf_reference: warning: tied model ships an lm_head.weight that "
                                     "differs from the embedding; using the embedding (tied)\n")
        else:
            self.lm = self.w["lm_head.weight"]

    def rmsnorm(self, x, w):
        var = x.pow(2).mean(-1, keepdim=True)
        return x * torch.rsqrt(var + self.c["eps"]) * w

    def logits(self, ids, bug=None):
        """ids: list of ints -> [T, V] tensor (self.dtype)."""
        c, w = self.c, self.w
        T = len(ids)
        nh, nkv, hd = c["heads"], c["kv_heads"], c["head_dim"]
        rep = nh // nkv
        idx = torch.tensor(ids, dtype=torch.int64)
        x = w["model.embed_tokens.weight"][idx]
        if bug == "no_rope_scaling":
            cos, sin = rope_tables(dict(c, rope_type="default"), T, self.dtype)
        elif bug == "theta_10000":
            cos, sin = rope_tables(dict(c, rope_theta=10000.0), T, self.dtype)
        elif bug == "llama3_no_smooth":  # medium band left unscaled
            s_ = c["rope_scaling"]
            cc = dict(c, rope_scaling=dict(s_, high_freq_factor=s_["low_freq_factor"] * (1 + 1e-9)))
            cos, sin = rope_tables(cc, T, self.dtype)
        else:
            cos, sin = rope_tables(c, T, self.dtype)
        cos, sin = cos[:, None, :], sin[:, None, :]
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        scale = hd ** -0.5

        def lin(h, name, has_bias):
            y = h @ w[name + ".weight"].T
            if has_bias and bug != "no_bias":
                y = y + w[name + ".bias"]
            return y

        def rope(t):
            if bug == "interleaved_rope":  # GPT-J style pairs (2i, 2i+1): a typical loader bug
                t2 = torch.stack([-t[..., 1::2], t[..., 0::2]], dim=-1).flatten(-2)
                ci = torch.repeat_interleave(cos[..., :hd // 2], 2, dim=-1)
                si = torch.repeat_interleave(sin[..., :hd // 2], 2, dim=-1)
                return t * ci + t2 * si
            return t * cos + rotate_half(t) * sin

        for i in range(c["layers"]):
            p = "model.layers.%d." % i
            h = self.rmsnorm(x, w[p + "input_layernorm.weight"])
            q = lin(h, p + "self_attn.q_proj", c["qkv_bias"]).view(T, nh, hd)
            k = lin(h, p + "self_attn.k_proj", c["qkv_bias"]).view(T, nkv, hd)
            v = lin(h, p + "self_attn.v_proj", c["qkv_bias"]).view(T, nkv, hd)
            if c["qk_norm"] and bug != "norm_after_rope":
                q = self.rmsnorm(q, w[p + "self_attn.q_norm.weight"])
                k = self.rmsnorm(k, w[p + "self_attn.k_norm.weight"])
            if bug != "no_rope":
                q, k = rope(q), rope(k)
            if c["qk_norm"] and bug == "norm_after_rope":
                q = self.rmsnorm(q, w[p + "self_attn.q_norm.weight"])
                k = self.rmsnorm(k, w[p + "self_attn.k_norm.weight"])
            if bug == "kv_tile":  # kv heads repeated as a tile instead of interleaved
                k = k.repeat(1, rep, 1)
                v = v.repeat(1, rep, 1)
            else:
                k = k.repeat_interleave(rep, dim=1)
                v = v.repeat_interleave(rep, dim=1)
            sc = torch.einsum("thd,shd->hts", q, k) * (scale if bug != "scale_hidden" else
                                                       (c["hidden"] // nh) ** -0.5)
            sc = sc.masked_fill(mask, float("-inf"))
            pr = torch.softmax(sc, dim=-1)
            o = torch.einsum("hts,shd->thd", pr, v).reshape(T, nh * hd)
            x = x + lin(o, p + "self_attn.o_proj", c["o_bias"])
            h = self.rmsnorm(x, w[p + "post_attention_layernorm.weight"])
            g = lin(h, p + "mlp.gate_proj", c["mlp_bias"])
            u = lin(h, p + "mlp.up_proj", c["mlp_bias"])
            x = x + lin(torch.nn.functional.silu(g) * u, p + "mlp.down_proj", c["mlp_bias"])
        x = self.rmsnorm(x, w["model.norm.weight"])
        return x @ self.lm.T

    def greedy(self, ids, n):
        ids = list(ids)
        out, margins = [], []
        for _ in range(n):
            last = self.logits(ids)[-1]
            top = torch.topk(last, min(2, last.numel()))
            nxt = int(torch.argmax(last))
            out.append(nxt)
            margins.append(float(top.values[0] - top.values[1]) if last.numel() > 1 else float("inf"))
            ids.append(nxt)
        return out, margins


# --------------------------------------------------------------------------
# second, loop-based implementation (selftest only)
# --------------------------------------------------------------------------

def naive_logits(m, ids):
    """Scalar-loop numpy version of the same equations, written differently:
    rope as a rotation of the pair (j, j + d/2) by angle pos*inv_freq[j],
    GQA by index arithmetic, softmax by hand.  Float64 throughout."""
    c = m.c
    W = {k: v.double().numpy() for k, v in m.w.items()}
    lm = m.lm.double().numpy()
    nh, nkv, hd = c["heads"], c["kv_heads"], c["head_dim"]
    rep = nh // nkv
    half = hd // 2
    inv = rope_inv_freq(c, torch.float64).numpy()
    eps = c["eps"]

    def norm(v, w):
        return v / math.sqrt(float(np.mean(v * v)) + eps) * w

    def rot(v, pos):
        out = np.empty_like(v)
        for j in range(half):
            a = pos * inv[j]
            ca, sa = math.cos(a), math.sin(a)
            out[j] = v[j] * ca - v[j + half] * sa
            out[j + half] = v[j + half] * ca + v[j] * sa
        return out

    T = len(ids)
    xs = [W["model.embed_tokens.weight"][t].copy() for t in ids]
    for i in range(c["layers"]):
        p = "model.layers.%d." % i
        Q, K, Vv = [], [], []
        for t in range(T):
            h = norm(xs[t], W[p + "input_layernorm.weight"])
            q = W[p + "self_attn.q_proj.weight"] @ h
            k = W[p + "self_attn.k_proj.weight"] @ h
            v = W[p + "self_attn.v_proj.weight"] @ h
            if c["qkv_bias"]:
                q = q + W[p + "self_attn.q_proj.bias"]
                k = k + W[p + "self_attn.k_proj.bias"]
                v = v + W[p + "self_attn.v_proj.bias"]
            qh = [q[a * hd:(a + 1) * hd] for a in range(nh)]
            kh = [k[a * hd:(a + 1) * hd] for a in range(nkv)]
            vh = [v[a * hd:(a + 1) * hd] for a in range(nkv)]
            if c["qk_norm"]:
                qh = [norm(z, W[p + "self_attn.q_norm.weight"]) for z in qh]
                kh = [norm(z, W[p + "self_attn.k_norm.weight"]) for z in kh]
            Q.append([rot(z, t) for z in qh])
            K.append([rot(z, t) for z in kh])
            Vv.append(vh)
        new = []
        for t in range(T):
            heads = []
            for a in range(nh):
                g = a // rep
                s = np.array([float(Q[t][a] @ K[u][g]) / math.sqrt(hd) for u in range(t + 1)])
                e = np.exp(s - s.max())
                pr = e / e.sum()
                heads.append(sum(pr[u] * Vv[u][g] for u in range(t + 1)))
            o = W[p + "self_attn.o_proj.weight"] @ np.concatenate(heads)
            if c["o_bias"]:
                o = o + W[p + "self_attn.o_proj.bias"]
            x = xs[t] + o
            h = norm(x, W[p + "post_attention_layernorm.weight"])
            g_ = W[p + "mlp.gate_proj.weight"] @ h
            u_ = W[p + "mlp.up_proj.weight"] @ h
            if c["mlp_bias"]:
                g_ = g_ + W[p + "mlp.gate_proj.bias"]
                u_ = u_ + W[p + "mlp.up_proj.bias"]
            act = g_ / (1.0 + np.exp(-g_)) * u_
            d = W[p + "mlp.down_proj.weight"] @ act
            if c["mlp_bias"]:
                d = d + W[p + "mlp.down_proj.bias"]
            new.append(x + d)
        xs = new
    return np.stack([lm @ norm(x, W["model.norm.weight"]) for x in xs])


# --------------------------------------------------------------------------
# make
# --------------------------------------------------------------------------

def tokenizer_vocab_size(folder):
    """max token id + 1 from a tokenizer.json (model vocab and added tokens)."""
    p = os.path.join(folder, "tokenizer.json")
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as f:
        tj = json.load(f)
    ids = []
    vocab = (tj.get("model") or {}).get("vocab")
    if isinstance(vocab, dict):
        ids += [int(v) for v in vocab.values()]
    elif isinstance(vocab, list):
        ids.append(len(vocab) - 1)
    ids += [int(t["id"]) for t in tj.get("added_tokens") or []]
    return max(ids) + 1 if ids else None


def build_config(a):
    arch = a.arch
    H, nh = a.hidden, a.heads
    nkv = a.kv_heads if a.kv_heads is not None else nh
    if a.head_dim is not None:
        hd = a.head_dim
    elif arch == "qwen3":
        hd = 2 * H // nh  # deliberately != hidden/heads
    else:
        hd = H // nh
    if a.rope_theta is not None:
        theta = float(a.rope_theta)
    elif arch == "llama":
        theta = 500000.0 if a.rope_scaling == "llama3" else 10000.0
    else:
        theta = 1000000.0
    scaling = None
    if a.rope_scaling == "llama3":
        scaling = {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": a.rope_original_max}
        scaling[a.rope_key] = "llama3"
    cfg = {
        "architectures": [ARCHS[arch]],
        "attention_dropout": 0.0,
        "bos_token_id": a.bos,
        "eos_token_id": a.eos,
        "hidden_act": "silu",
        "hidden_size": H,
        "initializer_range": 0.02,
        "intermediate_size": a.intermediate,
        "max_position_embeddings": a.max_position,
        "model_type": arch,
        "num_attention_heads": nh,
        "num_hidden_layers": a.layers,
        "num_key_value_heads": nkv,
        "rms_norm_eps": a.rms_eps,
        "tie_word_embeddings": bool(a.tie),
        "use_cache": True,
        "vocab_size": a.vocab,
    }
    if arch == "llama":
        cfg.update({"attention_bias": bool(a.attention_bias), "mlp_bias": False, "pretraining_tp": 1})
        if not a.omit_head_dim:
            cfg["head_dim"] = hd
    elif arch == "qwen2":
        cfg.update({"max_window_layers": a.layers, "sliding_window": a.max_position,
                    "use_sliding_window": False})
        if a.head_dim is not None:
            cfg["head_dim"] = hd
    else:
        cfg.update({"attention_bias": bool(a.attention_bias), "head_dim": hd,
                    "max_window_layers": a.layers, "sliding_window": None,
                    "use_sliding_window": False})
    if a.transformers5:
        rp = {"rope_theta": theta}
        if scaling:
            rp.update(scaling)
        else:
            rp["rope_type"] = "default"
        cfg["rope_parameters"] = rp
        cfg["dtype"] = TORCH_DTYPE_NAME[a.dtype]
        cfg["transformers_version"] = "5.0.0"
    else:
        cfg["rope_scaling"] = scaling
        cfg["rope_theta"] = theta
        cfg["torch_dtype"] = TORCH_DTYPE_NAME[a.dtype]
        cfg["transformers_version"] = "4.51.3"
    return cfg


def random_weights(c, seed, std, ship_lm_head):
    """Ordered list of (name, float32 numpy array)."""
    g = torch.Generator().manual_seed(seed)
    shapes = expected_shapes(c)
    out = []

    def mat(name):
        out.append((name, (torch.randn(shapes[name], generator=g) * std).numpy()))

    def nrm(name):
        out.append((name, (1.0 + torch.randn(shapes[name], generator=g) * 0.1).numpy()))

    mat("model.embed_tokens.weight")
    for i in range(c["layers"]):
        p = "model.layers.%d." % i
        for m in ("q", "k", "v", "o"):
            mat(p + "self_attn.%s_proj.weight" % m)
        if c["qkv_bias"]:
            for m in ("q", "k", "v"):
                mat(p + "self_attn.%s_proj.bias" % m)
        if c["o_bias"]:
            mat(p + "self_attn.o_proj.bias")
        if c["qk_norm"]:
            nrm(p + "self_attn.q_norm.weight")
            nrm(p + "self_attn.k_norm.weight")
        for m in ("gate", "up", "down"):
            mat(p + "mlp.%s_proj.weight" % m)
        nrm(p + "input_layernorm.weight")
        nrm(p + "post_attention_layernorm.weight")
    nrm("model.norm.weight")
    if not c["tie"]:
        mat("lm_head.weight")
    elif ship_lm_head:
        out.append(("lm_head.weight", out[0][1].copy()))
    return out


def shard_name(i, n):
    return "model-%05d-of-%05d.safetensors" % (i + 1, n)


def make_model(a):
    if a.tokenizer_from and a.vocab is None:
        a.vocab = tokenizer_vocab_size(a.tokenizer_from)
    if a.vocab is None:
        a.vocab = 256
    os.makedirs(a.out, exist_ok=True)
    cfg = build_config(a)
    c = parse_config(cfg)
    weights = random_weights(c, a.seed, a.std, a.ship_lm_head)
    enc = [(n, a.dtype, tuple(arr.shape), encode_tensor(arr, a.dtype)) for n, arr in weights]
    for fn in os.listdir(a.out):  # stale weights from an earlier make into the same folder
        if fn.endswith(".safetensors") or fn == "model.safetensors.index.json":
            os.remove(os.path.join(a.out, fn))
    files = []
    if a.shards <= 1:
        write_safetensors(os.path.join(a.out, "model.safetensors"), enc)
        files.append("model.safetensors")
    else:
        n = min(a.shards, len(enc))
        total = sum(len(e[3]) for e in enc)
        target = total / n
        groups, cur = [[]], 0
        for j, e in enumerate(enc):
            # contiguous split by bytes; every one of the n shards non-empty
            left = len(enc) - j
            if groups[-1] and len(groups) < n and (cur >= target or left == n - len(groups)):
                groups.append([])
                cur = 0
            groups[-1].append(e)
            cur += len(e[3])
        n = len(groups)
        wmap = {}
        for i, gr in enumerate(groups):
            fn = shard_name(i, n)
            write_safetensors(os.path.join(a.out, fn), gr)
            files.append(fn)
            for e in gr:
                wmap[e[0]] = fn
        with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wmap.items()))},
                      f, indent=2)
            f.write("\n")
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    gen_eos = [a.eos, a.eos + 1] if a.arch == "qwen3" else a.eos
    gen = {"bos_token_id": a.bos, "eos_token_id": gen_eos,
           "transformers_version": cfg["transformers_version"]}
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2, sort_keys=True)
        f.write("\n")
    copied = []
    if a.tokenizer_from:
        for fn in ("tokenizer.json", "tokenizer_config.json", "generation_config.json",
                   "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model"):
            src = os.path.join(a.tokenizer_from, fn)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(a.out, fn))
                copied.append(fn)
    return {"out": a.out, "arch": a.arch, "dtype": a.dtype, "files": files,
            "tensors": len(enc), "vocab": a.vocab, "head_dim": c["head_dim"],
            "copied": copied}


# --------------------------------------------------------------------------
# forward
# --------------------------------------------------------------------------

def load_prompts(path):
    with open(path) as f:
        obj = json.load(f)
    prompts = obj["prompts"] if isinstance(obj, dict) else obj
    if not isinstance(prompts, list) or not all(isinstance(p, list) for p in prompts):
        raise ValueError("prompts must be a list of lists of token ids")
    return [[int(t) for t in p] for p in prompts]


def run_forward(model_dir, prompts, greedy=0, compute="f64"):
    m = Model(model_dir, compute)
    V = m.c["vocab"]
    for i, p in enumerate(prompts):
        if not p:
            raise ValueError("prompt %d is empty" % i)
        bad = [t for t in p if t < 0 or t >= V]
        if bad:
            raise ValueError("prompt %d has ids outside [0, %d): %s" % (i, V, bad[:5]))
    all_logits, last, gids, gmargins = [], [], [], []
    for p in prompts:
        lg = m.logits(p)
        if not torch.isfinite(lg).all():
            raise ValueError("non-finite logits")
        all_logits.append(lg.tolist())
        last.append(lg[-1].tolist())
        if greedy > 0:
            ids, mg = m.greedy(p, greedy)
            gids.append(ids)
            gmargins.append(mg)
    return {
        "format": "hf_reference/1",
        "model_type": m.c["model_type"],
        "compute_dtype": "float64" if compute == "f64" else "float32",
        "weight_dtypes": m.file_dtypes,
        "vocab_size": V,
        "logits": all_logits,
        "last_logits": last,
        "greedy": gids,
        "greedy_margin": gmargins,
    }


# --------------------------------------------------------------------------
# selftest
# --------------------------------------------------------------------------

def make_args(arch, out, **kw):
    ns = argparse.Namespace(arch=arch, out=out, dtype="F32", shards=1, seed=0, hidden=64, layers=2,
                            heads=4, kv_heads=2, head_dim=None, intermediate=128, vocab=None,
                            tie=False, rope_scaling=None, rope_key="rope_type",
                            rope_original_max=8192, transformers5=False, ship_lm_head=False,
                            tokenizer_from=None, attention_bias=False, rope_theta=None,
                            rms_eps=1e-6, bos=1, eos=2, max_position=2048, std=0.02,
                            omit_head_dim=False)
    for k, v in kw.items():
        assert hasattr(ns, k), k
        setattr(ns, k, v)
    return ns


def selftest(verbose=True):
    results = []

    def check(name, ok, detail=""):
        results.append((name, bool(ok), detail))
        if verbose:
            print("%-4s %s%s" % ("ok" if ok else "FAIL", name, ("  (" + detail + ")") if detail else ""))
        return ok

    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="hf_reference_selftest_")
    try:
        # ---- bf16 rounding: hand values --------------------------------
        # 1 + 2^-8 is exactly halfway between bf16 1.0 (0x3F80, mantissa even)
        # and 1 + 2^-7 (0x3F81): ties-to-even gives 0x3F80.
        # 1 + 3*2^-8 is halfway between 0x3F81 (odd) and 1 + 2^-6 (0x3F82): -> 0x3F82.
        # 1 + 2^-8 + 2^-20 is just above halfway -> 0x3F81.  -2.0 = 0xC000.
        vals = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -2.0], dtype=np.float32)
        got = f32_to_bf16_bits(vals).tolist()
        check("bf16 round-to-nearest-even hand values", got == [0x3F80, 0x3F82, 0x3F81, 0xC000],
              str([hex(x) for x in got]))
        r = torch.randn(100000, generator=torch.Generator().manual_seed(5)) * 3
        tb = r.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
        check("bf16 writer == torch .to(bfloat16) on 1e5 randoms",
              np.array_equal(f32_to_bf16_bits(r.numpy()), tb))

        # ---- rope: hand-computed values ----------------------------------
        # default rope, head_dim 4, theta 10000: inv_freq = [10000^0, 10000^-0.5] = [1, 0.01].
        # rotate_half pairs element j with j + d/2.  At position 1, x = [1, 0, 0, 0]:
        # x*cos + rotate_half(x)*sin, rotate_half(x) = [-x2, -x3, x0, x1] = [0, 0, 1, 0]
        # -> [cos 1, 0, sin 1, 0] = [0.5403023059, 0, 0.8414709848, 0].
        # x = [0, 1, 0, 0] at position 2: rotate_half = [0, 0, 0, 1]
        # -> [0, cos 0.02, 0, sin 0.02] = [0, 0.9998000067, 0, 0.0199986667].
        c4 = {"head_dim": 4, "rope_theta": 10000.0, "rope_type": "default", "rope_scaling": {}}
        cos, sin = rope_tables(c4, 3, torch.float64)
        x = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
        y1 = (x * cos[1] + rotate_half(x) * sin[1]).tolist()
        x = torch.tensor([0, 1.0, 0, 0], dtype=torch.float64)
        y2 = (x * cos[2] + rotate_half(x) * sin[2]).tolist()
        exp1 = [0.5403023059, 0.0, 0.8414709848, 0.0]
        exp2 = [0.0, 0.9998000067, 0.0, 0.0199986667]
        check("rope rotate_half hand values",
              max(abs(a - b) for a, b in zip(y1 + y2, exp1 + exp2)) < 1e-9, str(y1 + y2))

        # llama3 rule, head_dim 8, theta 10000, factor 8, low 1, high 4,
        # original_max_position_embeddings 1024:
        #   inv_freq = 10000^(-k/8), k = 0,2,4,6 -> [1, 0.1, 0.01, 0.001]
        #   wavelen = 2*pi/inv   -> [6.2832, 62.832, 628.32, 6283.2]
        #   high_freq_wavelen = 1024/4 = 256, low_freq_wavelen = 1024/1 = 1024
        #   j=0,1: wavelen < 256           -> unchanged: 1, 0.1
        #   j=3:   wavelen 6283 > 1024     -> inv/8 = 0.000125
        #   j=2:   256 <= 628.32 <= 1024   -> smooth:
        #          s = (1024/628.3185307 - 1)/(4 - 1) = (1.6297466 - 1)/3 = 0.20991553
        #          inv = (1 - s)*0.01/8 + s*0.01 = 0.01*(0.125 + 0.875*0.20991553)
        #              = 0.01*(0.125 + 0.18367609) = 0.0030867609
        c8 = {"head_dim": 8, "rope_theta": 10000.0, "rope_type": "llama3",
              "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                               "high_freq_factor": 4.0, "original_max_position_embeddings": 1024}}
        inv = rope_inv_freq(c8).tolist()
        exp = [1.0, 0.1, 0.0030867609, 0.000125]
        check("llama3 rope inv_freq hand values",
              all(abs(a - b) <= 1e-9 + 1e-7 * abs(b) for a, b in zip(inv, exp)), str(inv))
        # boundary: wavelen exactly == high_freq_wavelen counts as medium (s = 1 -> unchanged),
        # and the float32 path agrees with the float64 one to float32 precision.
        inv32 = rope_inv_freq(c8, torch.float32).tolist()
        check("llama3 rope float32 path ~ float64 path",
              all(abs(a - b) <= 1e-6 * abs(b) for a, b in zip(inv32, exp)), str(inv32))
        # same with the legacy "type" key and transformers-5 rope_parameters
        for cfgext, label in (({"rope_scaling": dict(c8["rope_scaling"], type="llama3")}, "type key"),):
            sc = dict(cfgext["rope_scaling"])
            del sc["rope_type"]
            base = {"model_type": "llama", "hidden_size": 16, "num_attention_heads": 2,
                    "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 8,
                    "rope_theta": 10000.0, "rope_scaling": sc}
            inv2 = rope_inv_freq(parse_config(base)).tolist()
            check("llama3 via legacy 'type' key", inv2 == inv, label)
        base5 = {"model_type": "llama", "hidden_size": 16, "num_attention_heads": 2,
                 "num_hidden_layers": 1, "intermediate_size": 8, "vocab_size": 8,
                 "rope_parameters": dict(c8["rope_scaling"], rope_theta=10000.0)}
        check("llama3 via transformers-5 rope_parameters",
              rope_inv_freq(parse_config(base5)).tolist() == inv)

        prompts = [[3, 17, 42, 5, 99, 7, 1, 250, 64], [11, 0, 200], [8]]

        # ---- per-arch layouts: write, reload bit-exactly, forward ---------
        for arch in ("llama", "qwen2", "qwen3"):
            ref_logits = None
            for label, kw in (("F32", {}), ("BF16", {"dtype": "BF16"}), ("F16", {"dtype": "F16"}),
                              ("F32 sharded x3", {"shards": 3}), ("BF16 sharded x2", {"dtype": "BF16", "shards": 2})):
                d = os.path.join(tmp, "%s_%s" % (arch, label.replace(" ", "_")))
                a = make_args(arch, d, **kw)
                make_model(a)
                c = parse_config(json.load(open(os.path.join(d, "config.json"))))
                want = random_weights(c, a.seed, a.std, False)
                arrays, raw, layout = load_folder_tensors(d, strict=True)
                ok = set(arrays) == set(n for n, _ in want)
                for n, arr in want:
                    if not ok:
                        break
                    dt, shape, buf = raw[n]
                    ok = (dt == a.dtype and tuple(shape) == arr.shape and buf == encode_tensor(arr, a.dtype))
                    tt = torch.from_numpy(arr)
                    tgt = {"F32": tt, "BF16": tt.to(torch.bfloat16).float(),
                           "F16": tt.to(torch.float16).float()}[a.dtype].numpy()
                    ok = ok and np.array_equal(arrays[n].view(np.uint32), tgt.view(np.uint32))
                nfiles = len(layout["files"])
                ok = ok and nfiles == max(1, kw.get("shards", 1)) and layout["index"] == (kw.get("shards", 1) > 1)
                check("%s %s: reader round-trips writer bit-exactly" % (arch, label), ok,
                      "%d tensors in %d file(s)" % (len(arrays), nfiles))
                m = Model(d)
                lg = torch.stack([m.logits(prompts[0])])[0]
                if label == "F32":
                    ref_logits = lg
                    cfgj = json.load(open(os.path.join(d, "config.json")))
                    check("%s config fields" % arch,
                          cfgj["architectures"] == [ARCHS[arch]] and cfgj["model_type"] == arch and
                          (arch != "qwen3" or cfgj["head_dim"] == 32) and
                          ("head_dim" in cfgj) == (arch != "qwen2"),
                          "head_dim=%s" % cfgj.get("head_dim"))
                    gen = json.load(open(os.path.join(d, "generation_config.json")))
                    check("%s generation_config eos" % arch,
                          gen["eos_token_id"] == ([2, 3] if arch == "qwen3" else 2))
                    # second implementation
                    nv = naive_logits(m, prompts[0])
                    err = float(np.abs(nv - lg.numpy()).max())
                    check("%s torch forward == loop forward" % arch, err < 1e-10, "max diff %.2e" % err)
                    # prefix consistency and causality
                    pre = m.logits(prompts[0][:4])
                    err = float((pre - lg[:4]).abs().max())
                    check("%s prefix run == first rows of full run" % arch, err < 1e-12, "%.2e" % err)
                    changed = prompts[0][:4] + [(t + 1) % c["vocab"] for t in prompts[0][4:]]
                    lc = m.logits(changed)
                    err = float((lc[:4] - lg[:4]).abs().max())
                    later = float((lc[4:] - lg[4:]).abs().max())
                    check("%s causal: rows < t unchanged when tokens >= t change" % arch,
                          err < 1e-12 and later > 1e-6, "before %.2e, after %.2e" % (err, later))
                    # f32 compute path close to f64
                    m32 = Model(d, compute="f32")
                    err = float((m32.logits(prompts[0]).double() - lg).abs().max())
                    check("%s f32 compute within 1e-5 of f64" % arch, err < 1e-5, "%.2e" % err)
                    # greedy is argmax of recomputed logits
                    g, mg = m.greedy(prompts[1], 4)
                    seq = prompts[1] + g
                    okg = all(int(torch.argmax(m.logits(seq[:len(prompts[1]) + j])[-1])) == g[j]
                              for j in range(4))
                    check("%s greedy consistent" % arch, okg and min(mg) >= 0, str(g))
                elif label.startswith("F32"):
                    check("%s %s logits identical to single-file F32" % (arch, label),
                          torch.equal(lg, ref_logits))
                else:
                    err = float((lg - ref_logits).abs().max())
                    check("%s %s logits near F32 (quantization only)" % (arch, label),
                          0 < err < 0.05, "max diff %.2e" % err)

        # ---- config variants: same weights -> same logits -------------------
        def logits_of(arch, name, **kw):
            d = os.path.join(tmp, name)
            make_model(make_args(arch, d, **kw))
            return Model(d, quiet=True).logits(prompts[0])

        base = logits_of("llama", "l3", rope_scaling="llama3")
        check("llama3 'type' key == 'rope_type' key",
              torch.equal(base, logits_of("llama", "l3t", rope_scaling="llama3", rope_key="type")))
        check("llama3 transformers5 config == transformers4 config",
              torch.equal(base, logits_of("llama", "l3v5", rope_scaling="llama3", transformers5=True)))
        plain = logits_of("llama", "l3plain", rope_theta=500000.0)
        check("llama3 scaling changes logits vs unscaled rope", not torch.equal(base, plain),
              "max diff %.2e" % float((base - plain).abs().max()))
        for arch in ("llama", "qwen2", "qwen3"):
            t1 = logits_of(arch, arch + "_tie", tie=True)
            t2 = logits_of(arch, arch + "_tie_ship", tie=True, ship_lm_head=True)
            check("%s tied == tied + shipped lm_head" % arch, torch.equal(t1, t2))
        p4 = logits_of("llama", "l_v4")
        check("llama transformers5 (default rope) == transformers4",
              torch.equal(p4, logits_of("llama", "l_v5", transformers5=True)))
        check("llama omitted head_dim == explicit",
              torch.equal(p4, logits_of("llama", "l_nohd", omit_head_dim=True)))
        d = os.path.join(tmp, "llama_bias")
        make_model(make_args("llama", d, attention_bias=True))
        names = set(load_folder_tensors(d)[0])
        check("llama attention_bias writes q,k,v,o biases",
              all("model.layers.0.self_attn.%s_proj.bias" % m in names for m in "qkvo"))
        nv = naive_logits(Model(d), prompts[1])
        check("llama attention_bias torch == loop",
              float(np.abs(nv - Model(d).logits(prompts[1]).numpy()).max()) < 1e-10)

        # ---- tokenizer copy + vocab inference ---------------------------------
        tokd = os.path.join(tmp, "tok")
        os.makedirs(tokd)
        json.dump({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2}},
                   "added_tokens": [{"id": 99, "content": "<eos>"}]}, open(os.path.join(tokd, "tokenizer.json"), "w"))
        json.dump({"eos_token": "<eos>"}, open(os.path.join(tokd, "tokenizer_config.json"), "w"))
        d = os.path.join(tmp, "with_tok")
        info = make_model(make_args("qwen2", d, tokenizer_from=tokd))
        check("tokenizer files copied, vocab from tokenizer.json",
              info["vocab"] == 100 and set(info["copied"]) == {"tokenizer.json", "tokenizer_config.json"})

        # ---- CLI end-to-end --------------------------------------------------
        d = os.path.join(tmp, "cli_qwen3")
        pf = os.path.join(tmp, "prompts.json")
        of = os.path.join(tmp, "out.json")
        json.dump({"prompts": prompts}, open(pf, "w"))
        me = os.path.abspath(__file__)
        rc1 = os.system("%s %s make --arch qwen3 --out %s --dtype BF16 --shards 2 --seed 3 >/dev/null"
                        % (sys.executable, me, d))
        rc2 = os.system("%s %s forward --model %s --prompts %s --out %s --greedy 3"
                        % (sys.executable, me, d, pf, of))
        okc = rc1 == 0 and rc2 == 0
        if okc:
            o = json.load(open(of))
            okc = ([len(x) for x in o["logits"]] == [len(p) for p in prompts] and
                   all(len(r) == 256 for x in o["logits"] for r in x) and
                   [len(g) for g in o["greedy"]] == [3, 3, 3] and
                   o["last_logits"][0] == o["logits"][0][-1])
        check("CLI make + forward round trip", okc)

        # ---- sensitivity: default tiny models must expose typical bugs -------
        # max |logit difference| caused by each deliberate bug, compared with the
        # 1e-4 tolerance the C++ comparison uses.
        sens = []
        for arch, kw, bugs, hard in (
            ("llama", {}, ["no_rope", "interleaved_rope", "kv_tile"], True),
            # the brief's llama3 dict (original_max_position_embeddings 8192) at the default std
            # 0.02: at positions < 20 only frequencies with angles < 0.06 rad change and the
            # attention is nearly uniform, so this is only reported.
            ("llama", {"rope_scaling": "llama3"}, ["no_rope_scaling", "llama3_no_smooth"], False),
            ("llama", {"rope_scaling": "llama3", "rope_original_max": 64},
             ["no_rope_scaling", "llama3_no_smooth"], False),
            # with --std 0.1 the attention is far from uniform and the scaling shows
            ("llama", {"rope_scaling": "llama3", "std": 0.1},
             ["no_rope_scaling", "llama3_no_smooth", "theta_10000"], True),
            ("llama", {"rope_scaling": "llama3", "rope_original_max": 64, "std": 0.1},
             ["no_rope_scaling", "llama3_no_smooth"], True),
            ("qwen2", {}, ["no_rope", "interleaved_rope", "kv_tile", "no_bias", "theta_10000"], True),
            ("qwen3", {}, ["no_rope", "interleaved_rope", "kv_tile", "norm_after_rope", "scale_hidden",
                           "theta_10000"], True),
        ):
            d = os.path.join(tmp, "sens_%s_%d" % (arch, len(sens)))
            make_model(make_args(arch, d, **kw))
            m = Model(d)
            good = m.logits(prompts[0])
            label = arch + (" llama3/%d" % kw.get("rope_original_max", 8192) if kw else "") + \
                (" std%g" % kw["std"] if "std" in kw else "")
            for b in bugs:
                diff = float((m.logits(prompts[0], bug=b) - good).abs().max())
                sens.append((label, b, diff, hard))
        for label, b, diff, hard in sens:
            name = "sensitivity %-24s %-17s max|dlogit| = %.2e" % (label, b, diff)
            if hard:
                check(name + " (> 1e-3)", diff > 1e-3)
            elif verbose:
                print("info %s (%s the 1e-4 tolerance)" % (name, "above" if diff > 1e-4 else "BELOW"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    nfail = sum(1 for r in results if not r[1])
    print("selftest: %d checks, %d failed, %.1f s" % (len(results), nfail, time.time() - t0))
    return nfail == 0


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description="Independent HF Llama/Qwen2/Qwen3 reference")
    sub = ap.add_subparsers(dest="cmd", required=True)

    mk = sub.add_parser("make", help="write a tiny random HF model folder")
    mk.add_argument("--arch", required=True, choices=sorted(ARCHS))
    mk.add_argument("--out", required=True)
    mk.add_argument("--dtype", default="F32", choices=["F32", "BF16", "F16"])
    mk.add_argument("--shards", type=int, default=1)
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--hidden", type=int, default=64)
    mk.add_argument("--layers", type=int, default=2)
    mk.add_argument("--heads", type=int, default=4)
    mk.add_argument("--kv-heads", type=int, default=2)
    mk.add_argument("--head-dim", type=int, default=None,
                    help="default hidden/heads; qwen3: 2*hidden/heads (32 at the defaults)")
    mk.add_argument("--intermediate", type=int, default=128)
    mk.add_argument("--vocab", type=int, default=None,
                    help="default: from --tokenizer-from's tokenizer.json, else 256")
    mk.add_argument("--tie", action=argparse.BooleanOptionalAction, default=False)
    mk.add_argument("--rope-scaling", choices=["llama3"], default=None)
    mk.add_argument("--rope-key", choices=["rope_type", "type"], default="rope_type")
    mk.add_argument("--rope-original-max", type=int, default=8192,
                    help="original_max_position_embeddings of the llama3 scaling (default 8192; "
                         "with short prompts only a small value such as 64 makes the scaling "
                         "visible in the logits)")
    mk.add_argument("--rope-theta", type=float, default=None,
                    help="default: llama 10000 (500000 with llama3 scaling), qwen 1e6")
    mk.add_argument("--transformers5", action="store_true",
                    help="write rope_parameters and dtype as transformers 5 does")
    mk.add_argument("--ship-lm-head", action="store_true")
    mk.add_argument("--attention-bias", action="store_true",
                    help="llama/qwen3: attention_bias true (biases on q,k,v,o)")
    mk.add_argument("--omit-head-dim", action="store_true",
                    help="llama: leave head_dim out of config.json (older transformers)")
    mk.add_argument("--rms-eps", type=float, default=1e-6)
    mk.add_argument("--bos", type=int, default=1)
    mk.add_argument("--eos", type=int, default=2)
    mk.add_argument("--max-position", type=int, default=2048)
    mk.add_argument("--std", type=float, default=0.02, help="std of the random matrices and biases")
    mk.add_argument("--tokenizer-from", default=None)

    fw = sub.add_parser("forward", help="logits and greedy ids for prompts")
    fw.add_argument("--model", required=True)
    fw.add_argument("--prompts", required=True)
    fw.add_argument("--out", required=True)
    fw.add_argument("--greedy", type=int, default=0)
    fw.add_argument("--compute", choices=["f64", "f32"], default="f64")

    sub.add_parser("selftest", help="run the self checks")

    a = ap.parse_args(argv)
    try:
        if a.cmd == "make":
            info = make_model(a)
            print(json.dumps(info))
            return 0
        if a.cmd == "forward":
            res = run_forward(a.model, load_prompts(a.prompts), a.greedy, a.compute)
            tmpout = a.out + ".tmp"
            with open(tmpout, "w") as f:
                json.dump(res, f)
            os.replace(tmpout, a.out)
            return 0
        if a.cmd == "selftest":
            return 0 if selftest() else 1
    except (ValueError, KeyError, SafetensorsError, OSError) as e:
        sys.stderr.write("hf_reference: error: %s: %s\n" % (type(e).__name__, e))
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
