#!/usr/bin/env python3
"""Independent PyTorch reference for the preference losses (KTO, DPO, ORPO) as Hugging Face
TRL defines them (trl/trainer/kto_trainer.py `loss_type="kto"`, trl/trainer/dpo_trainer.py
`sigmoid` and `robust`, trl/experimental/orpo `odds_ratio_loss`), written from those formulas.

Writes core/tests/fixtures/preference_reference.json: fixed random policy logits, targets,
masks and reference/KL log-probabilities; for several settings of each loss the loss value,
its gradient with respect to the policy logits and TRL's metrics. The Rust parity test
(core/tests/preference_parity.rs) must match them to 1e-5.

Usage: python3 core/tests/reference/preference_reference.py   (needs torch)
"""
import json
import math
import os

import torch
import torch.nn.functional as F

B, T, V = 6, 5, 7
PAIRS = [(0, 1), (2, 3), (4, 5)]  # (chosen row, rejected row)
DESIRABLE = [True, False, True, True, False, False]


def token_logps(logits, targets):
    return F.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def log1mexp(x):
    return torch.where(x < -math.log(2), torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


def dpo(logits, data, beta, eps):
    lp = (token_logps(logits, data["targets"]) * data["mask"]).sum(-1)
    c, r = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    cr = lp[c] - data["ref_logps"][c]
    rr = lp[r] - data["ref_logps"][r]
    delta = beta * (cr - rr)
    if eps > 0:
        clean = -(1 - eps) * F.logsigmoid(delta)
        flipped = -eps * F.logsigmoid(-delta)
        losses = (clean - flipped) / (1 - 2 * eps)
    else:
        losses = -F.logsigmoid(delta)
    rc, rj = beta * cr.detach(), beta * rr.detach()
    metrics = {
        "rewards/chosen": rc.mean().item(),
        "rewards/rejected": rj.mean().item(),
        "rewards/margins": (rc - rj).mean().item(),
        "rewards/accuracies": (rc > rj).float().mean().item(),
        "logps/chosen": lp[c].detach().mean().item(),
        "logps/rejected": lp[r].detach().mean().item(),
    }
    return losses.mean(), metrics


def kto(logits, data, beta, dw, uw, kl_shift):
    lp = (token_logps(logits, data["targets"]) * data["mask"]).sum(-1)
    kl = (data["kl_logps"] + kl_shift - data["ref_kl_logps"]).mean().detach().clamp(min=0)
    good = [i for i, d in enumerate(DESIRABLE) if d]
    bad = [i for i, d in enumerate(DESIRABLE) if not d]
    cr = lp[good] - data["ref_logps"][good]
    rr = lp[bad] - data["ref_logps"][bad]
    chosen_losses = 1 - torch.sigmoid(beta * (cr - kl))
    rejected_losses = 1 - torch.sigmoid(beta * (kl - rr))
    losses = torch.cat((dw * chosen_losses, uw * rejected_losses), 0)
    rc, rj = beta * cr.detach(), beta * rr.detach()
    metrics = {
        "rewards/chosen": rc.mean().item(),
        "rewards/rejected": rj.mean().item(),
        "rewards/margins": rc.mean().item() - rj.mean().item(),
        "kl": kl.item(),
        "logps/chosen": lp[good].detach().mean().item(),
        "logps/rejected": lp[bad].detach().mean().item(),
    }
    return losses.nanmean(), metrics


def orpo(logits, data, beta):
    tl = token_logps(logits, data["targets"]) * data["mask"]
    mean_lp = tl.sum(-1) / data["mask"].sum(-1).clamp(min=1)
    c, r = [p[0] for p in PAIRS], [p[1] for p in PAIRS]
    nll = -tl[c].sum() / data["mask"][c].sum()
    log_odds = (mean_lp[c] - mean_lp[r]) - (log1mexp(mean_lp[c]) - log1mexp(mean_lp[r]))
    ratio = F.logsigmoid(log_odds)
    loss = nll - beta * ratio.mean()
    rc, rj = beta * mean_lp[c].detach(), beta * mean_lp[r].detach()
    metrics = {
        "rewards/chosen": rc.mean().item(),
        "rewards/rejected": rj.mean().item(),
        "rewards/margins": (rc - rj).mean().item(),
        "rewards/accuracies": (rc > rj).float().mean().item(),
        "log_odds_ratio": ratio.mean().item(),
        "nll_loss": nll.item(),
    }
    return loss, metrics


def main():
    g = torch.Generator().manual_seed(20261206)
    logits = torch.randn(B, T, V, generator=g, dtype=torch.float64) * 2
    targets = torch.randint(0, V, (B, T), generator=g)
    mask = (torch.rand(B, T, generator=g) > 0.3).double()
    mask[:, 0] = 1.0  # every response has a token
    data = {
        "targets": targets,
        "mask": mask,
        "ref_logps": -torch.rand(B, generator=g, dtype=torch.float64) * 8 - 2,
        "kl_logps": -torch.rand(B, generator=g, dtype=torch.float64) * 8 - 2,
        "ref_kl_logps": -torch.rand(B, generator=g, dtype=torch.float64) * 8 - 2,
    }
    cases = []

    def run(name, params, fn):
        x = logits.clone().requires_grad_(True)
        loss, metrics = fn(x)
        loss.backward()
        cases.append({
            "loss": name,
            "params": params,
            "value": loss.item(),
            "grad": x.grad.flatten().tolist(),
            "metrics": metrics,
        })

    for beta in (0.1, 0.5):
        for eps in (0.0, 0.2):
            run("dpo", {"beta": beta, "label_smoothing": eps}, lambda x: dpo(x, data, beta, eps))
    # kl_shift moves the KL estimate above 0 (+3) or keeps the clamp active (-3)
    for beta, dw, uw, shift in ((0.1, 1.0, 1.0, 3.0), (0.5, 1.0, 1.5, 3.0), (0.1, 1.0, 1.0, -30.0)):
        run("kto", {"beta": beta, "desirable_weight": dw, "undesirable_weight": uw, "kl_shift": shift},
            lambda x: kto(x, data, beta, dw, uw, shift))
    for beta in (0.1, 1.0):
        run("orpo", {"beta": beta}, lambda x: orpo(x, data, beta))

    out = {
        "shape": [B, T, V],
        "pairs": PAIRS,
        "desirable": DESIRABLE,
        "logits": logits.flatten().tolist(),
        "targets": targets.flatten().tolist(),
        "mask": mask.flatten().tolist(),
        "ref_logps": data["ref_logps"].tolist(),
        "kl_logps": data["kl_logps"].tolist(),
        "ref_kl_logps": data["ref_kl_logps"].tolist(),
        "torch": torch.__version__,
        "cases": cases,
    }
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "preference_reference.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {len(cases)} cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
