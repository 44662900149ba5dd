"""The PyTorch side of bench/lora.ts: one LoRA SFT train step at a Llama-family shape, LoRA written
as a plain torch module (no peft): each targeted linear adds (alpha / r) * (x @ A.T) @ B.T, A [r, in]
kaiming-uniform, B [out, r] (random here, so every gradient is non-zero), the base weights frozen
(requires_grad False), Adam over A and B only.

  torch_lora.py '<json>'
      {"config": <LlamaConfig as llamaConfig.ts>, "r", "alpha", "targets": ["q_proj", ...],
       "train_seq", "train_batch", "threads", "reps"}: prints one JSON line with the fastest
      train step's ms (forward, loss, backward, Adam) after a warm-up.
"""
import json
import math
import sys

import torch
import torch.nn.functional as F

from torch_llama import Llama, random_params, train_step_ms


class LoraLlama(Llama):
    """The reference Llama with LoRA on the targeted linears (by the module's last name)."""

    def __init__(self, c, params, lora, scale):
        super().__init__(c, params)
        self.lora = lora
        self.scale = scale

    def linear(self, x, name):
        y = super().linear(x, name)
        pair = self.lora.get(name)
        if pair is None:
            return y
        a, b = pair
        return y + F.linear(F.linear(x, a) * self.scale, b)


def main(args):
    c = args["config"]
    torch.manual_seed(0)
    torch.set_num_threads(args["threads"])
    with torch.no_grad():
        params = {k: v.detach() for k, v in random_params(c).items()}
    r = args["r"]
    lora = {}
    for name, w in params.items():
        module = name[: -len(".weight")]
        if name.endswith(".weight") and module.split(".")[-1] in args["targets"]:
            out_dim, in_dim = w.shape
            a = torch.empty(r, in_dim)
            torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            lora[module] = (a.requires_grad_(), (torch.randn(out_dim, r) * 0.01).requires_grad_())
    model = LoraLlama(c, params, lora, args["alpha"] / r)
    opt = torch.optim.Adam([t for pair in lora.values() for t in pair], lr=1e-4)
    train_ms = train_step_ms(model, opt, c, args["train_batch"], args["train_seq"], args["reps"])
    adapter = sum(t.numel() for pair in lora.values() for t in pair)
    print(json.dumps({"train_ms": train_ms, "adapter_params": adapter, "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
