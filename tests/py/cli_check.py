"""cli_check.py — what the CLI tests (test_compress, test_sweep) share: where
the repository and the shrink binary are, a check() that records failures,
and run() of a shrink command from the repository root."""
import os
import subprocess

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHRINK = os.environ.get("SHRINK", os.path.join(ROOT, "build", "shrink"))

failures = []


def check(cond, what):
    print(("ok    " if cond else "FAIL  ") + what)
    if not cond:
        failures.append(what)


def run(*args, **kw):
    return subprocess.run([SHRINK, *args], capture_output=True, text=True, cwd=ROOT, **kw)
