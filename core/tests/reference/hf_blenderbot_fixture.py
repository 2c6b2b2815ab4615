#!/usr/bin/env python3
"""Builds the Hugging Face Blenderbot parity fixture (tests in core/tests/hf_checkpoint.rs).

For each architecture, `blenderbot` (pre-layer-norm, final norms: the 400M/1B/3B models) and
`blenderbot-small` (post-layer-norm, embedding norms: the 90M model), it writes a tiny,
randomly initialised model exactly as `transformers` saves one (`config.json`,
`model.safetensors`, the tokenizer files), plus what the Rust side must reproduce:

- `expected.json`: the contexts, their token ids (as the HF tokenizer makes them), the
  teacher-forced decoder inputs, the greedy and beam-search outputs of `generate`;
- `expected.safetensors`: the logits of the teacher-forced forward pass.

All weights (layer norms and `final_logits_bias` included) are random, so a wrong name
mapping cannot pass. `generate` suppresses the start token (ParlAI never produces it; the
Rust generator masks its logit), and everything else is plain greedy / beam search.

Run from the repository root:
    python3 -m venv /tmp/tvenv && /tmp/tvenv/bin/pip install torch transformers safetensors
    /tmp/tvenv/bin/python core/tests/reference/hf_blenderbot_fixture.py
"""

import json
import shutil
from collections import Counter
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (
    BlenderbotConfig,
    BlenderbotForConditionalGeneration,
    BlenderbotSmallConfig,
    BlenderbotSmallForConditionalGeneration,
    BlenderbotSmallTokenizer,
    BlenderbotTokenizer,
    GenerationConfig,
)

# Weight scales: small tied embeddings and a small logits bias keep a random model from
# repeating one token, so greedy and beam outputs exercise positions and the cache.
EMB, W, FB = 0.05, 0.5, 0.02
OUT = Path(__file__).resolve().parent.parent / "fixtures" / "hf_blenderbot"
CORPUS = Path(__file__).resolve().parents[3] / "data" / "safety-mini" / "chitchat_train.txt"

CONTEXTS = [
    "Hello, how are you doing today?",
    "I'd love to hear about your weekend plans!",
    "Do you like pizza",
]
# Teacher-forced targets (decoder inputs are start + target shifted right).
TARGETS = ["I'm good, thanks.", "We went hiking", "Yes, a lot!"]


def corpus_lines(n=3000):
    """Utterances from the bundled chit-chat data (text and label fields)."""
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines()[:n]:
        for field in line.split("\t"):
            if field.startswith("text:") or field.startswith("labels:"):
                out.append(field.split(":", 1)[1].replace("\\n", "\n"))
    return out


def blenderbot_tokenizer(tmp):
    """A byte-level BPE tokenizer in Blenderbot's layout, saved by transformers."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    trainer = trainers.BpeTrainer(
        vocab_size=420,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus_lines(), trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    return BlenderbotTokenizer(vocab=model["vocab"], merges=merges)


def small_words(lines):
    """Words as BlenderbotSmallTokenizer splits them (lower-cased, punctuation apart)."""
    counts = Counter()
    for line in lines:
        text = line.lower()
        for c in ".,!?()":
            text = text.replace(c, " " + c)
        text = text.replace("'", " ' ").replace("\n", " __newln__ ")
        counts.update(text.split())
    return counts


def learn_bpe(counts, n_merges):
    """Plain BPE with an end-of-word marker; ties go to the smallest pair, so it is deterministic."""
    words = {tuple(w[:-1]) + (w[-1] + "</w>",): n for w, n in counts.items()}
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged = {}
        for word, n in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + n
        words = merged
    return merges


def blenderbot_small_tokenizer(tmp):
    """A subword BPE vocabulary in BlenderbotSmall's `@@` format (vocab.json + merges.txt)."""
    specials = ["__null__", "__start__", "__end__", "__unk__"]
    counts = small_words(corpus_lines())
    merges = learn_bpe(counts, 200)
    # Internal "x</w>" (word-final piece) is "x" in BlenderbotSmall's vocabulary; a piece
    # followed by more of the word ("x") is "x@@".
    chars = sorted({c for w in counts for c in w})
    pieces = [c + "@@" for c in chars] + chars
    for a, b in merges:
        merged = a + b
        pieces.append(merged[: -len("</w>")] if merged.endswith("</w>") else merged + "@@")
    vocab = {}
    for piece in specials + pieces:
        vocab.setdefault(piece, len(vocab))
    (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    (tmp / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return BlenderbotSmallTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"))


def randomise(model, seed):
    """Every parameter and the logits bias random, so no mapping error can hide."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_norm.weight") or "layernorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed" in name or "shared" in name:
                p.copy_(EMB * torch.randn(p.shape, generator=g))
            else:
                p.copy_(W * torch.randn(p.shape, generator=g))
        model.final_logits_bias.copy_(FB * torch.randn(model.final_logits_bias.shape, generator=g))


def build(kind, seed):
    out = OUT / kind
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    tmp = out / ".tmp"
    tmp.mkdir()
    if kind == "blenderbot":
        tok = blenderbot_tokenizer(tmp)
        pad, start, end = tok.pad_token_id, tok.bos_token_id, tok.eos_token_id
        cfg_cls, model_cls = BlenderbotConfig, BlenderbotForConditionalGeneration
    else:
        tok = blenderbot_small_tokenizer(tmp)
        pad, start, end = tok.pad_token_id, tok.bos_token_id, tok.eos_token_id
        cfg_cls, model_cls = BlenderbotSmallConfig, BlenderbotSmallForConditionalGeneration
    vocab_size = len(tok)
    config = cfg_cls(
        vocab_size=vocab_size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        activation_function="gelu",
        scale_embedding=True,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        pad_token_id=pad,
        bos_token_id=start,
        eos_token_id=end,
        decoder_start_token_id=start,
        forced_eos_token_id=None,
    )
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    randomise(model, seed)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    shutil.rmtree(tmp)

    enc = tok(CONTEXTS, padding=True, return_tensors="pt")
    targets = [tok(t, add_special_tokens=False)["input_ids"] + [end] for t in TARGETS]
    t_len = max(len(t) for t in targets)
    dec_in = torch.full((len(targets), t_len), pad, dtype=torch.long)
    for i, t in enumerate(targets):
        row = [start] + t[:-1]
        dec_in[i, : len(row)] = torch.tensor(row)
    with torch.no_grad():
        logits = model(
            input_ids=enc["input_ids"],
            attention_mask=enc["attention_mask"],
            decoder_input_ids=dec_in,
        ).logits
    save_file({"logits": logits.contiguous()}, str(out / "expected.safetensors"))

    common = dict(
        max_new_tokens=10,
        min_length=0,
        do_sample=False,
        suppress_tokens=[start],
        no_repeat_ngram_size=0,
        encoder_no_repeat_ngram_size=0,
        repetition_penalty=1.0,
        decoder_start_token_id=start,
        pad_token_id=pad,
        eos_token_id=end,
        bos_token_id=start,
    )
    greedy = model.generate(**enc, generation_config=GenerationConfig(num_beams=1, **common))
    # Beam search, made comparable with ParlAI's (and the Rust) semantics:
    # - ParlAI masks the start logit *before* the softmax, transformers suppresses tokens after
    #   it, which shifts each beam's log-probs differently; so for this search the start
    #   token's logit bias is -1e9 (the saved model keeps its random bias);
    # - transformers keeps `num_beams` running hypotheses when one finishes, ParlAI lets the
    #   finished one keep its slot; so the end token is suppressed here, and the Rust side
    #   forbids it with min_length = max_length.
    saved_bias = model.final_logits_bias[0, start].item()
    with torch.no_grad():
        model.final_logits_bias[0, start] = -1e9
    beam = model.generate(
        **enc,
        generation_config=GenerationConfig(
            num_beams=4, length_penalty=0.0, early_stopping=True, **dict(common, suppress_tokens=[start, end])
        ),
    )
    with torch.no_grad():
        model.final_logits_bias[0, start] = saved_bias

    def strip(rows):
        # Drop the start token and everything from the first end token on (pads included).
        out_rows = []
        for row in rows.tolist():
            row = row[1:]
            if end in row:
                row = row[: row.index(end) + 1]
            out_rows.append(row)
        return out_rows

    expected = {
        "architecture": kind,
        "transformers_version": __import__("transformers").__version__,
        "torch_version": torch.__version__,
        "special": {"pad": pad, "start": start, "end": end},
        "contexts": CONTEXTS,
        "context_ids": [[i for i in row if i != pad] for row in enc["input_ids"].tolist()],
        "targets": TARGETS,
        "decoder_input_ids": dec_in.tolist(),
        "max_new_tokens": common["max_new_tokens"],
        "greedy": strip(greedy),
        "beam": {"beam_size": 4, "length_penalty": 0.0, "end_suppressed": True, "tokens": strip(beam)},
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    print(kind, "vocab", vocab_size, "greedy", expected["greedy"], "beam", expected["beam"]["tokens"])


if __name__ == "__main__":
    build("blenderbot", 1234)
    build("blenderbot_small", 4321)
