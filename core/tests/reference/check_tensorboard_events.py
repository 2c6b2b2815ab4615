#!/usr/bin/env python3
"""Checks the event files `cringe train --tensorboard-log true` writes with TensorBoard's own
reader (the `tensorboard` package from PyPI, which verifies every record's CRC-32C): every
scalar of the run's metrics file is in the events under `train/<metric>` (each logged step) or
`valid/<metric>` (each validation), at the same step, equal to float32 precision.

    cringe train -t safety-mini:chitchat:mutators=flatten --preset tiny --vocab-size 300 \\
      --max-train-steps 4 --log-every-n-steps 1 --validation-every-n-steps 2 \\
      --mf /tmp/tb/model --tensorboard-log true
    python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard
    /tmp/tbvenv/bin/python core/tests/reference/check_tensorboard_events.py /tmp/tb/model
"""

import json
import math
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(model_file):
    logdir = Path(model_file + ".tensorboard")
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    checked = 0
    for line in Path(model_file + ".train.jsonl").read_text().splitlines():
        rec = json.loads(line)
        prefix = "valid" if rec.get("split") == "valid" else "train"
        for key, value in rec.items():
            if key in ("step", "split") or not isinstance(value, (int, float)):
                continue
            tag = f"{prefix}/{key}"
            assert tag in tags, f"{tag} missing from the events ({sorted(tags)})"
            events = [e for e in acc.Scalars(tag) if e.step == rec["step"]]
            assert len(events) == 1, f"{tag} at step {rec['step']}: {len(events)} events"
            assert math.isclose(events[0].value, value, rel_tol=1e-6, abs_tol=1e-30), (tag, events[0].value, value)
            checked += 1
    print(f"{logdir}: {checked} scalars match the metrics file, over {len(tags)} tags")


if __name__ == "__main__":
    main(sys.argv[1])
