"""ldm-convert: pack a checkpoint into one GGUF file for libldm.

The GGUF file is a faithful container: every float tensor of the source under its source name
(components of a diffusers folder get the CompVis prefix of their role), each component's
config as JSON text under `ldm.config.<component>` (a CompVis yaml under ldm.config.compvis),
the tokenizer's vocabulary under tokenizer.ggml.*, and the weights in the chosen type.
libldm interprets names and configs exactly as it does when it reads the source directly.

Sources: .safetensors and .ckpt checkpoints (a .ckpt is read with torch.load(weights_only=True),
which never runs code from the file), and diffusers folders (a pipeline or one component).
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
    "text_encoder": "cond_stage_model.transformer.",
    "bert": "cond_stage_model.bert.",
}
# The component folder a lone diffusers component stands for, by its class.
CLASS_ROLES = {"AutoencoderKL": "vae", "VQModel": "vae", "UNet2DConditionModel": "unet", "UNet2DModel": "unet",
               "CLIPTextModel": "text_encoder", "LDMBertModel": "bert"}

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


def read_ckpt(path, ema=True):
    """{name: float32 array} from a PyTorch checkpoint, loaded without unpickling code. With
    `ema`, the UNet's EMA weights (model_ema.*) replace its training weights, as CompVis's
    sampling scripts use them."""
    import torch
    obj = torch.load(path, map_location="cpu", weights_only=True)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise SystemExit(f"ldm-convert: {path} holds no state dict")
    tensors = {k: v for k, v in state.items() if hasattr(v, "dtype") and v.is_floating_point()}
    if ema:
        for k in [k for k in tensors if k.startswith("model.diffusion_model.")]:
            shadow = "model_ema." + k[len("model."):].replace(".", "")
            if shadow in tensors:
                tensors[k] = tensors[shadow]
    return {k: v.float().numpy() for k, v in tensors.items() if not k.startswith("model_ema.")}


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


def _token_id(config, key, vocab):
    """The id of a special token named in a tokenizer config (a string or {"content": ...})."""
    v = config.get(key)
    if isinstance(v, dict):
        v = v.get("content")
    return vocab.get(v) if isinstance(v, str) else None


def _tokenizer_json(folder):
    """(kind, vocab, merges, lowercase) from a `tokenizers` file (what transformers 5 saves)."""
    with open(os.path.join(folder, "tokenizer.json"), encoding="utf-8") as f:
        spec = json.load(f)
    model = spec.get("model", {})
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    kind = {"BPE": "clip", "WordPiece": "bert"}.get(model.get("type"))
    if kind is None:
        raise SystemExit(f"ldm-convert: {folder}/tokenizer.json: model type {model.get('type')} is not supported")
    lowercase = (spec.get("normalizer") or {}).get("lowercase", True)
    return kind, model["vocab"], merges, lowercase


def tokenizer_metadata(folder):
    """GGUF tokenizer keys from a transformers tokenizer folder: CLIP byte-level BPE
    (vocab.json + merges.txt) or BERT WordPiece (vocab.txt), or a tokenizer.json of either."""
    config = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        p = os.path.join(folder, name)
        if os.path.exists(p):
            with open(p) as f:
                config.update(json.load(f))
    lowercase = bool(config.get("do_lower_case", True))
    if os.path.exists(os.path.join(folder, "merges.txt")) and os.path.exists(os.path.join(folder, "vocab.json")):
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            merges = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
        kind = "clip"
    elif os.path.exists(os.path.join(folder, "vocab.txt")):
        with open(os.path.join(folder, "vocab.txt"), encoding="utf-8") as f:
            vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
        kind, merges = "bert", []
    elif os.path.exists(os.path.join(folder, "tokenizer.json")):
        kind, vocab, merges, lowercase = _tokenizer_json(folder)
    else:
        raise SystemExit(f"ldm-convert: {folder} has no vocab.json + merges.txt, vocab.txt or tokenizer.json")
    meta = {"tokenizer.ggml.model": kind}
    if kind == "clip":
        meta["tokenizer.ggml.merges"] = merges
        specials = {"bos_token": "tokenizer.ggml.bos_token_id", "eos_token": "tokenizer.ggml.eos_token_id",
                    "pad_token": "tokenizer.ggml.padding_token_id", "unk_token": "tokenizer.ggml.unknown_token_id"}
    else:
        meta["ldm.tokenizer.lowercase"] = lowercase
        specials = {"cls_token": "tokenizer.ggml.bos_token_id", "sep_token": "tokenizer.ggml.eos_token_id",
                    "pad_token": "tokenizer.ggml.padding_token_id", "unk_token": "tokenizer.ggml.unknown_token_id"}
    tokens = sorted(vocab, key=vocab.get)
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise SystemExit(f"ldm-convert: {folder}: token ids are not 0 ... n-1")
    meta["tokenizer.ggml.tokens"] = tokens
    for key, gguf_key in specials.items():
        i = _token_id(config, key, vocab)
        if i is not None:
            meta[gguf_key] = i
    if isinstance(config.get("model_max_length"), int) and config["model_max_length"] < 1 << 20:
        meta["ldm.tokenizer.max_length"] = config["model_max_length"]
    return meta


def collect(src, config=None, tokenizer=None, ema=True):
    """(tensors {name: array}, metadata {key: value}) for a source path."""
    metadata = {"general.architecture": "ldm", "general.name": os.path.basename(os.path.normpath(src))}
    tensors = {}
    if os.path.isdir(src):
        index = os.path.join(src, "model_index.json")
        if os.path.exists(index):
            metadata["ldm.config.model_index"] = _read_config(index)
            folders = [(c, os.path.join(src, c)) for c in COMPONENT_PREFIXES if os.path.isdir(os.path.join(src, c))]
            scheduler = os.path.join(src, "scheduler", "scheduler_config.json")
            if os.path.exists(scheduler):
                metadata["ldm.config.scheduler"] = _read_config(scheduler)
            if tokenizer is None and os.path.isdir(os.path.join(src, "tokenizer")):
                tokenizer = os.path.join(src, "tokenizer")
        else:
            cls = json.loads(_read_config(os.path.join(src, "config.json"))).get("_class_name")
            cls = cls or json.loads(_read_config(os.path.join(src, "config.json"))).get("architectures", [""])[0]
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
    elif src.endswith((".ckpt", ".pt", ".pth")):
        tensors = read_ckpt(src, ema)
    else:
        raise SystemExit(f"ldm-convert: {src}: expected a .safetensors or .ckpt file or a diffusers folder")
    if config:
        import yaml
        with open(config) as f:
            spec = yaml.safe_load(f)
        metadata["ldm.config.compvis"] = json.dumps(spec.get("model", spec))
    if tokenizer:
        metadata.update(tokenizer_metadata(tokenizer))
    return tensors, metadata


def storage_type(name, shape, requested):
    """The per-tensor rule: vectors (norms, biases) stay f32; embedding tables at most f16;
    Q8_0 only where each row is whole 32-element blocks."""
    if len(shape) < 2 or requested == "f32":
        return "f32"
    if "embed" in name or "emb." in name or name.endswith("emb.weight") or requested != "q8_0":
        return "f16" if requested == "q8_0" else requested
    row = int(np.prod(shape[1:]))
    return "q8_0" if row % gguf_writer.QK8_0 == 0 else "f16"


def convert(src, out, type_name, config=None, tokenizer=None, ema=True):
    tensors, metadata = collect(src, config, tokenizer, ema)
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
    p.add_argument("src", help="a .safetensors or .ckpt checkpoint, or a diffusers folder")
    p.add_argument("-o", "--output", required=True, help="the .gguf file to write")
    p.add_argument("--type", default="f16", choices=sorted(gguf_writer.TYPE_IDS), help="weight type (default f16)")
    p.add_argument("--config", help="the CompVis yaml of an LDM zoo checkpoint (architecture, schedule, conditioning)")
    p.add_argument("--tokenizer", help="a tokenizer folder (vocab.json + merges.txt, or vocab.txt) to embed")
    p.add_argument("--no-ema", dest="ema", action="store_false", help="keep a .ckpt's training weights, not its EMA")
    args = p.parse_args(argv)
    n = convert(args.src, args.output, args.type, args.config, args.tokenizer, args.ema)
    print(f"ldm-convert: wrote {n} tensors to {args.output} ({os.path.getsize(args.output) / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
