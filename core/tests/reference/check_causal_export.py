#!/usr/bin/env python3
"""Checks a causal LM written by `cringe export --hf DIR` in `transformers`: the directory
loads with AutoModelForCausalLM / AutoTokenizer, its chat template renders the fixture's
conversations as the original model's did, and greedy chat replies equal the ones
`transformers` gave for the GGUF (core/tests/fixtures/smollm2_gguf/expected.json).

    ./target/debug/cringe export --mf "$(./scripts/ensure-model.sh)" --hf /tmp/smollm2-hf
    .venv/bin/python core/tests/reference/check_causal_export.py /tmp/smollm2-hf
"""

import json
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

EXPECTED = Path(__file__).resolve().parent.parent / "fixtures" / "smollm2_gguf" / "expected.json"


def main():
    out = sys.argv[1]
    expected = json.loads(EXPECTED.read_text())
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    for case in expected["templates"]:
        text = tok.apply_chat_template(case["messages"], tokenize=False,
                                       add_generation_prompt=case["add_generation_prompt"])
        assert text == case["text"], (text, case["text"])
    for case in expected["tokens"]:
        assert tok.encode(case["text"], add_special_tokens=False) == case["ids"], case["text"]
    for case in expected["replies"]:
        ids = torch.tensor([case["prompt_ids"]])
        with torch.no_grad():
            gen = model.generate(ids, max_new_tokens=24, do_sample=False, eos_token_id=tok.eos_token_id,
                                 pad_token_id=tok.eos_token_id)
        assert gen[0, ids.shape[1]:].tolist() == case["reply_ids"], case["prompt"]
    print(f"{out}: templates, token ids and {len(expected['replies'])} greedy replies as the GGUF's")


if __name__ == "__main__":
    main()
