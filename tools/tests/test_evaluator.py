"""The pixel evaluator that judges the shipped model (tools/train/evaluate.py) on real renders:
it must accept a render of its caption and reject a render of a different caption."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "train"))
from data import heldout_prompts, render_caption  # noqa: E402
from evaluate import evaluate, report  # noqa: E402

CAPTIONS = heldout_prompts(200)


def test_renders_of_a_caption_are_judged_right():
    rep = report([render_caption(c, seed=i)[0] for i, c in enumerate(CAPTIONS)], CAPTIONS)
    assert rep["all"] >= 0.99, rep


def test_a_render_of_another_caption_is_judged_wrong():
    wrong = [evaluate(render_caption(c, seed=i)[0], CAPTIONS[(i + 1) % len(CAPTIONS)])["all"]
             for i, c in enumerate(CAPTIONS)]
    assert sum(wrong) <= 2, sum(wrong)
