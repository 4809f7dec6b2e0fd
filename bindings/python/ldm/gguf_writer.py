"""A minimal GGUF v3 writer (no dependency beyond numpy).

Layout: magic, version, tensor count, key/value count, typed key/values, tensor infos (name,
dims fastest-first, ggml type, offset), then the tensor data, each aligned to 32 bytes.
"""
import struct

import numpy as np

ALIGNMENT = 32
GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16 = 0, 1, 8, 30
TYPE_IDS = {"f32": GGML_F32, "f16": GGML_F16, "bf16": GGML_BF16, "q8_0": GGML_Q8_0}
QK8_0 = 32

_UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY, _INT64, _FLOAT64 = 4, 5, 6, 7, 8, 9, 11, 12


def quantize_q8_0(x):
    """ggml's reference Q8_0: per block of 32, d = max|x| / 127 stored as fp16, q = round(x / d)."""
    blocks = np.asarray(x, dtype=np.float32).reshape(-1, QK8_0)
    d = np.abs(blocks).max(axis=1) / 127.0
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    scaled = blocks * inv[:, None]
    q = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int8)  # C roundf: half away from zero
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", QK8_0)])
    out["d"] = d.astype(np.float16)
    out["qs"] = q
    return out.tobytes()


def encode(array, type_name):
    """The bytes of `array` (any float dtype) stored as `type_name`."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if type_name == "f32":
        return a.astype("<f4").tobytes()
    if type_name == "f16":
        return a.astype("<f2").tobytes()
    if type_name == "bf16":
        bits = a.view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")  # round to nearest even
        return rounded.tobytes()
    if type_name == "q8_0":
        return quantize_q8_0(a)
    raise ValueError(f"unknown type {type_name}")


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(v):
    if isinstance(v, bool):
        return struct.pack("<I?", _BOOL, v)
    if isinstance(v, int):
        return struct.pack("<Iq", _INT64, v)
    if isinstance(v, float):
        return struct.pack("<Id", _FLOAT64, v)
    if isinstance(v, str):
        return struct.pack("<I", _STRING) + _string(v)
    if isinstance(v, (list, tuple)):
        if all(isinstance(e, str) for e in v):
            return struct.pack("<IIQ", _ARRAY, _STRING, len(v)) + b"".join(_string(e) for e in v)
        if all(isinstance(e, int) and not isinstance(e, bool) for e in v):
            return struct.pack("<IIQ", _ARRAY, _INT32, len(v)) + np.asarray(v, dtype="<i4").tobytes()
        if all(isinstance(e, float) for e in v):
            return struct.pack("<IIQ", _ARRAY, _FLOAT32, len(v)) + np.asarray(v, dtype="<f4").tobytes()
    raise TypeError(f"cannot store {type(v).__name__} in GGUF metadata")


def write(path, metadata, tensors):
    """metadata: {key: value}; tensors: [(name, shape, type_name, data_bytes)]."""
    header = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for key, value in metadata.items():
        header += _string(key) + _value(value)
    offset = 0
    offsets = []
    for name, shape, type_name, data in tensors:
        offsets.append(offset)
        dims = list(reversed(shape)) or [1]
        header += _string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        header += struct.pack("<IQ", TYPE_IDS[type_name], offset)
        offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
    header += b"\0" * (-len(header) % ALIGNMENT)
    with open(path, "wb") as f:
        f.write(header)
        for _, _, _, data in tensors:
            f.write(data)
            f.write(b"\0" * (-len(data) % ALIGNMENT))
