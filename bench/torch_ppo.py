"""The reference for `npm run bench:ppo`: one PPO iteration of the same shape in PyTorch,
timed by phase the way the TypeScript PPO reports it:
  rollout  – KV-cache sampling of `rollout` responses of `new_tokens` tokens (temperature 0.7);
  scoring  – policy log-probs and values, reference log-probs, reward-model scores (no grad);
  update   – KL-shaped rewards, GAE, whitening, `epochs` × `minibatches` clipped PPO updates (Adam).
Takes one JSON argument {"vocab", "ctx", "d", "heads", "layers", "rollout", "prompt_len",
"new_tokens", "epochs", "minibatches", "reps", "threads"} (threads 0 or absent: all cores); runs
reps + 1 iterations, the first a warm-up; prints one JSON line with the median seconds of each
phase and of the whole iteration ("total"), and the process's peak RSS ("peak_rss_mb", from
ru_maxrss, KiB on Linux). Uses the GPT of torch_gpt.py plus a value head and a score head.
"""
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gpt import GPT  # noqa: E402


def hidden_and_logits(model, ids):
    # GPT.forward returns logits; recompute hidden states for the heads the same way.
    x = model.wte(ids) + model.wpe(torch.arange(ids.shape[1]))
    for block in model.h:
        x, _ = block(x)
    h = model.ln_f(x)
    return h, h @ model.wte.weight.T


def main():
    c = json.loads(sys.argv[1])
    torch.manual_seed(0)
    torch.set_num_threads(c.get("threads") or os.cpu_count() or 1)
    mk = lambda: GPT(c["vocab"], c["ctx"], c["d"], c["heads"], c["layers"])
    policy, ref, rm = mk(), mk(), mk()
    v_head, score = nn.Linear(c["d"], 1), nn.Linear(c["d"], 1, bias=False)
    params = list(policy.parameters()) + list(v_head.parameters())
    opt = torch.optim.Adam(params, lr=1e-5)
    B, P, R = c["rollout"], c["prompt_len"], c["new_tokens"]
    prompts = torch.randint(0, c["vocab"], (B, P))
    times = {"rollout": [], "scoring": [], "update": [], "total": []}

    for _ in range(c["reps"] + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            logits, past = policy(prompts)
            out = []
            for t in range(R):
                nxt = torch.multinomial((logits[:, -1] / 0.7).softmax(-1), 1)
                out.append(nxt)
                if t < R - 1:
                    logits, past = policy(nxt, past)
            seq = torch.cat([prompts] + out, dim=1)  # [B, P + R]
        t1 = time.perf_counter()
        with torch.no_grad():
            resp = seq[:, P:]
            h, lg = hidden_and_logits(policy, seq)
            lp = (lg[:, P - 1:-1] / 0.7).log_softmax(-1).gather(-1, resp[..., None])[..., 0]
            values = v_head(h[:, P - 1:-1])[..., 0]
            _, rlg = hidden_and_logits(ref, seq)
            ref_lp = (rlg[:, P - 1:-1] / 0.7).log_softmax(-1).gather(-1, resp[..., None])[..., 0]
            rh, _ = hidden_and_logits(rm, seq)
            scores = score(rh[:, -1])[:, 0]
        t2 = time.perf_counter()
        rewards = -0.05 * (lp - ref_lp)
        rewards[:, -1] += scores
        adv = torch.zeros_like(rewards)
        last = torch.zeros(B)
        for t in reversed(range(R)):
            nv = values[:, t + 1] if t + 1 < R else torch.zeros(B)
            delta = rewards[:, t] + nv - values[:, t]
            last = delta + 0.95 * last
            adv[:, t] = last
        ret = adv + values
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        mb = B // c["minibatches"]
        for _ in range(c["epochs"]):
            order = torch.randperm(B)
            for s in range(0, B - mb + 1, mb):
                i = order[s:s + mb]
                h, lg = hidden_and_logits(policy, seq[i])
                new_lp = (lg[:, P - 1:-1] / 0.7).log_softmax(-1).gather(-1, resp[i][..., None])[..., 0]
                vpred = v_head(h[:, P - 1:-1])[..., 0]
                ratio = (new_lp - lp[i]).exp()
                pg = torch.max(-adv[i] * ratio, -adv[i] * ratio.clamp(0.8, 1.2)).mean()
                vclip = values[i] + (vpred - values[i]).clamp(-0.2, 0.2)
                vf = 0.5 * torch.max((vpred - ret[i]) ** 2, (vclip - ret[i]) ** 2).mean()
                loss = pg + 0.1 * vf
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
        t3 = time.perf_counter()
        for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            times[k].append(v)

    med = lambda xs: sorted(xs[1:])[len(xs[1:]) // 2]  # the first iteration is warm-up
    print(json.dumps({
        **{k: med(v) for k, v in times.items()},
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
