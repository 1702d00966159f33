#!/usr/bin/env python3
"""Loads a file with the reference `safetensors` library (safetensors.numpy,
and safetensors.torch when torch is present) and prints one JSON line:
{"metadata": {...}, "tensors": {name: {"dtype", "shape", "sha256"}}, "torch": bool}.

Exits 3 when the library is missing (on Debian: python3-safetensors, trixie
and later; bookworm does not package it), so the caller can skip.

Usage: reference_safetensors.py <file>
"""
import hashlib
import json
import sys

try:
    from safetensors import safe_open
    from safetensors.numpy import load_file
except ImportError:
    print("the safetensors Python library is not installed", file=sys.stderr)
    sys.exit(3)

path = sys.argv[1]
arrays = load_file(path)
with safe_open(path, framework="numpy") as f:
    metadata = f.metadata() or {}
out = {}
for name, a in arrays.items():
    out[name] = {"dtype": str(a.dtype), "shape": list(a.shape), "sha256": hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest()}
has_torch = False
try:
    from safetensors.torch import load_file as load_torch

    tensors = load_torch(path)
    assert sorted(tensors) == sorted(arrays), "safetensors.torch sees other names"
    for name, t in tensors.items():
        assert list(t.shape) == out[name]["shape"], f"{name}: torch shape {list(t.shape)}"
    has_torch = True
except ImportError:
    pass
print(json.dumps({"metadata": metadata, "tensors": out, "torch": has_torch}))
