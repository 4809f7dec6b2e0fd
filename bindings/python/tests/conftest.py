"""Shared test setup: which library and which package to test, and the golden files.

The golden files come from tools/make_fixtures.py (diffusers on tiny random models); they are
read here with a small numpy safetensors reader so that the tests need neither torch nor the
safetensors package.
"""
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # bindings/python
REPO_ROOT = PACKAGE_ROOT.parents[1]
FIXTURES = REPO_ROOT / "Tests" / "Fixtures"
CLI = REPO_ROOT / "build" / "examples" / "ldm"  # the command-line program, built by `make examples`

# Test this checkout's package, against the library built in this checkout unless told otherwise.
sys.path.insert(0, str(PACKAGE_ROOT))
os.environ.setdefault("LDM_LIBRARY_PATH", str(REPO_ROOT / ".build" / "release" / "libldm.so"))

_DTYPES = {"F32": "<f4", "F16": "<f2"}


def read_safetensors(path):
    """{name: float32 array} of a safetensors file holding F32/F16 tensors."""
    data = Path(path).read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        a = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=_DTYPES[info["dtype"]])
        out[name] = a.astype(np.float32).reshape(info["shape"])
    return out


@cache
def reference(case):
    """The golden tensors of a fixture case ("ae_kl_attn", "ae_kl_f8", "ae_vq")."""
    refs = read_safetensors(FIXTURES / f"{case}.ref.safetensors")
    refs["image"] = refs["image"].astype(np.uint8)  # stored as float 0..255, whole numbers
    return refs


def rel_err(ours, ref):
    """max|ours - ref| / max|ref|: the error measure of every parity check."""
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.abs(ours.astype(np.float64) - ref).max() / np.abs(ref).max())


@pytest.fixture(scope="module")
def cli():
    if not (CLI.is_file() and os.access(CLI, os.X_OK)):
        pytest.fail(f"{CLI} is missing: run `make examples` in {REPO_ROOT} to build the ldm command-line program")
    return CLI


def ldm_run(cli, *args, timeout=300):
    """Runs the program; (returncode, stdout, stderr) with the output decoded."""
    p = subprocess.run([str(cli), *map(str, args)], cwd=REPO_ROOT, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
