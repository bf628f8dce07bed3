"""Running a parser on hostile input in a child process, to measure what it costs without risking this one.

The child caps its address space (so code without budgets fails there with MemoryError instead of taking
the machine), runs one call, and reports the exception it raised, its peak RSS growth and the time taken.
Tests assert the memory bound; time is reported, never asserted.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RSS_BUDGET_MB = 64
ADDRESS_SPACE_HEADROOM = 1024 * 1024 * 1024  # beyond what the child has mapped once its imports are done

_CHILD = r"""
import json, resource, sys, time
setup, call = sys.argv[1], sys.argv[2]
scope = {}
exec(setup, scope)
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
limit = vm + int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
error = None
try:
    result = eval(call, scope)
except BaseException as exc:
    error = {"type": type(exc).__name__, "message": str(getattr(exc, "message", None) or exc)[:2000],
             "err_code": getattr(exc, "err_code", None)}
    result = None
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": error, "result": repr(result)[:200], "seconds": seconds, "rss_growth_mb": (after - before) / 1024}))
"""


def run_bounded(setup, call, *, timeout=120):
    """Run `setup` (statements) then `call` (an expression) in a child; returns its report as a dict."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, setup, call, str(ADDRESS_SPACE_HEADROOM)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, f"child failed ({done.returncode}): {done.stderr[-2000:]}"
    report = json.loads(lines[-1])
    print(f"\n{call}: {report}")  # the measured figures, for the record (pytest -s shows them)
    return report
