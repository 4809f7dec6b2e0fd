"""Pixel-level evaluator for 64x64 images generated from the toy caption grammar (numpy only).

It reads the scene back from pixels (no learned weights, no torch):
  1. background colour: majority vote of the 2-pixel border ring over the background palette;
  2. each pixel gets the nearest colour among {estimated background colour, 8 object colours};
  3. per object colour: 3x3 morphological opening (drops 1-2 px anti-aliasing halos), connected
     components with at least MIN_AREA pixels = detected objects;
  4. per object: size = bounding-box extent > SIZE_THRESHOLD px -> big; shape = the ideal
     template (same signed-distance shapes as the renderer, fitted to the bounding box) with the
     highest IoU; position = bounding-box centre;
  5. caption objects are matched to detected objects (the assignment with most matching
     attributes), and each attribute is judged.

API
    parse_caption(caption) -> attributes dict            (re-exported from data.py)
    detect(image_uint8_hwc) -> {"background", "objects": [...]}
    evaluate(image_uint8_hwc, caption) -> {"count", "background", "colour", "shape", "size",
                                           ["relation" for two objects], "all"} of bools
    report(images, captions) -> dict of accuracies (per attribute, all-correct rate, counts)
    summarize(verdicts, captions) -> the same report from evaluate's verdicts

CLI
    python3 evaluate.py --npz samples.npz            (arrays "images" [N,64,64,3] uint8, "captions")
    python3 evaluate.py --dir folder                 (folder of PNGs + captions.txt, one per line,
                                                      in sorted-file-name order)
    python3 evaluate.py --selftest 500               (accuracy on real renders of held-out captions)
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import (BG_COLOURS, OBJ_COLOURS, SHAPES, SIZE_THRESHOLD, heldout_prompts,  # noqa: E402
                  parse_caption, render_caption, shape_sdf)

MIN_AREA = 20
_OBJ_NAMES = list(OBJ_COLOURS)
_OBJ_RGB = np.array([OBJ_COLOURS[c] for c in _OBJ_NAMES], np.float32)
_BG_NAMES = list(BG_COLOURS)
_BG_RGB = np.array([BG_COLOURS[c] for c in _BG_NAMES], np.float32)


def _erode(m):
    p = np.pad(m, 1, constant_values=False)
    out = np.ones_like(m)
    H, W = m.shape
    for dy in range(3):
        for dx in range(3):
            out &= p[dy:dy + H, dx:dx + W]
    return out


def _dilate(m):
    p = np.pad(m, 1, constant_values=False)
    out = np.zeros_like(m)
    H, W = m.shape
    for dy in range(3):
        for dx in range(3):
            out |= p[dy:dy + H, dx:dx + W]
    return out


def _components(m):
    """4-connected components of a boolean mask -> list of boolean masks."""
    H, W = m.shape
    lab = np.where(m, np.arange(1, H * W + 1, dtype=np.int32).reshape(H, W), 0)
    while True:
        p = np.pad(lab, 1)
        new = np.maximum.reduce([lab, p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]])
        new = np.where(m, new, 0)
        if np.array_equal(new, lab):
            break
        lab = new
    return [lab == v for v in np.unique(lab[lab > 0])]


_BLURS = (0.0, 1.0, 1.6)  # template blur levels (generated / decoded images have soft corners)
_KCACHE: dict = {}


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    k = _KCACHE.get((n, sigma))
    if k is None:
        i = np.arange(n, dtype=np.float32)
        k = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
        k /= np.sqrt(2 * np.pi) * sigma  # zero padding outside the window
        _KCACHE[(n, sigma)] = k = k.astype(np.float32)
    return k


def _best_iou(shape, comp, cx, cy, half):
    """Best IoU between the component and the ideal shape, searched over radius, sub-pixel centre
    and template blur (a blurred template thresholded at 1/2 has the rounded convex and filled
    concave corners that decoders produce)."""
    pad = 5
    y0, y1 = max(0, int(cy - half) - pad), min(comp.shape[0], int(cy + half) + pad + 1)
    x0, x1 = max(0, int(cx - half) - pad), min(comp.shape[1], int(cx + half) + pad + 1)
    c = comp[y0:y1, x0:x1]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    best = 0.0
    for r in (half - 0.5, half, half + 0.5, half + 1.0):
        for oy in (-0.5, 0.0, 0.5):
            for ox in (-0.5, 0.0, 0.5):
                cov = np.clip(0.5 - shape_sdf(shape, xx - cx - ox, yy - cy - oy, r), 0.0, 1.0)
                for sg in _BLURS:
                    t = cov if sg == 0 else _blur_matrix(len(cov), sg) @ cov @ _blur_matrix(cov.shape[1], sg).T
                    t = t >= 0.5
                    best = max(best, (t & c).sum() / max(1, (t | c).sum()))
    return float(best)


def _to_uint8_hwc(image) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[-1] not in (3, 4):
        a = a.transpose(1, 2, 0)
    if a.dtype != np.uint8:
        a = np.clip(np.rint(a.astype(np.float32) * (255.0 if a.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
    return a[..., :3]


def detect(image) -> dict:
    """Read a scene back from a 64x64 RGB image (uint8 HxWx3)."""
    img = _to_uint8_hwc(image).astype(np.float32)
    border = np.concatenate([img[:2].reshape(-1, 3), img[-2:].reshape(-1, 3),
                             img[2:-2, :2].reshape(-1, 3), img[2:-2, -2:].reshape(-1, 3)])
    d_bg = ((border[:, None, :] - _BG_RGB[None]) ** 2).sum(-1)
    d_obj = ((border[:, None, :] - _OBJ_RGB[None]) ** 2).sum(-1).min(1)
    near = d_bg.argmin(1)
    is_bg = d_bg.min(1) < d_obj
    votes = np.bincount(near[is_bg] if is_bg.any() else near, minlength=len(_BG_NAMES))
    bgi = int(votes.argmax())
    sel = border[(near == bgi) & is_bg]
    bg_est = np.median(sel, 0) if len(sel) else _BG_RGB[bgi]
    cands = np.concatenate([bg_est[None], _OBJ_RGB])
    lab = ((img[:, :, None, :] - cands[None, None]) ** 2).sum(-1).argmin(-1)  # 0 = background
    objects = []
    for k in range(len(_OBJ_NAMES)):
        mk = lab == k + 1
        if mk.sum() < MIN_AREA:
            continue
        opened = _dilate(_erode(mk))
        for comp in _components(opened):
            if comp.sum() < MIN_AREA:
                continue
            for _ in range(3):  # geodesic reconstruction of thin tips removed by the opening
                comp = comp | (_dilate(comp) & mk)
            ys, xs = np.nonzero(comp)
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
            w, h = x1 - x0 + 1, y1 - y0 + 1
            cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
            ious = [_best_iou(s, comp, cx, cy, max(w, h) / 2.0) for s in SHAPES]
            objects.append(dict(colour=_OBJ_NAMES[k], shape=SHAPES[int(np.argmax(ious))],
                                size="big" if max(w, h) > SIZE_THRESHOLD else "small",
                                cx=float(cx), cy=float(cy), extent=int(max(w, h)), area=int(comp.sum()),
                                shape_iou=float(max(ious))))
    objects.sort(key=lambda o: -o["area"])
    return dict(background=_BG_NAMES[bgi], objects=objects)


def relation_of(a: dict, b: dict) -> str:
    """Relation of object a to object b from their centres (dominant axis)."""
    dx, dy = b["cx"] - a["cx"], b["cy"] - a["cy"]
    if abs(dx) >= abs(dy):
        return "left of" if dx > 0 else "right of"
    return "above" if dy > 0 else "below"


def _match_score(t, d):
    return 4 * (t["colour"] == d["colour"]) + 2 * (t["shape"] == d["shape"]) + (t["size"] == d["size"])


def evaluate(image, caption: str, return_detection: bool = False) -> dict:
    """Judge one image against its caption -> dict attribute -> bool (plus "all")."""
    tgt = parse_caption(caption)
    det = detect(image)
    objs, tobjs = det["objects"][:4], tgt["objects"]
    res = dict(count=len(det["objects"]) == len(tobjs), background=det["background"] == tgt["background"])
    best, best_score = None, -1
    for perm in itertools.permutations(range(len(objs)), min(len(objs), len(tobjs))):
        sc = sum(_match_score(t, objs[i]) for t, i in zip(tobjs, perm))
        if len(tobjs) == 2 and len(perm) == 2:
            sc += relation_of(objs[perm[0]], objs[perm[1]]) == tgt["relation"]
        if sc > best_score:
            best, best_score = perm, sc
    matched = [objs[i] for i in best] if best is not None else []
    full = len(matched) == len(tobjs)
    for attr in ("colour", "shape", "size"):
        res[attr] = full and all(t[attr] == d[attr] for t, d in zip(tobjs, matched))
    if len(tobjs) == 2:
        res["relation"] = full and relation_of(matched[0], matched[1]) == tgt["relation"]
    res["all"] = all(res.values())
    if return_detection:
        res = dict(res, detection=det)
    return res


def report(images, captions) -> dict:
    """Batch report: per-attribute accuracy (over the prompts where it applies) and all-correct."""
    return summarize([evaluate(im, c) for im, c in zip(images, captions)], captions)


def summarize(rows, captions) -> dict:
    """The report of verdicts already computed (`evaluate` of each image against its caption)."""
    out = {"n": len(rows)}
    for k in ("count", "background", "colour", "shape", "size", "relation", "all"):
        v = [r[k] for r in rows if k in r]
        out[k] = float(np.mean(v)) if v else None
    for nobj in (1, 2):
        sub = [r for r, c in zip(rows, captions) if len(parse_caption(c)["objects"]) == nobj]
        out[f"all_{nobj}obj"] = float(np.mean([r["all"] for r in sub])) if sub else None
        out[f"n_{nobj}obj"] = len(sub)
    return out


def selftest(n: int = 500, seed: int = 0) -> dict:
    """Evaluator accuracy on real renders of n held-out captions."""
    caps = heldout_prompts(n)
    imgs = [render_caption(c, seed + i)[0] for i, c in enumerate(caps)]
    return report(imgs, caps)


def _load_dir(folder):
    from PIL import Image

    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    caps = [l.strip() for l in open(os.path.join(folder, "captions.txt")) if l.strip()]
    imgs = [np.asarray(Image.open(os.path.join(folder, f)).convert("RGB")) for f in files]
    return imgs, caps


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--npz")
    ap.add_argument("--dir")
    ap.add_argument("--selftest", type=int, default=0)
    ap.add_argument("--json", help="write the report here")
    a = ap.parse_args()
    if a.selftest:
        rep = selftest(a.selftest)
    elif a.npz:
        z = np.load(a.npz, allow_pickle=False)
        rep = report(z["images"], [str(c) for c in z["captions"]])
    elif a.dir:
        rep = report(*_load_dir(a.dir))
    else:
        ap.error("give --npz, --dir or --selftest")
    print(json.dumps(rep, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rep, f, indent=1)
