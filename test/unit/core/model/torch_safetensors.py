"""Reads a safetensors file the way PyTorch itself sees the bytes, with plain torch (no
safetensors package): the header parsed with json, each tensor a torch.frombuffer view at its
data_offsets. The file holds one float32 tensor `v.f32` and our BF16 and F16 encodings of the
same values, `v.bf16` and `v.f16`. Checks each encoding bit for bit against torch's own
`.to(torch.bfloat16)` / `.to(torch.float16)` of `v.f32` (NaNs need only stay NaN: torch's scalar
and vectorized paths give NaN different bits), writes torch's float32 decoding of v.bf16 then
v.f16 as little-endian bits to argv[2], and prints one JSON line of counts.
Usage: python3 torch_safetensors.py FILE.safetensors OUT.bin
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
INT_VIEW = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}


def read(path):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    (n,) = struct.unpack("<Q", bytes(data[:8]))
    header = json.loads(bytes(data[8 : 8 + n]).decode("utf-8"))
    header.pop("__metadata__", None)
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        size = torch.empty(0, dtype=dtype).element_size()
        assert (8 + n + begin) % size == 0, f"{name}: data not aligned to its {size}-byte elements"
        t = torch.frombuffer(data, dtype=dtype, count=(end - begin) // size, offset=8 + n + begin)
        tensors[name] = t.reshape(info["shape"])
    return tensors


def compare(x, ours, dtype):
    theirs = x.to(dtype)
    same = (ours.view(INT_VIEW[dtype]) == theirs.view(INT_VIEW[dtype])) | (torch.isnan(ours) & torch.isnan(theirs))
    bad = (~same).nonzero().flatten()[:5].tolist()
    first = [
        {
            "f32": hex(x.view(torch.int32)[i].item() & 0xFFFFFFFF),
            "ours": hex(ours.view(torch.int16)[i].item() & 0xFFFF),
            "torch": hex(theirs.view(torch.int16)[i].item() & 0xFFFF),
        }
        for i in bad
    ]
    return {"count": x.numel(), "mismatches": int((~same).sum()), "first": first}


def main():
    tensors = read(sys.argv[1])
    x = tensors["v.f32"]
    report = {
        "torch": torch.__version__,
        "bf16": compare(x, tensors["v.bf16"], torch.bfloat16),
        "f16": compare(x, tensors["v.f16"], torch.float16),
    }
    decoded = torch.cat([tensors["v.bf16"].float(), tensors["v.f16"].float()]).view(torch.int32).tolist()
    with open(sys.argv[2], "wb") as f:
        f.write(struct.pack(f"<{len(decoded)}I", *[v & 0xFFFFFFFF for v in decoded]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
