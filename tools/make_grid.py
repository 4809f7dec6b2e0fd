"""Regenerates the README's picture grid: one row per prompt, one column per seed, made by the
shipped model through the Python binding (20 DDIM steps, guidance 5), 64x64 pictures shown 2x.
Prompts whose combination of attributes training never saw are marked.

    LDM_LIBRARY_PATH=.build/release/libldm.so python3 tools/make_grid.py   # or: make grid
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
import ldm  # noqa: E402
from data import is_heldout, parse_caption  # noqa: E402

PROMPTS = [
    "a big red circle on a gray background",
    "a small yellow triangle on a dark blue background",
    "a big white square left of a small green circle on a purple background",
    "a big blue diamond above a small yellow cross on a brown background",
    "a small magenta circle right of a big cyan triangle on a dark green background",
    "a big black cross below a small white diamond on a gray background",
]
SEEDS = range(4)
SCALE, PAD, LABEL = 2, 4, 18


def grid(model, prompts, seeds) -> Image.Image:
    font = ImageFont.load_default(size=13)
    side = 64 * SCALE
    width = PAD + len(seeds) * (side + PAD)
    row = LABEL + side + PAD
    out = Image.new("RGB", (width, PAD + len(prompts) * row), "white")
    draw = ImageDraw.Draw(out)
    for r, prompt in enumerate(prompts):
        y = PAD + r * row
        label = prompt + ("   (held-out combination)" if is_heldout(parse_caption(prompt)) else "")
        draw.text((PAD, y + 1), label, fill="black", font=font)
        for c, seed in enumerate(seeds):
            pixels = model.txt2img(prompt, steps=20, sampler="ddim", guidance=5.0, seed=seed)
            tile = Image.fromarray(np.ascontiguousarray(pixels)).resize((side, side), Image.NEAREST)
            out.paste(tile, (PAD + c * (side + PAD), y + LABEL))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "shapes.q8_0.gguf"))
    ap.add_argument("-o", "--out", default=os.path.join(ROOT, "models", "grid.png"))
    a = ap.parse_args()
    with ldm.Model(a.model) as m:
        grid(m, PROMPTS, SEEDS).save(a.out, optimize=True)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
