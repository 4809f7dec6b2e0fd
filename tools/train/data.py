"""Procedural captioned scenes for the libldm toy text-to-image LDM (numpy only).

A scene is a 64x64 RGB image with one or two flat-shaded objects on a textured background,
plus a template caption, e.g.

    "a small red circle left of a big yellow square on a dark blue background"
    "a big cyan cross on a gray background"

Grammar (also in models/README.md):
    caption  := object [relation object] " on a " bgcolour " background"
    object   := "a " size " " colour " " shape
    size     := small | big
    colour   := red | green | blue | yellow | white | black | cyan | magenta
    shape    := circle | square | triangle | diamond | cross
    relation := "left of" | "right of" | "above" | "below"
    bgcolour := gray | dark blue | dark green | brown | purple

Held-out split: every scene has a canonical attribute key (relations "right of"/"below" are
rewritten as "left of"/"above" with the two objects swapped, so both phrasings of one scene get
the same key); a key is held out when sha256(key) mod 10 == 0 (10% of all combinations).
Training never sees a held-out combination; evaluation prompts are drawn only from them.

Everything here is deterministic given a seed and needs only numpy.
"""
from __future__ import annotations

import hashlib
import re

import numpy as np

IMAGE_SIZE = 64

OBJ_COLOURS = {
    "red": (220, 40, 40),
    "green": (60, 205, 60),
    "blue": (40, 80, 235),
    "yellow": (240, 220, 40),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
    "cyan": (40, 210, 220),
    "magenta": (220, 50, 200),
}
BG_COLOURS = {
    "gray": (128, 128, 128),
    "dark blue": (40, 50, 130),
    "dark green": (45, 105, 55),
    "brown": (130, 85, 45),
    "purple": (105, 55, 135),
}
SHAPES = ("circle", "square", "triangle", "diamond", "cross")
SIZES = ("small", "big")
RELATIONS = ("left of", "right of", "above", "below")
COLOURS = tuple(OBJ_COLOURS)
BACKGROUNDS = tuple(BG_COLOURS)

# half-extent r of the object's bounding box (the box is 2r x 2r for every shape)
SIZE_RANGE = {"small": (7.0, 8.5), "big": (11.5, 14.0)}
SIZE_THRESHOLD = 20.0  # bbox extent (pixels) separating small (14..17) from big (23..28)
P_SINGLE = 0.25  # fraction of one-object scenes
CROSS_ARM = 0.38  # half-width of a cross arm relative to r
SHADE = 30.0  # +-shading of objects (intensity units)
HELDOUT_MOD = 10

VOCAB_WORDS = sorted(
    {w for c in COLOURS for w in c.split()}
    | {w for b in BACKGROUNDS for w in b.split()}
    | set(SHAPES) | set(SIZES)
    | {w for r in RELATIONS for w in r.split()}
    | {"a", "on", "background"}
)
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


# ----------------------------------------------------------------------------- shapes
def shape_sdf(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Approximate signed distance (pixels, <0 inside) of a shape centred at 0 with half-extent r.
    dx grows to the right, dy grows downwards. Triangles point up."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(ax, ay) - r
    if shape == "diamond":
        return (ax + ay - r) / np.sqrt(2.0)
    if shape == "triangle":  # vertices (0,-r), (-r,r), (r,r)
        s5 = np.sqrt(5.0)
        return np.maximum(dy - r, (2.0 * ax - (dy + r)) / s5)
    if shape == "cross":
        a = CROSS_ARM * r
        b1 = np.maximum(ax - r, ay - a)
        b2 = np.maximum(ax - a, ay - r)
        return np.minimum(b1, b2)
    raise ValueError(shape)


_YY, _XX = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)


def shape_mask(shape: str, cx: float, cy: float, r: float, size: int = IMAGE_SIZE) -> np.ndarray:
    """Boolean mask of an ideal shape (used by the evaluator's template matching)."""
    yy, xx = (_YY, _XX) if size == IMAGE_SIZE else np.mgrid[0:size, 0:size].astype(np.float32)
    return shape_sdf(shape, xx - cx, yy - cy, r) <= 0.0


# ----------------------------------------------------------------------------- captions
def object_phrase(o: dict) -> str:
    return f"a {o['size']} {o['colour']} {o['shape']}"


def caption_of(scene: dict) -> str:
    objs = scene["objects"]
    s = object_phrase(objs[0])
    if len(objs) == 2:
        s += f" {scene['relation']} " + object_phrase(objs[1])
    return s + f" on a {scene['background']} background"


_OBJ_RE = r"a (small|big) (" + "|".join(COLOURS) + r") (" + "|".join(SHAPES) + r")"
_CAP_RE = re.compile(
    r"^" + _OBJ_RE + r"(?: (" + "|".join(RELATIONS) + r") " + _OBJ_RE + r")? on a ("
    + "|".join(BACKGROUNDS) + r") background$"
)


def parse_caption(caption: str) -> dict:
    """Caption -> {"objects": [{"size","colour","shape"}, ...], "relation": str|None,
    "background": str}. Raises ValueError for text outside the grammar."""
    m = _CAP_RE.match(" ".join(caption.lower().strip().rstrip(".").split()))
    if not m:
        raise ValueError(f"caption not in grammar: {caption!r}")
    g = m.groups()
    objs = [dict(size=g[0], colour=g[1], shape=g[2])]
    if g[3] is not None:
        objs.append(dict(size=g[4], colour=g[5], shape=g[6]))
    return dict(objects=objs, relation=g[3], background=g[7])


def combination_key(attrs: dict) -> str:
    """Canonical attribute key of a caption/scene (same key for both phrasings of a scene)."""
    objs = [f"{o['size']} {o['colour']} {o['shape']}" for o in attrs["objects"]]
    rel = attrs.get("relation") or ""
    if rel == "right of":
        objs, rel = objs[::-1], "left of"
    elif rel == "below":
        objs, rel = objs[::-1], "above"
    return "|".join([objs[0], rel, objs[1] if len(objs) > 1 else "", attrs["background"]])


def is_heldout(attrs: dict) -> bool:
    h = hashlib.sha256(combination_key(attrs).encode()).digest()
    return int.from_bytes(h[:8], "little") % HELDOUT_MOD == 0


# ----------------------------------------------------------------------------- sampling
def _sample_attrs(rng: np.random.Generator) -> dict:
    n = 1 if rng.random() < P_SINGLE else 2
    objs = []
    while len(objs) < n:
        o = dict(size=SIZES[rng.integers(2)], colour=COLOURS[rng.integers(len(COLOURS))],
                 shape=SHAPES[rng.integers(len(SHAPES))])
        if objs and o == objs[0]:
            continue  # two identical objects would make the relation ambiguous
        objs.append(o)
    rel = RELATIONS[rng.integers(4)] if n == 2 else None
    return dict(objects=objs, relation=rel, background=BACKGROUNDS[rng.integers(len(BACKGROUNDS))])


def sample_attrs(rng: np.random.Generator, split: str = "train") -> dict:
    """Attributes of a random scene from the given split ("train", "heldout" or "all")."""
    while True:
        a = _sample_attrs(rng)
        if split == "all" or is_heldout(a) == (split == "heldout"):
            return a


def _place(rng: np.random.Generator, attrs: dict) -> list[tuple[float, float, float]]:
    """Centres and radii (cx, cy, r) of the objects satisfying the relation."""
    lo, hi = 1.0, IMAGE_SIZE - 2.0
    while True:
        rs = [rng.uniform(*SIZE_RANGE[o["size"]]) for o in attrs["objects"]]
        if len(rs) == 1:
            r = rs[0]
            return [(rng.uniform(lo + r, hi - r), rng.uniform(lo + r, hi - r), r)]
        ra, rb = rs
        rel = attrs["relation"]
        for _ in range(100):
            ca = [rng.uniform(lo + ra, hi - ra), rng.uniform(lo + ra, hi - ra)]
            cb = [rng.uniform(lo + rb, hi - rb), rng.uniform(lo + rb, hi - rb)]
            ax = 0 if rel in ("left of", "right of") else 1  # main axis
            d = cb[ax] - ca[ax]
            if rel in ("right of", "below"):
                d = -d
            off = abs(cb[1 - ax] - ca[1 - ax])
            if d >= ra + rb + 3.0 and off <= 0.6 * d:
                return [(ca[0], ca[1], ra), (cb[0], cb[1], rb)]


def render(attrs: dict, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Render a scene -> (uint8 HxWx3, scene dict with object geometry)."""
    S = IMAGE_SIZE
    bg = np.array(BG_COLOURS[attrs["background"]], np.float32)
    # background: linear gradient in a random direction + faint stripes
    th = rng.uniform(0, 2 * np.pi)
    g = ((_XX - S / 2) * np.cos(th) + (_YY - S / 2) * np.sin(th)) / (S / 2)
    th2, period = rng.uniform(0, np.pi), rng.uniform(7.0, 14.0)
    stripes = np.sin(2 * np.pi * (_XX * np.cos(th2) + _YY * np.sin(th2)) / period + rng.uniform(0, 6.3))
    img = bg[None, None, :] + (10.0 * g + 5.0 * stripes)[..., None]
    geo = _place(rng, attrs)
    objects = []
    for o, (cx, cy, r) in zip(attrs["objects"], geo):
        dx, dy = _XX - cx, _YY - cy
        cov = np.clip(0.5 - shape_sdf(o["shape"], dx, dy, r), 0.0, 1.0)[..., None]
        shade = np.clip(-(dx + dy) / (1.41 * r), -1.0, 1.0)  # lit from the top left
        col = np.array(OBJ_COLOURS[o["colour"]], np.float32)[None, None, :] + SHADE * shade[..., None]
        img = img * (1.0 - cov) + col * cov
        objects.append(dict(o, cx=float(cx), cy=float(cy), r=float(r)))
    scene = dict(attrs, objects=objects)
    scene["caption"] = caption_of(scene)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), scene


def make_example(seed: int, split: str = "train") -> tuple[np.ndarray, dict]:
    rng = np.random.default_rng(seed)
    return render(sample_attrs(rng, split), rng)


def render_caption(caption: str, seed: int = 0) -> tuple[np.ndarray, dict]:
    """Render one random layout of a given caption."""
    return render(parse_caption(caption), np.random.default_rng(seed))


def make_batch(seed, n: int, split: str = "train", start: int = 0) -> tuple[np.ndarray, list[str]]:
    """n images (uint8 [n,64,64,3]) and captions; example i uses the seed sequence (*seed, i).
    seed is an int or a tuple of ints."""
    seq = list(seed) if isinstance(seed, (tuple, list)) else [seed]
    imgs, caps = [], []
    for i in range(start, start + n):
        rng = np.random.default_rng(seq + [i])
        im, sc = render(sample_attrs(rng, split), rng)
        imgs.append(im)
        caps.append(sc["caption"])
    return np.stack(imgs), caps


def heldout_prompts(n: int, seed: int = 1234, split: str = "heldout") -> list[str]:
    """n distinct captions of held-out combinations (deterministic). split="train" gives
    captions of training combinations instead (used to choose the guidance scale)."""
    rng = np.random.default_rng(seed)
    out, seen = [], set()
    while len(out) < n:
        c = caption_of(sample_attrs(rng, split))
        if c not in seen:
            seen.add(c)
            out.append(c)
    return out


def write_vocab(path: str) -> list[str]:
    toks = SPECIAL_TOKENS + VOCAB_WORDS
    with open(path, "w") as f:
        f.write("\n".join(toks) + "\n")
    return toks


if __name__ == "__main__":  # quick look: python3 data.py out.png
    import sys

    imgs, caps = make_batch(0, 16)
    for c in caps:
        print(c)
    if len(sys.argv) > 1:
        from PIL import Image

        grid = imgs.reshape(4, 4, 64, 64, 3).transpose(0, 2, 1, 3, 4).reshape(256, 256, 3)
        Image.fromarray(grid).resize((512, 512), Image.NEAREST).save(sys.argv[1])
