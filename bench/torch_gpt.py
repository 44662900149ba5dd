"""The reference for `npm run bench:model`: the same GPT-2 (HF layout, tied LM head, gelu_new)
in PyTorch, timed the same way. Takes one JSON argument
  {"vocab", "ctx", "d", "heads", "layers", "batch", "reps", "prompt_len", "threads", "only"}
(threads 0 or absent: all cores; only "train": skip sampling, report peak RSS, for bench:train)
and prints one JSON line: train step ms (fwd + cross-entropy + bwd + Adam; median and min),
KV-cache sampling tokens/s (temperature 1), torch version and thread count.
Needs only torch (Debian: python3-torch libopenblas0-pthread); no transformers.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, past=None):
        B, T, C = x.shape
        H, D = self.heads, C // self.heads
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, H, D).transpose(1, 2)  # [B, H, T, D]
        k = k.view(B, T, H, D).transpose(1, 2)
        v = v.view(B, T, H, D).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        Tk = k.shape[2]
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)  # [B, H, T, Tk]
        causal = torch.ones(T, Tk, dtype=torch.bool).tril(Tk - T)
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)  # [B, T, C]
        x = x + self.c_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, (k, v)


class GPT(nn.Module):
    def __init__(self, vocab, ctx, d, heads, layers):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.h = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids, past=None):
        start = 0 if past is None else past[0][0].shape[2]
        pos = torch.arange(start, start + ids.shape[1])
        x = self.wte(ids) + self.wpe(pos)
        present = []
        for i, block in enumerate(self.h):
            x, kv = block(x, None if past is None else past[i])
            present.append(kv)
        return self.ln_f(x) @ self.wte.weight.T, present  # tied head, [B, T, V]


def timed(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    c = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(c.get("threads") or os.cpu_count() or 1)
    model = GPT(c["vocab"], c["ctx"], c["d"], c["heads"], c["layers"])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ids = torch.randint(0, c["vocab"], (c["batch"], c["ctx"] + 1))

    def train_step():
        logits, _ = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, c["vocab"]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()

    train_ms, train_min = timed(train_step, 2 if c["ctx"] * c["d"] < 100_000 else 1, c["reps"])
    if c.get("only") == "train":
        # bench:train: the train step alone, and the process's peak RSS (ru_maxrss is in KiB on Linux).
        import resource
        print(json.dumps({
            "train_ms": train_ms,
            "train_min_ms": train_min,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        }))
        return

    prompt = torch.randint(0, c["vocab"], (c["batch"], c["prompt_len"]))
    new_tokens = c["ctx"] - c["prompt_len"]

    @torch.no_grad()
    def sample():
        logits, past = model(prompt)
        for t in range(new_tokens):
            probs = logits[:, -1].softmax(-1)
            nxt = torch.multinomial(probs, 1)  # [B, 1]
            if t == new_tokens - 1:
                break
            logits, past = model(nxt, past)

    # At least 3 timed runs: one run is at the mercy of whatever else the machine is doing.
    sample_ms, _ = timed(sample, 1, max(3, c["reps"] // 3))
    print(json.dumps({
        "train_ms": train_ms,
        "train_min_ms": train_min,
        "sample_tok_s": c["batch"] * new_tokens / sample_ms * 1000,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
