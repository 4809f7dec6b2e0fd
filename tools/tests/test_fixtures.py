"""The committed golden files are exactly what tools/make_fixtures.py makes from the reference
implementation: regenerate them in a scratch folder and compare every file, byte for byte."""
import filecmp
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")


def files(top):
    return sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)


def test_fixtures_regenerate_identically(tmp_path):
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_fixtures.py"), str(tmp_path)], check=True)
    assert files(tmp_path) == files(FIXTURES)
    _, mismatch, errors = filecmp.cmpfiles(FIXTURES, tmp_path, files(FIXTURES), shallow=False)
    assert not mismatch and not errors, f"fixtures differ from a fresh run: {mismatch + errors}"
