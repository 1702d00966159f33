#!/usr/bin/env python3
"""Independent safetensors reader and writer, for the interop tests.

Written from the format spec with only json and numpy (torch, if present,
builds tensors from what was read), so that it shares no code with the
TypeScript implementation under test.

Usage:
  read_safetensors.py read <file>    print a JSON summary of <file>
  read_safetensors.py write <file>   write a fixed set of test tensors, in the
                                     reference writer's order (dtype alignment,
                                     then name), and print their summary

Summary: {"metadata": {...}, "tensors": [{"name", "dtype", "shape", "sha256",
"sum", "torch_sum"}, ...]} with tensors in data-buffer order. "sum" is the
exact (math.fsum) sum of a float tensor as a JSON number, or "NaN",
"Infinity", "-Infinity"; for integer and BOOL tensors it is the exact sum as
a decimal string. "torch_sum" is the same computed by torch (null if torch is
missing); for F16/BF16 it is the float64 sum of the torch tensor.
"""
import hashlib
import json
import math
import struct
import sys

import numpy as np

try:
    import torch
except ImportError:  # torch is optional: only the torch_sum field needs it
    torch = None

# dtype tag -> numpy dtype of the stored bits (F16/BF16 as raw 16-bit words)
NUMPY_DTYPE = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
FLOAT_TAGS = {"F64", "F32", "F16", "BF16"}


def fail(path, problem):
    sys.exit(f"{path}: {problem}")


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        fail(path, "shorter than 8 bytes")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        fail(path, "header length beyond the end of the file")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    metadata = header.pop("__metadata__", {})
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))
    covered = 0
    tensors = []
    for name, info in entries:
        begin, end = info["data_offsets"]
        dtype = NUMPY_DTYPE[info["dtype"]]
        shape = info["shape"]
        if begin != covered:
            fail(path, f"{name}: gap or overlap at {begin}")
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            fail(path, f"{name}: size does not match shape")
        covered = end
        array = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=begin)
        tensors.append((name, info["dtype"], array.reshape(shape)))
    if covered != len(data):
        fail(path, "tensors do not cover the data buffer")
    return metadata, tensors


def as_float64(tag, array):
    if tag == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return array.astype(np.float64)


def json_float(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def exact_sum(tag, array):
    if tag in FLOAT_TAGS:
        values = as_float64(tag, array).ravel().tolist()
        if any(math.isnan(v) for v in values):
            return "NaN"
        return json_float(math.fsum(values))
    return str(sum(int(v) for v in array.ravel().tolist()))


def torch_sum(tag, array):
    if torch is None:
        return None
    if tag == "BF16":
        tensor = torch.from_numpy(array.astype(np.int16)).view(torch.bfloat16)
    else:
        tensor = torch.from_numpy(array.copy())
    if tag in FLOAT_TAGS:
        return json_float(float(tensor.double().sum()))
    if tag == "BOOL":
        return str(int(tensor.sum()))
    return str(sum(int(v) for v in tensor.reshape(-1).tolist()))


def summary(metadata, tensors):
    return {
        "metadata": metadata,
        "tensors": [
            {
                "name": name,
                "dtype": tag,
                "shape": list(array.shape),
                "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest(),
                "sum": exact_sum(tag, array),
                "torch_sum": torch_sum(tag, array),
            }
            for name, tag, array in tensors
        ],
    }


def test_tensors():
    f32_special = np.array([0x7FC00000, 0x80000000, 0x7F800000, 0xFF800000, 1, 0x7FC01234], dtype="<u4").view("<f4")
    bf16 = (np.array([1.0, -3.5, 1e38, np.inf, 0.0], dtype="<f4").view("<u4") >> 16).astype("<u2")
    return {
        "weights": ("F32", (np.arange(6, dtype="<f4") * 0.5 - 1).reshape(2, 3)),
        "special": ("F32", f32_special),
        "values": ("F64", np.array([1 / 3, -2.5e300, 5e-324], dtype="<f8")),
        "scalar": ("F64", np.array(3.25, dtype="<f8")),
        "half": ("F16", np.array([0, -0.0, 1, 65504, 2**-24, -2.5, 0.1], dtype="<f2")),
        "half_special": ("F16", np.array([np.inf, -np.inf, np.nan], dtype="<f2")),
        "brain": ("BF16", bf16),
        "big": ("I64", np.array([-(2**63), 2**63 - 1, 0, -1], dtype="<i8")),
        "empty_i64": ("I64", np.zeros((2, 0), dtype="<i8")),
        "ints": ("I32", np.array([[-(2**31), 2**31 - 1], [7, -7]], dtype="<i4")),
        "shorts": ("I16", np.array([-32768, 32767, 5], dtype="<i2")),
        "bytes_signed": ("I8", np.array([-128, 127, 0], dtype="i1")),
        "bytes": ("U8", np.array([0, 255, 128], dtype="u1")),
        "mask": ("BOOL", np.array([True, False, True], dtype="?")),
        "empty": ("F32", np.zeros((0,), dtype="<f4")),
    }


def write(path):
    metadata = {"format": "pt", "writer": "read_safetensors.py"}
    items = sorted(test_tensors().items(), key=lambda kv: (-kv[1][1].dtype.itemsize, kv[0]))
    header = {"__metadata__": metadata}
    offset = 0
    for name, (tag, array) in items:
        size = array.size * array.dtype.itemsize
        header[name] = {"dtype": tag, "shape": list(array.shape), "data_offsets": [offset, offset + size]}
        offset += size
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for _, (_, array) in items:
            f.write(np.ascontiguousarray(array).tobytes())
    return metadata, [(name, tag, array) for name, (tag, array) in items]


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("read", "write"):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    metadata, tensors = read(path) if mode == "read" else write(path)
    print(json.dumps(summary(metadata, tensors), allow_nan=False))


if __name__ == "__main__":
    main()
