"""The targets of the training-only order loss (tools/train/train.py --order-loss)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
import common as C  # noqa: E402
from train import order_labels  # noqa: E402

LEFT, RIGHT, ABOVE, BELOW, IGNORED = 0, 1, 2, 3, -100


def roles(tok, caption):
    ids = C.tokenize(tok, [caption])
    labels = order_labels(tok, ids)[0]
    words = tok.convert_ids_to_tokens(ids[0].tolist())
    return [(w, int(r)) for w, r in zip(words, labels) if w != "[PAD]"]


def test_each_object_word_is_told_where_its_object_lies(tmp_path):
    tok = C.make_tokenizer(str(tmp_path))
    first = roles(tok, "a small red circle left of a big yellow square on a dark blue background")
    assert [w for w, r in first if r == LEFT] == ["small", "red", "circle"]
    assert [w for w, r in first if r == RIGHT] == ["big", "yellow", "square"]
    second = roles(tok, "a big black cross below a small white diamond on a gray background")
    assert [w for w, r in second if r == BELOW] == ["big", "black", "cross"]
    assert [w for w, r in second if r == ABOVE] == ["small", "white", "diamond"]
    assert {r for w, r in roles(tok, "a big red circle right of a small blue square on a brown background")
            if w == "red"} == {RIGHT}
    assert {r for w, r in roles(tok, "a small green triangle above a big cyan cross on a purple background")
            if w == "cross"} == {BELOW}


def test_one_object_captions_have_no_targets(tmp_path):
    tok = C.make_tokenizer(str(tmp_path))
    assert {r for _, r in roles(tok, "a big red circle on a gray background")} == {IGNORED}
