"""The results chart, drawn with Pillow: per part and size, libldm's time as a share of
diffusers' (left) and each implementation's peak RSS (right), as horizontal bars."""
from PIL import Image, ImageDraw

COLORS = {"diffusers": (150, 150, 150), "F32": (31, 119, 180), "F16": (255, 127, 14), "Q8_0": (44, 160, 44)}
LABEL_W, PANEL_W, BAR_H, GAP, TOP = 230, 420, 9, 12, 50


def _panel(draw, x0, rows, names, value, limit, ticks, title, unit):
    draw.text((x0, 10), title, fill="black")
    height = TOP + len(rows) * (len(COLORS) * BAR_H + GAP)
    for t in ticks:
        x = x0 + PANEL_W * t / limit
        draw.line([(x, TOP - 6), (x, height)], fill=(215, 215, 215))
        draw.text((x - 8, TOP - 20), f"{t:g}{unit}", fill="black")
    y = TOP
    for r in rows:
        for name in names:  # each implementation keeps its slot in both panels
            top = y + list(COLORS).index(name) * BAR_H
            draw.rectangle([x0, top, x0 + PANEL_W * min(value(r, name), limit) / limit, top + BAR_H - 1], fill=COLORS[name])
        y += len(COLORS) * BAR_H + GAP


def draw(results, titles, path):
    rows = [dict(label=f"{titles[r['part']]}, {r['size']} px", **{row["name"]: row for row in r["rows"]}) for r in results]
    height = TOP + len(rows) * (len(COLORS) * BAR_H + GAP) + 40
    image = Image.new("RGB", (LABEL_W + 2 * PANEL_W + 90, height), "white")
    d = ImageDraw.Draw(image)
    y = TOP
    for r in rows:
        d.text((8, y + BAR_H), r["label"], fill="black")
        y += len(COLORS) * BAR_H + GAP
    ratio = lambda r, name: r[name]["best"] / r["diffusers"]["best"]  # noqa: E731
    _panel(d, LABEL_W, rows, ["F32", "F16", "Q8_0"], ratio, 1.5, [0, 0.5, 1, 1.5], "time / diffusers (1 = as fast)", "x")
    peak = max(row["peak_rss"] for r in results for row in r["rows"]) / 2**30
    limit = max(1, int(peak + 0.999))
    gib = lambda r, name: r[name]["peak_rss"] / 2**30  # noqa: E731
    _panel(d, LABEL_W + PANEL_W + 60, rows, ["diffusers", "F32", "F16", "Q8_0"], gib, limit, list(range(limit + 1)),
           "peak RSS (GiB)", "")
    x = 8
    for name, color in COLORS.items():
        d.rectangle([x, height - 25, x + 12, height - 13], fill=color)
        d.text((x + 16, height - 26), "diffusers" if name == "diffusers" else f"libldm {name}", fill="black")
        x += 110
    image.save(path)
