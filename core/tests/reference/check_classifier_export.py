#!/usr/bin/env python3
"""Checks a causal classifier written by `cringe train-classifier --init-model`: the directory
loads with AutoModelForSequenceClassification / AutoTokenizer, and on safety-mini's toxic
validation split (the texts `train-classifier` validates on, as plain tokens) it gives the
accuracy and F1 that `train-classifier` reported for the checkpoint it kept.

    cringe train-classifier --init-model "$(./scripts/ensure-model.sh)" --mf /tmp/clf -q \\
      -t safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only \\
      | tail -1 > /tmp/clf-scores.json
    /tmp/tvenv/bin/python core/tests/reference/check_classifier_export.py /tmp/clf /tmp/clf-scores.json
"""

import json
import sys
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

VALID = Path(__file__).resolve().parents[3] / "data" / "safety-mini" / "toxic_valid.txt"


def examples():
    """(text, class) of the ParlAI-format split: class 0 = pos (`__ok__`), 1 = neg."""
    for line in VALID.read_text().splitlines():
        fields = dict(f.split(":", 1) for f in line.split("\t") if ":" in f)
        text = fields["text"].replace("\\n", "\n")
        yield text, 0 if fields["labels"] == "__ok__" else 1


def main():
    out, scores_path = sys.argv[1], sys.argv[2]
    ours = json.loads(Path(scores_path).read_text())
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32).eval()
    assert model.config.id2label == {0: "pos", 1: "neg"}, model.config.id2label
    conf = [[0, 0], [0, 0]]
    with torch.no_grad():
        for text, gold in examples():
            ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids[:, -128:]
            if ids.shape[1] == 0:
                ids = torch.tensor([[model.config.bos_token_id or model.config.eos_token_id]])
            conf[gold][int(model(input_ids=ids).logits.argmax(-1))] += 1
    f1 = []
    for c in (0, 1):
        tp = conf[c][c]
        p = tp / max(conf[0][c] + conf[1][c], 1)
        r = tp / max(conf[c][0] + conf[c][1], 1)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
    theirs = dict(exs=sum(map(sum, conf)), accuracy=(conf[0][0] + conf[1][1]) / sum(map(sum, conf)),
                  f1_pos=f1[0], f1_neg=f1[1], macro_f1=sum(f1) / 2)
    print(json.dumps(dict(transformers=theirs, cringe=ours)))
    for key in ("exs", "accuracy", "f1_pos", "f1_neg"):
        assert abs(theirs[key] - ours[key]) < 1e-9, (key, theirs[key], ours[key])
    print("ok: transformers gives the scores train-classifier reported")


if __name__ == "__main__":
    main()
