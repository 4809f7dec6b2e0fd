#!/usr/bin/env python3
"""Builds the golden files under Tests/Fixtures from the reference implementation.

Tiny models with random weights (fixed seeds) are built with diffusers, run on fixed inputs,
and stored with their outputs as safetensors; tools/fixtures/ has one module per family.
Never edit the outputs by hand: change the builders and run this again
    python3 tools/make_fixtures.py [OUT_DIR]      (versions: tools/requirements.txt)
tools/tests/test_fixtures.py checks that the committed files are what this makes.
"""
import json
import os
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from fixtures import autoencoders, pipelines, randn, samplers, text_encoders, tokenizers, unets  # noqa: E402

FAMILIES = [autoencoders, randn, unets, samplers, text_encoders, tokenizers, pipelines]  # pipelines last: they reuse the tokenizer vocabulary


def main():
    out = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures")
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for family in FAMILIES:
        family.make(out)
    with open(os.path.join(out, "VERSIONS.json"), "w") as f:
        json.dump({"torch": torch.__version__, "diffusers": __import__("diffusers").__version__}, f, indent=1)
    size = int(subprocess.check_output(["du", "-sk", out]).split()[0])
    print(f"fixtures written to {out} ({size} KB)")


if __name__ == "__main__":
    main()
