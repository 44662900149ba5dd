"""The PyTorch reference for the Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM),
written from transformers' modeling_llama / modeling_qwen2 / modeling_qwen3 formulas (RMSNorm,
rotate_half rotary embeddings with llama3 / linear scaling, repeat_kv grouped-query attention,
SwiGLU MLP, tied or untied head). Needs only torch (Debian: python3-torch); no transformers.

Two uses:
  torch_llama.py check IN.json OUT.json
      IN: {"config": <LlamaConfig as llamaConfig.ts>, "weights": {name: [shape, values]},
           "ids": [[...]], "mask": [[...]] (1 = real token, left padding),
           "train_ids", "targets", "loss_mask": [[...]] (a training batch: positions 0..T-1, causal)}
      OUT: {"logits": [B, T, V] flat (at every position of the masked batch),
            "loss": mean masked next-token loss of the training batch, "grads": {name: flat}}
      (float64, for test/unit/core/onnx/llamaGraph.test.ts)
  torch_llama.py bench '<json>'
      {"config", "batches": [1, 8], "prompt_len", "new_tokens", "train_seq", "train_batch",
       "threads", "reps"}: random weights; prints one JSON line with KV-cache greedy decode tokens/s
      per batch size (prefill excluded) and one train step's ms (forward, loss, backward, Adam).
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F


def inv_frequencies(c):
    D = c["head_dim"]
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, dtype=torch.int64).double() / D))
    s = c.get("rope_scaling")
    if not s:
        return inv
    if s["rope_type"] == "linear":
        return inv / s["factor"]
    # transformers' _compute_llama3_parameters
    old = s["original_max_position_embeddings"]
    low_wavelen = old / s["low_freq_factor"]
    high_wavelen = old / s["high_freq_factor"]
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wavelen, inv / s["factor"], inv)
    smooth = (old / wavelen - s["low_freq_factor"]) / (s["high_freq_factor"] - s["low_freq_factor"])
    smoothed = (1 - smooth) * inv_l / s["factor"] + smooth * inv_l
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, inv_l)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Llama:
    """Parameters by their HF names in a dict; forward over ids with positions and an additive mask."""

    def __init__(self, c, params):
        self.c = c
        self.p = params
        self.inv = inv_frequencies(c)

    def linear(self, x, name):
        b = self.p.get(name + ".bias")
        return F.linear(x, self.p[name + ".weight"], b)

    def forward(self, ids, positions, bias, past=None):
        """ids [B, T], positions [B, T], bias [B, 1, T, P+T] additive; past: per layer (k, v) [B, KV, P, D]."""
        c, p = self.c, self.p
        H, KV, D, eps = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"], c["rms_norm_eps"]
        B, T = ids.shape
        x = p["model.embed_tokens.weight"][ids]
        freqs = positions[:, :, None].to(self.inv.dtype) * self.inv[None, None, :]  # [B, T, D/2]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(x.dtype)[:, None], emb.sin().to(x.dtype)[:, None]  # [B, 1, T, D]
        present = []
        for i in range(c["num_hidden_layers"]):
            l = f"model.layers.{i}."
            h = rms_norm(x, p[l + "input_layernorm.weight"], eps)
            q = self.linear(h, l + "self_attn.q_proj").view(B, T, H, D)
            k = self.linear(h, l + "self_attn.k_proj").view(B, T, KV, D)
            v = self.linear(h, l + "self_attn.v_proj").view(B, T, KV, D).transpose(1, 2)
            if c["architecture"] == "qwen3":
                q = rms_norm(q, p[l + "self_attn.q_norm.weight"], eps)
                k = rms_norm(k, p[l + "self_attn.k_norm.weight"], eps)
            q, k = q.transpose(1, 2), k.transpose(1, 2)  # [B, heads, T, D]
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if past is not None:
                k = torch.cat([past[i][0], k], dim=2)
                v = torch.cat([past[i][1], v], dim=2)
            present.append((k, v))
            # repeat_kv: query head h reads KV head h // (H / KV)
            kr = k[:, :, None].expand(B, KV, H // KV, k.shape[2], D).reshape(B, H, k.shape[2], D)
            vr = v[:, :, None].expand(B, KV, H // KV, v.shape[2], D).reshape(B, H, v.shape[2], D)
            att = (q @ kr.transpose(2, 3)) / math.sqrt(D) + bias
            y = (att.softmax(-1) @ vr).transpose(1, 2).reshape(B, T, H * D)
            x = x + self.linear(y, l + "self_attn.o_proj")
            h = rms_norm(x, p[l + "post_attention_layernorm.weight"], eps)
            x = x + self.linear(F.silu(self.linear(h, l + "mlp.gate_proj")) * self.linear(h, l + "mlp.up_proj"), l + "mlp.down_proj")
        x = rms_norm(x, p["model.norm.weight"], eps)
        head = p.get("lm_head.weight", p["model.embed_tokens.weight"])
        return x @ head.T, present


def additive_bias(mask, T, dtype):
    """[B, 1, T, S] from mask [B, S]: causal over the last T positions, padded keys masked."""
    B, S = mask.shape
    causal = torch.ones(T, S, dtype=torch.bool).tril(S - T)
    keep = causal[None, None] & mask[:, None, None, :].bool()
    return torch.zeros(B, 1, T, S, dtype=dtype).masked_fill(~keep, torch.finfo(dtype).min)


def check(inp, out):
    d = json.load(open(inp))
    c = d["config"]
    params = {k: torch.tensor(v[1], dtype=torch.float64).reshape(v[0]).requires_grad_() for k, v in d["weights"].items()}
    model = Llama(c, params)
    ids = torch.tensor(d["ids"])
    mask = torch.tensor(d["mask"])
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        logits, _ = model.forward(ids, positions, additive_bias(mask, ids.shape[1], torch.float64))
    tids = torch.tensor(d["targets"])
    train_ids = torch.tensor(d["train_ids"])
    lm = torch.tensor(d["loss_mask"], dtype=torch.float64)
    T = train_ids.shape[1]
    tl, _ = model.forward(train_ids, torch.arange(T)[None].expand_as(train_ids), additive_bias(torch.ones_like(train_ids), T, torch.float64))
    nll = F.cross_entropy(tl.reshape(-1, tl.shape[-1]), tids.reshape(-1), reduction="none")
    loss = (nll * lm.reshape(-1)).sum() / lm.sum().clamp(min=1)
    loss.backward()
    json.dump({"logits": logits.reshape(-1).tolist(), "loss": loss.item(), "grads": {k: v.grad.reshape(-1).tolist() for k, v in params.items()}}, open(out, "w"))


def random_params(c):
    """Random weights at the config's shapes (HF names), std 0.02, norms 1."""
    C, D, H, KV, Fd = c["hidden_size"], c["head_dim"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"]
    shapes = {"model.embed_tokens.weight": (c["vocab_size"], C), "model.norm.weight": (C,)}
    for i in range(c["num_hidden_layers"]):
        l = f"model.layers.{i}."
        shapes.update({l + "input_layernorm.weight": (C,), l + "post_attention_layernorm.weight": (C,)})
        shapes.update({l + "self_attn.q_proj.weight": (H * D, C), l + "self_attn.k_proj.weight": (KV * D, C), l + "self_attn.v_proj.weight": (KV * D, C), l + "self_attn.o_proj.weight": (C, H * D)})
        if c["architecture"] == "qwen2":
            shapes.update({l + "self_attn.q_proj.bias": (H * D,), l + "self_attn.k_proj.bias": (KV * D,), l + "self_attn.v_proj.bias": (KV * D,)})
        if c["architecture"] == "qwen3":
            shapes.update({l + "self_attn.q_norm.weight": (D,), l + "self_attn.k_norm.weight": (D,)})
        shapes.update({l + "mlp.gate_proj.weight": (Fd, C), l + "mlp.up_proj.weight": (Fd, C), l + "mlp.down_proj.weight": (C, Fd)})
    if not c["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (c["vocab_size"], C)
    return {k: (torch.ones(s) if k.endswith("norm.weight") else torch.randn(s) * 0.02).requires_grad_() for k, s in shapes.items()}


def bench(args):
    c = args["config"]
    torch.manual_seed(0)
    torch.set_num_threads(args["threads"])
    params = random_params(c)
    model = Llama(c, params)
    KV, D = c["num_key_value_heads"], c["head_dim"]
    decode = {}
    for B in args["batches"]:
        P, N = args["prompt_len"], args["new_tokens"]
        prompt = torch.randint(0, c["vocab_size"], (B, P))

        @torch.no_grad()
        def run():
            mask = torch.ones(B, P, dtype=torch.int64)
            logits, past = model.forward(prompt, torch.arange(P)[None].expand(B, P), additive_bias(mask, P, torch.float32))
            t0 = time.perf_counter()
            for s in range(N):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                if s == N - 1:
                    break
                mask = torch.ones(B, P + s + 1, dtype=torch.int64)
                logits, past = model.forward(nxt, torch.full((B, 1), P + s), additive_bias(mask, 1, torch.float32), past)
            return time.perf_counter() - t0

        run()  # warm-up
        decode[str(B)] = max(B * (N - 1) / run() for _ in range(args["reps"]))
    opt = torch.optim.Adam(list(params.values()), lr=1e-4)
    train_ms = train_step_ms(model, opt, c, args["train_batch"], args["train_seq"], args["reps"])
    print(json.dumps({"decode_tok_s": decode, "train_ms": train_ms, "torch": torch.__version__, "threads": torch.get_num_threads()}))


def train_step_ms(model, opt, c, B, T, reps):
    """The fastest of `reps` LM train steps (forward, cross-entropy, backward, optimizer) on random ids, after a warm-up."""
    ids = torch.randint(0, c["vocab_size"], (B, T + 1))

    def step():
        logits, _ = model.forward(ids[:, :-1], torch.arange(T)[None].expand(B, T), additive_bias(torch.ones(B, T, dtype=torch.int64), T, torch.float32))
        loss = F.cross_entropy(logits.reshape(-1, c["vocab_size"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    return min(times)


if __name__ == "__main__":
    if sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        bench(json.loads(sys.argv[2]))
