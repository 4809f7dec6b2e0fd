"""Finds and loads libldm.so.

Search order: the file named by LDM_LIBRARY_PATH (an explicit choice, so nothing else is tried
when it is set), then a copy shipped inside this package, then the system's library path.
"""
import ctypes
import ctypes.util
import os

ENV_VAR = "LDM_LIBRARY_PATH"
PACKAGE_NAMES = ("libldm.so", "libldm.so.0")


def candidates():
    """The paths or sonames to try, in order."""
    explicit = os.environ.get(ENV_VAR)
    if explicit:
        return [explicit]
    here = os.path.dirname(os.path.abspath(__file__))
    found = [os.path.join(here, n) for n in PACKAGE_NAMES if os.path.exists(os.path.join(here, n))]
    system = ctypes.util.find_library("ldm")
    return found + ([system] if system else []) + ["libldm.so.0"]


def load():
    """The loaded library as a ctypes.CDLL; ImportError listing every attempt if none loads."""
    tried = []
    for name in candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            tried.append(f"  {name}: {e}")
    raise ImportError(
        "ldm: cannot load libldm. Set LDM_LIBRARY_PATH to the libldm.so file, copy libldm.so into "
        "the ldm package folder, or install it on the system library path. Tried:\n" + "\n".join(tried))
