#!/usr/bin/env python3
"""Independent PyTorch reference for the CRINGE loss (DESIGN.md section 4).

Writes core/tests/fixtures/cringe_reference.json: for fixed random inputs and every
combination of the five CRINGE options (plus ct_exclude_eos), the loss, the gradient of the
loss with respect to the logits, the sampled candidates and the metrics. The Rust parity test
(core/tests/cringe_parity.rs) must match them to 1e-5.

The implementation follows ParlAI's projects/cringe/cringe_loss.py (boolean-mask removal of
the target from the top k+1, Categorical sampling over the remaining logits, a two-way
cross-entropy with the sampled candidate as the winner) with the documented fixes: CT on
positive examples makes the target win instead of being a no-op.

Usage: python3 core/tests/reference/cringe_reference.py   (needs torch)
"""
import itertools
import json
import os

import torch
import torch.nn.functional as F

PAD, START, END = 0, 1, 2


def cringe_reference(logits, targets, labels, opt, gen):
    n, v = logits.shape
    k = opt["num_pos_predictions"]
    nonpad = targets != PAD
    is_none, is_neg, is_pos = labels == -1, labels == 0, labels == 1

    ce_mask = is_none | (is_pos & opt["train_ce_on_positive_examples"])
    ce_mask = ce_mask & nonpad
    ct_mask = is_neg | (is_pos & opt["train_ct_on_positive_examples"])
    ct_mask = ct_mask & nonpad
    if opt["ct_exclude_eos"]:
        ct_mask = ct_mask & (targets != END)

    ce = F.cross_entropy(logits, targets, reduction="none")

    top_vals, top_idx = torch.topk(logits.detach(), k + 1, dim=-1)
    remove = top_idx == targets.unsqueeze(1)
    remove[~remove.any(dim=-1), -1] = True
    cand_vals = top_vals[~remove].view(n, k)
    cand_idx = top_idx[~remove].view(n, k)
    if k == 1:
        rank = torch.zeros(n, dtype=torch.long)
    else:
        rank = torch.distributions.Categorical(logits=cand_vals).sample()
    sampled = cand_idx.gather(1, rank.unsqueeze(1)).squeeze(1)

    x_s = logits.gather(1, sampled.unsqueeze(1)).squeeze(1)
    if opt["detach_positives_during_ct"]:
        x_s = x_s.detach()
    x_t = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
    zeros = torch.zeros(n, dtype=torch.long)
    ct_neg = F.cross_entropy(torch.stack([x_s, x_t], dim=1), zeros, reduction="none")
    ct_pos = F.cross_entropy(torch.stack([x_t, x_s], dim=1), zeros, reduction="none")
    ct = torch.where(is_pos, ct_pos, ct_neg)

    cef, ctf = ce_mask.float(), ct_mask.float()
    total = (ce * cef).sum() + opt["ct_loss_weight"] * (ct * ctf).sum()
    scored = (ce_mask | ct_mask).float()
    loss = total / scored.sum().clamp(min=1.0)

    with torch.no_grad():
        correct = (logits.argmax(-1) == targets).float()
        pos_like = ((is_pos | is_none) & nonpad).float()
        neg_tok = (is_neg & nonpad).float()

        def ratio(a, b):
            return float(a / b) if float(b) > 0 else 0.0

        ce_loss = ratio((ce * cef).sum(), cef.sum())
        metrics = {
            "loss": float(loss),
            "ce_loss": ce_loss,
            "ct_loss": ratio((ct * ctf).sum(), ctf.sum()),
            "token_acc": ratio((correct * scored).sum(), scored.sum()),
            "token_acc_pos": ratio((correct * pos_like).sum(), pos_like.sum()),
            "token_acc_neg": ratio((correct * neg_tok).sum(), neg_tok.sum()),
            "ppl_ce": float(torch.tensor(ce_loss).exp()),
            "ppl_pos": float(torch.tensor(ratio((ce * pos_like).sum(), pos_like.sum())).exp()),
            "ppl_ct": float(torch.tensor(ratio((ce * ctf).sum(), ctf.sum())).exp()),
            "ce_target_tokens": float(cef.sum()),
            "ct_target_tokens": float(ctf.sum()),
            "total_target_tokens": float(scored.sum()),
        }
    return loss, rank, sampled, metrics


def make_inputs(seed, n, v):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, v, generator=g) * 3.0
    targets = torch.randint(3, v, (n,), generator=g)
    # a few end tokens, a few pads, and some targets forced to be the argmax (target in top-k)
    targets[n // 4] = END
    targets[n // 2] = END
    targets[-2:] = PAD
    for i in range(0, n, 3):
        targets[i] = int(logits[i].argmax()) if int(logits[i].argmax()) not in (PAD, START) else targets[i]
    labels = torch.tensor([(-1, 0, 1)[(i // 3) % 3] for i in range(n)])
    logits[:, START] = -1e20  # as the generator produces them
    return logits, targets, labels


def main():
    torch.manual_seed(1234)
    cases = []
    for input_seed, (n, v) in [(1, (14, 12)), (2, (20, 9))]:
        logits, targets, labels = make_inputs(input_seed, n, v)
        for k, alpha, detach, ct_pos, ce_pos, excl in itertools.product(
            (1, 3), (1.0, 0.5), (False, True), (False, True), (True, False), (False, True)
        ):
            opt = {
                "ct_loss_weight": alpha,
                "num_pos_predictions": k,
                "detach_positives_during_ct": detach,
                "train_ct_on_positive_examples": ct_pos,
                "train_ce_on_positive_examples": ce_pos,
                "ct_exclude_eos": excl,
            }
            x = logits.clone().requires_grad_(True)
            loss, rank, sampled, metrics = cringe_reference(x, targets, labels, opt, None)
            loss.backward()
            cases.append(
                {
                    "options": opt,
                    "n": n,
                    "v": v,
                    "logits": x.detach().flatten().tolist(),
                    "targets": targets.tolist(),
                    "labels": labels.tolist(),
                    "rank": rank.tolist(),
                    "sampled": sampled.tolist(),
                    "loss": float(loss),
                    "grad": x.grad.flatten().tolist(),
                    "metrics": metrics,
                }
            )
    out = os.path.join(os.path.dirname(__file__), "..", "fixtures", "cringe_reference.json")
    with open(out + ".tmp", "w") as f:
        json.dump({"generator": "core/tests/reference/cringe_reference.py", "torch": torch.__version__,
                   "pad_id": PAD, "end_id": END, "cases": cases}, f)
    os.replace(out + ".tmp", out)
    print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
