"""What the runtime tests of loops ask of a run, shared by tests/runtime/*-loops.sh.

A test runs its fixture under `stallscope run`, exports the run as JSON and calls
`Check(mode, json_path, out_path, kinds)`: it reads the run and the fixture's
"KIND NAME MS TID" lines (check.timed[KIND]), collects what is wrong through expect(), and
exits with finish(): 0 when nothing is, 1 after printing each problem.
"""
import json
import re
import sys


class Check:
    def __init__(self, mode, json_path, out_path, kinds=("planted",)):
        self.mode = mode
        self.problems = []
        with open(json_path) as f:
            self.run = json.load(f)
        self.timed = {kind: [] for kind in kinds}
        line_re = re.compile(r"(%s) (\S+) ([0-9.]+) ([0-9]+)\n?" % "|".join(kinds))
        with open(out_path) as f:
            for line in f:
                m = line_re.fullmatch(line)
                if m:
                    self.timed[m[1]].append((m[2], float(m[3]), int(m[4])))

    def expect(self, ok, what):
        if not ok:
            self.problems.append(f"{self.mode}: {what}")

    def process(self, script, empty):
        """The fixture's one process (its command names script); `empty` when it is not."""
        procs = [p for p in self.run["processes"] if script in p["command"]]
        self.expect(len(procs) == 1, f"expected the fixture's one trace, got {len(procs)}")
        return procs[0] if procs else empty

    def finish(self):
        for p in self.problems:
            print(p)
        sys.exit(1 if self.problems else 0)


# The stall holds the planted work and the rest of its iteration (printing the line, the
# timer's own work), which a loaded machine stretches; it never holds less than the work.
def near(ns, ms):
    return ms * 0.95 <= ns / 1e6 <= ms * 1.25 + 30


# A loaded machine can stretch any iteration past the threshold; such a stall spent most of
# its time waiting for a CPU, which the waits and work outside a loop never do.
def machine_made(s):
    split = s.get("split") or {}
    return split.get("window_ns", 0) > 0 and split.get("runnable_ns", 0) * 2 >= split["window_ns"]


def planted_or_real(stalls, planted):
    """The stalls but those a loaded machine made, unless one is as long as a planted one."""
    return [s for s in stalls
            if not machine_made(s) or any(near(s["duration_ns"], ms) for _, ms, _ in planted)]
