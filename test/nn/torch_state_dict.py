#!/usr/bin/env python3
"""Saves a PyTorch ConvNet's state dict as PyTorch users do, and what PyTorch
itself loads from it, for test/nn/torch-checkpoint.test.ts.

The ConvNet is the torch.nn definition that docs/pytorch-checkpoints.md gives
for the zoo's `convnet` (here for 1x8x8 images, 10 classes), after one
training-mode forward so that its BatchNorm statistics are not trivial.
Writes into <out-dir>, for each variant V:

  V.safetensors           the state dict as saved:
                            float16: model.half()'s state dict
                            bfloat16-dataparallel: nn.DataParallel(model) in
                              bfloat16 (every name 'module.'), without
                              num_batches_tracked
  V.expected.safetensors  a fresh float32 ConvNet's state dict after
                          load_state_dict of V (the DataParallel prefix
                          removed with consume_prefix_in_state_dict_if_present)
  V.logits.safetensors    'input' (4x1x8x8) and that model's eval-mode 'logits'

Files are written with safetensors.torch.save_file when the library is
installed, else by hand from the format (same layout). Exits 3 when torch is
missing, so that the caller can skip.

Usage: torch_state_dict.py <out-dir>
"""
import json
import os
import struct
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
except ImportError as error:
    print(f"PyTorch is not installed: {error}", file=sys.stderr)
    sys.exit(3)


class ConvNet(nn.Module):
    """sparse-soups' `convnet`: conv-bn-relu-pool twice, then two linear layers."""

    def __init__(self, in_channels=1, num_classes=10, image_size=28):
        super().__init__()
        pooled = image_size // 2 // 2
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * pooled * pooled, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


TAGS = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def save(path, tensors):
    tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, path, metadata={"format": "pt"})
        return
    header = {"__metadata__": {"format": "pt"}}
    chunks = []
    offset = 0
    # the reference writer's order: largest dtype first, then by name
    for name, t in sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0])):
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": TAGS[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for raw in chunks:
            f.write(raw)


def cast(state, dtype):
    return {name: t.to(dtype) if t.is_floating_point() else t for name, t in state.items()}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    torch.manual_seed(0)
    model = ConvNet(image_size=8)
    with torch.no_grad():
        model.train()(torch.randn(16, 1, 8, 8))  # BN statistics move, num_batches_tracked becomes 1

    half = cast(model.state_dict(), torch.float16)
    wrapped = cast(nn.DataParallel(model).state_dict(), torch.bfloat16)
    without_counts = {name: t for name, t in wrapped.items() if not name.endswith("num_batches_tracked")}
    variants = {"float16": half, "bfloat16-dataparallel": without_counts}

    x = torch.linspace(-1, 1, 4 * 8 * 8).reshape(4, 1, 8, 8)
    for name, state in variants.items():
        save(os.path.join(out, f"{name}.safetensors"), state)
        loaded = dict(state)
        consume_prefix_in_state_dict_if_present(loaded, "module.")
        fresh = ConvNet(image_size=8)
        fresh.load_state_dict(loaded)
        save(os.path.join(out, f"{name}.expected.safetensors"), fresh.state_dict())
        with torch.no_grad():
            logits = fresh.eval()(x)
        save(os.path.join(out, f"{name}.logits.safetensors"), {"input": x, "logits": logits})
    print(json.dumps({"torch": torch.__version__, "variants": sorted(variants)}))


if __name__ == "__main__":
    main()
