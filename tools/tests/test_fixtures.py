"""The committed golden files are what tools/make_fixtures.py makes from the reference
implementation: regenerate them in a scratch folder and compare every file. Byte for byte,
except the values torch computes, whose last bits depend on the CPU's kernels (summation order
differs between instruction sets): those agree within 2e-5 of each tensor's largest magnitude,
8-bit images within one level."""
import filecmp
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")


def files(top):
    return sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)


def differences(committed, fresh):
    """What differs beyond the CPU's rounding between two safetensors files."""
    a, b = load_file(committed), load_file(fresh)
    if a.keys() != b.keys():
        return [f"tensors {sorted(a.keys() ^ b.keys())}"]
    out = []
    for name, x in a.items():
        y = b[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            out.append(f"{name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
            continue
        x, y = x.astype(np.float64), y.astype(np.float64)
        diff = np.abs(x - y).max(initial=0)
        if x.size and np.array_equal(x, np.round(x)) and x.min() >= 0 and 1 < x.max() <= 255:  # 8-bit pixels as floats
            if diff > 1:
                out.append(f"{name}: pixels more than one level apart")
        elif diff > 2e-5 * np.abs(x).max(initial=0):
            out.append(f"{name}: values differ by {diff:.3g}")
    return out


def test_fixtures_regenerate(tmp_path):
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_fixtures.py"), str(tmp_path)], check=True)
    assert files(tmp_path) == files(FIXTURES)
    _, mismatch, errors = filecmp.cmpfiles(FIXTURES, tmp_path, files(FIXTURES), shallow=False)
    assert not errors, f"unreadable: {errors}"
    problems = {f: d for f in mismatch if f.endswith(".safetensors")
                for d in [differences(os.path.join(FIXTURES, f), os.path.join(tmp_path, f))] if d}
    problems.update({f: ["bytes differ"] for f in mismatch if not f.endswith(".safetensors")})
    assert not problems, f"fixtures differ from a fresh run: {problems}"
