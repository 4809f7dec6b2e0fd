"""Does the model know which object a relation puts first? Two probes for the model card:

    python3 tools/train/probe_order.py --samples /work/runs/vpred/eval/samples.npz
        two-object pictures whose objects were found: placed on the relation's axis in the
        right order, in the mirrored order, or on the other axis
    python3 tools/train/probe_order.py --pipeline /work/runs/vpred/pipeline
        cosine similarity of the text encoder's output vectors for a caption's words when the
        relation word changes and when the objects swap places (1.000: the word's vector does
        not depend on it)
"""
from __future__ import annotations

import argparse
import collections
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import detect, parse_caption, relation_of  # noqa: E402

OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def placements(samples: str) -> collections.Counter:
    d = np.load(samples)
    out = collections.Counter()
    for image, caption in zip(d["images"], d["captions"]):
        want = parse_caption(str(caption))
        if len(want["objects"]) != 2:
            continue
        found = {o["colour"]: o for o in detect(image)["objects"]}
        a, b = (found.get(o["colour"]) for o in want["objects"])
        if a is None or b is None or len(found) != 2:
            out["not the caption's two objects"] += 1
            continue
        got = relation_of(a, b)
        out["right order" if got == want["relation"] else
            "mirrored" if got == OPPOSITE[want["relation"]] else "other axis"] += 1
    return out


def word_similarity(pipeline: str) -> None:
    import torch
    from common import tokenize
    from sample import load_components

    c = load_components(pipeline)
    base = "a big red circle left of a big blue square on a gray background"
    variants = {"relation word changed": base.replace("left of", "right of"),
                "objects swapped": "a big blue square left of a big red circle on a gray background"}
    ids = tokenize(c["tokenizer"], [base, *variants.values()])
    with torch.no_grad():
        h = c["bert"](ids, return_dict=False)[0]
    words = [c["tokenizer"].convert_ids_to_tokens(row) for row in ids.tolist()]
    for k, name in enumerate(variants, start=1):
        sims = {w: torch.cosine_similarity(h[0, words[0].index(w)], h[k, words[k].index(w)], dim=0).item()
                for w in ("red", "circle", "blue", "square")}
        print(f"{name}: " + ", ".join(f"{w} {s:.3f}" for w, s in sims.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", help="samples.npz of an evaluation (images, captions)")
    ap.add_argument("--pipeline", help="an exported pipeline folder")
    a = ap.parse_args()
    if a.samples:
        print(dict(placements(a.samples)))
    if a.pipeline:
        word_similarity(a.pipeline)


if __name__ == "__main__":
    main()
