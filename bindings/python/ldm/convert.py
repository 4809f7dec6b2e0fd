"""ldm-convert: pack a checkpoint into one GGUF file for libldm.

The GGUF file is a faithful container: every float tensor of the source under its source name
(components of a diffusers folder get the CompVis prefix of their role), each component's
config as JSON text under `ldm.config.<component>`, weights stored in the chosen type.
libldm interprets names and configs exactly as it does when it reads the source directly.

Sources: a .safetensors checkpoint, a diffusers folder (pipeline or single component).
"""
import argparse
import json
import mmap
import os
import sys

import numpy as np

from . import gguf_writer

# A diffusers pipeline's component folders and the CompVis prefix each one's tensors get.
COMPONENT_PREFIXES = {
    "vae": "first_stage_model.",
    "vqvae": "first_stage_model.",
    "unet": "model.diffusion_model.",
}
# The component folder a lone diffusers component stands for, by its class.
CLASS_ROLES = {"AutoencoderKL": "vae", "VQModel": "vae", "UNet2DConditionModel": "unet", "UNet2DModel": "unet"}

_FLOAT_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    """{name: float32 array} of the float tensors in a safetensors file (others are skipped)."""
    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in _FLOAT_DTYPES:
            continue
        begin, end = info["data_offsets"]
        a = np.frombuffer(buf, dtype=_FLOAT_DTYPES[info["dtype"]], count=(end - begin) // (2 if info["dtype"] != "F32" else 4),
                          offset=8 + n + begin)
        if info["dtype"] == "BF16":
            a = (a.astype(np.uint32) << 16).view(np.float32)
        out[name] = a.astype(np.float32).reshape(info["shape"])
    return out


def _weights_file(folder):
    for name in ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.fp16.safetensors"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"ldm-convert: {folder} has no .safetensors weights")


def _read_config(path):
    with open(path) as f:
        text = f.read()
    json.loads(text)  # must be valid
    return text


def collect(src):
    """(tensors {name: array}, metadata {key: value}) for a source path."""
    metadata = {"general.architecture": "ldm", "general.name": os.path.basename(os.path.normpath(src))}
    tensors = {}
    if os.path.isdir(src):
        index = os.path.join(src, "model_index.json")
        if os.path.exists(index):
            metadata["ldm.config.model_index"] = _read_config(index)
            components = [c for c in COMPONENT_PREFIXES if os.path.isdir(os.path.join(src, c))]
            folders = [(c, os.path.join(src, c)) for c in components]
            scheduler = os.path.join(src, "scheduler", "scheduler_config.json")
            if os.path.exists(scheduler):
                metadata["ldm.config.scheduler"] = _read_config(scheduler)
        else:
            cls = json.loads(_read_config(os.path.join(src, "config.json"))).get("_class_name", "")
            role = CLASS_ROLES.get(cls)
            if role is None:
                raise SystemExit(f"ldm-convert: {src}: component class {cls or '(none)'} is not supported")
            folders = [(role, src)]
        for role, folder in folders:
            metadata[f"ldm.config.{role}"] = _read_config(os.path.join(folder, "config.json"))
            for name, a in read_safetensors(_weights_file(folder)).items():
                tensors[COMPONENT_PREFIXES[role] + name] = a
    elif src.endswith(".safetensors"):
        tensors = read_safetensors(src)
    else:
        raise SystemExit(f"ldm-convert: {src}: expected a .safetensors file or a diffusers folder")
    return tensors, metadata


def storage_type(name, shape, requested):
    """The per-tensor rule: vectors (norms, biases) stay f32; embedding tables at most f16;
    Q8_0 only where each row is whole 32-element blocks."""
    if len(shape) < 2 or requested == "f32":
        return "f32"
    if "embed" in name or requested != "q8_0":
        return "f16" if requested == "q8_0" else requested
    row = int(np.prod(shape[1:]))
    return "q8_0" if row % gguf_writer.QK8_0 == 0 else "f16"


def convert(src, out, type_name):
    tensors, metadata = collect(src)
    if not tensors:
        raise SystemExit(f"ldm-convert: {src}: no float tensors found")
    metadata["ldm.file_type"] = type_name
    packed = []
    for name in sorted(tensors):
        a = tensors[name]
        t = storage_type(name, a.shape, type_name)
        packed.append((name, list(a.shape), t, gguf_writer.encode(a, t)))
    gguf_writer.write(out, metadata, packed)
    return len(packed)


def main(argv=None):
    p = argparse.ArgumentParser(prog="ldm-convert", description="Convert a checkpoint to a libldm GGUF file.")
    p.add_argument("src", help="a .safetensors checkpoint or a diffusers folder")
    p.add_argument("-o", "--output", required=True, help="the .gguf file to write")
    p.add_argument("--type", default="f16", choices=sorted(gguf_writer.TYPE_IDS), help="weight type (default f16)")
    args = p.parse_args(argv)
    n = convert(args.src, args.output, args.type)
    print(f"ldm-convert: wrote {n} tensors to {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
