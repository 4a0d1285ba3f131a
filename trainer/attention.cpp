// Attention (see attention.h). Shapes: B rows, T query tokens, H query heads, Hkv key/value heads, S keys,
// hd head size.
#include "trainer/attention.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace grpo {

namespace {

constexpr int kLanes = 4;

// kLanes floats as one value (the GCC/Clang vector extension): one SSE register on baseline x86-64, one NEON
// register on ARM; arithmetic is lane by lane, a scalar operand is broadcast. (Eight lanes, two SSE
// registers, measured slower: without AVX enabled such values pass through memory.)
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

inline Lanes load(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline float lanes_sum(Lanes v) {
  return (v[0] + v[2]) + (v[1] + v[3]);
}

// a·b over n floats in kLanes partial sums, for head sizes not known when compiling.
inline float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float part[kLanes] = {};
  const int64_t body = n - n % kLanes;
  for (int64_t i = 0; i < body; i += kLanes)
    for (int j = 0; j < kLanes; ++j) part[j] += a[i + j] * b[i + j];
  float sum = 0.0f;
  for (int64_t i = body; i < n; ++i) sum += a[i] * b[i];
  for (int j = 0; j < kLanes; ++j) sum += part[j];
  return sum;
}

// One (row, head) of decode_attention: its query, its key/value head's rows, its row's mask.
struct HeadOperands {
  const float* q;
  const float* k;
  const float* v;
  const float* bias;
  int64_t k_key, v_key, S;  // strides between keys; the number of keys
};

// Scores q·k · scale + bias of one head into w (S floats); masked keys (PAD, a finished row's) get -inf.
// HD > 0 (a multiple of kLanes): the query held in HD / kLanes vectors, each key's dot product in two
// vector accumulators; HD = 0: any head size, hd_runtime.
template <int HD>
void score_head(const HeadOperands& h, int64_t hd_runtime, float scale, float* w) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
  if constexpr (HD > 0) {
    static_assert(HD % (2 * kLanes) == 0, "head sizes unrolled in pairs of vectors");
    constexpr int n = HD / kLanes;
    Lanes q[n];
    for (int j = 0; j < n; ++j) q[j] = load(h.q + j * kLanes);
    for (int64_t s = 0; s < h.S; ++s) {
      if (h.bias[s] == minus_inf) {
        w[s] = minus_inf;
        continue;
      }
      const float* ks = h.k + s * h.k_key;
      Lanes even = q[0] * load(ks), odd = q[1] * load(ks + kLanes);
      for (int j = 2; j < n; j += 2) {
        even += q[j] * load(ks + j * kLanes);
        odd += q[j + 1] * load(ks + (j + 1) * kLanes);
      }
      w[s] = lanes_sum(even + odd) * scale + h.bias[s];
    }
  } else {
    for (int64_t s = 0; s < h.S; ++s)
      w[s] = h.bias[s] == minus_inf ? minus_inf : dot(h.q, h.k + s * h.k_key, hd_runtime) * scale + h.bias[s];
  }
}

// out = Σ_s p[s] · v[s] over the unmasked keys of one head; HD > 0: the sums held in HD / kLanes vectors.
template <int HD>
void mix_head(const HeadOperands& h, int64_t hd_runtime, const float* p, float* out) {
  const float minus_inf = -std::numeric_limits<float>::infinity();
  if constexpr (HD > 0) {
    constexpr int n = HD / kLanes;
    Lanes sum[n] = {};
    for (int64_t s = 0; s < h.S; ++s) {
      if (h.bias[s] == minus_inf) continue;
      const float* vs = h.v + s * h.v_key;
      for (int j = 0; j < n; ++j) sum[j] += p[s] * load(vs + j * kLanes);
    }
    std::memcpy(out, sum, sizeof sum);
  } else {
    std::fill(out, out + hd_runtime, 0.0f);
    for (int64_t s = 0; s < h.S; ++s) {
      if (h.bias[s] == minus_inf) continue;
      const float* __restrict vs = h.v + s * h.v_key;
      for (int64_t i = 0; i < hd_runtime; ++i) out[i] += p[s] * vs[i];
    }
  }
}

// Calls f.template operator()<HD>() with HD = hd for the usual head sizes, else HD = 0 (runtime hd).
template <typename F>
void with_head_size(int64_t hd, F&& f) {
  switch (hd) {
    case 16:
      return f(std::integral_constant<int, 16>{});
    case 32:
      return f(std::integral_constant<int, 32>{});
    case 64:
      return f(std::integral_constant<int, 64>{});
    case 128:
      return f(std::integral_constant<int, 128>{});
    default:
      return f(std::integral_constant<int, 0>{});
  }
}

}  // namespace

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                     double scale) {
  return decode_attention_applies(q, k) ? decode_attention(q, k, v, mask, scale)
                                        : attention_ops(q, k, v, mask, scale);
}

bool decode_attention_applies(const at::Tensor& q, const at::Tensor& k) {
  const bool wants_grad = torch::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad());
  return q.size(2) == 1 && !wants_grad && q.device().is_cpu() && q.scalar_type() == at::kFloat &&
         k.scalar_type() == at::kFloat;
}

at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& mask, double scale) {
  const int64_t B = q.size(0), H = q.size(1), hd = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2);
  TORCH_CHECK(q.size(2) == 1, "decode_attention: one query token per row, got ", q.size(2));
  TORCH_CHECK(H % Hkv == 0 && v.sizes() == k.sizes() && k.size(0) == B && k.size(3) == hd,
              "decode_attention: q ", q.sizes(), " does not fit k ", k.sizes(), " and v ", v.sizes());
  TORCH_CHECK(k.stride(3) == 1 && v.stride(3) == 1,
              "decode_attention: keys and values need unit stride along hd");
  TORCH_CHECK(mask.numel() == B * S, "decode_attention: mask ", mask.sizes(), " is not (B, 1, 1, S)");
  const auto qc = q.contiguous();                       // (B, H, 1, hd)
  const auto bias = mask.reshape({B, S}).contiguous();  // (B, S)
  auto scores = torch::empty({B, H, S}, q.options());   // (B, H, S)
  auto y = torch::empty({B, H, 1, hd}, q.options());    // (B, H, 1, hd)
  const float* qp = qc.data_ptr<float>();
  const float* kp = k.data_ptr<float>();
  const float* vp = v.data_ptr<float>();
  const float* bp = bias.data_ptr<float>();
  const int64_t rep = H / Hkv;
  const int64_t k_row = k.stride(0), k_head = k.stride(1), k_key = k.stride(2);
  const int64_t v_row = v.stride(0), v_head = v.stride(1), v_key = v.stride(2);
  auto head = [&](int64_t bh) {
    const int64_t b = bh / H, kvh = (bh % H) / rep;
    return HeadOperands{qp + bh * hd,
                        kp + b * k_row + kvh * k_head,
                        vp + b * v_row + kvh * v_head,
                        bp + b * S,
                        k_key,
                        v_key,
                        S};
  };
  // Each (row, head) is one task writing its own outputs: the result does not depend on the threads.
  float* sp = scores.data_ptr<float>();
  with_head_size(hd, [&](auto size) {
    at::parallel_for(0, B * H, /*grain_size=*/16, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh)
        score_head<decltype(size)::value>(head(bh), hd, static_cast<float>(scale), sp + bh * S);
    });
  });
  const auto weights = torch::softmax(scores, -1);  // (B, H, S): LibTorch's vectorised exp, one call
  const float* wp = weights.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  with_head_size(hd, [&](auto size) {
    at::parallel_for(0, B * H, /*grain_size=*/16, [&](int64_t begin, int64_t end) {
      for (int64_t bh = begin; bh < end; ++bh)
        mix_head<decltype(size)::value>(head(bh), hd, wp + bh * S, yp + bh * hd);
    });
  });
  return y;
}

at::Tensor attention_ops(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                         const at::Tensor& mask, double scale) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), hd = q.size(3);
  const int64_t Hkv = k.size(1), S = k.size(2);
  auto keys = k, values = v;
  if (Hkv != H) {  // grouped-query attention: each kv head serves H/Hkv query heads
    keys = k.unsqueeze(2).expand({B, Hkv, H / Hkv, S, hd}).reshape({B, H, S, hd});  // (B, H, S, hd)
    values = v.unsqueeze(2).expand({B, Hkv, H / Hkv, S, hd}).reshape({B, H, S, hd});
  }
  if (T == 1) {
    auto att = (q * keys).sum(-1, /*keepdim=*/false).unsqueeze(2) * scale;  // (B, H, 1, S)
    att = torch::softmax(att + mask, -1);
    return (att.transpose(-1, -2) * values).sum(-2, /*keepdim=*/true);  // (B, H, 1, hd)
  }
  auto att = torch::matmul(q, keys.transpose(-2, -1)) * scale;  // (B, H, T, S)
  att = torch::softmax(att + mask, -1);
  return torch::matmul(att, values);  // (B, H, T, hd)
}

}  // namespace grpo
