"""Runs a command and reports its own peak resident memory.

`resource.getrusage(RUSAGE_CHILDREN)` in a process that has loaded a model reports at least
that process's own size for every child: Linux counts the memory a child had before `exec`
(the parent's, shared) in the child's peak. So the benchmarks start our binary from this
small helper process instead, which waits for it and prints its peak alone.

Usage from a benchmark: `run(cmd)` → (exit status, stdout, stderr, peak RSS in MiB).
"""
import json
import os
import subprocess
import sys
import tempfile


def run(cmd):
    """Runs `cmd` through a fresh helper interpreter; returns (status, stdout, stderr, peak MiB)."""
    with tempfile.TemporaryDirectory() as work:
        report = os.path.join(work, "rusage.json")
        out = subprocess.run([sys.executable, os.path.abspath(__file__), report, *cmd], capture_output=True, text=True)
        try:
            with open(report) as f:
                peak = json.load(f)["peak_rss_mib"]
        except (OSError, ValueError, KeyError):
            peak = None
        return out.returncode, out.stdout, out.stderr, peak


def _main(report, cmd):
    child = subprocess.Popen(cmd)
    _, status, usage = os.wait4(child.pid, 0)
    with open(report, "w") as f:
        json.dump({"peak_rss_mib": usage.ru_maxrss / 1024.0}, f)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1], sys.argv[2:]))
