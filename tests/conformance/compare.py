"""compare.py SUITE DIR FLAKY PASS...

Compares the results of one suite's passes (DIR/PASS/results, lines "ID<TAB>RESULT<TAB>LOG")
with those of the first pass, the reference, and prints a table of counts and times, then
every test whose result differs, with both results and where their logs are. Tests listed for
SUITE in FLAKY (lines "SUITE ID-PATTERN  # reason"; fnmatch patterns) are told apart: their
differences are shown but do not fail. Exits 1 when anything else differs.

A RESULT that is a verdict (pass; fail, error, hang, crashed, not-run; skip, todo) is counted
as such (its text after a colon is a detail). Any other RESULT (an exit status, digests of
outputs) is a check: it passes in a pass when it is the reference's.
"""
import difflib
import fnmatch
import os
import re
import sys

VERDICTS = {"pass": "pass", "fail": "fail", "error": "fail", "hang": "fail", "crashed": "fail",
            "not-run": "fail", "skip": "skip", "todo": "skip"}


def load(path):
    results = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 2:
                    results[fields[0]] = (fields[1], fields[2] if len(fields) > 2 else "")
    except FileNotFoundError:
        pass
    return results


def flaky_patterns(path, suite):
    patterns = []
    with open(path) as f:
        for line in f:
            line = re.split(r"\s#", line, maxsplit=1)[0].strip()
            if line.startswith(suite + " "):
                patterns.append(line[len(suite) + 1:].strip())
    return patterns


def counts(results, reference):
    c = {"tests": 0, "pass": 0, "fail": 0, "skip": 0, "checks": 0, "differ": 0}
    for key, (result, _) in results.items():
        verdict = VERDICTS.get(result.split(":")[0])
        if verdict:
            c["tests"] += 1
            c[verdict] += 1
        else:
            c["checks"] += 1
            if reference is not None and reference.get(key, ("",))[0] != result:
                c["differ"] += 1
    return c


def short(path):
    """A log path, relative to the current directory when it lies below it."""
    if not path:
        return "-"
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def output_diff(a, b, limit=8):
    """The first lines of the diffs of the stderr and stdout kept in log directories a and b."""
    lines = []
    for name in ("stderr", "stdout"):
        try:
            with open(os.path.join(a, name), errors="replace") as f:
                old = f.readlines()
            with open(os.path.join(b, name), errors="replace") as f:
                new = f.readlines()
        except OSError:
            continue
        diff = list(difflib.unified_diff(old, new, f"{name} ({short(a)})",
                                         f"{name} ({short(b)})", n=1))
        if len(diff) > limit:
            diff = diff[:limit] + [f"... ({len(diff) - limit} more lines)\n"]
        lines += diff
    return "".join("           | " + (l if l.endswith("\n") else l + "\n") for l in lines)


def main():
    suite, top, flaky_file, passes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    flaky = flaky_patterns(flaky_file, suite)
    runs = {p: load(os.path.join(top, p, "results")) for p in passes}
    ref_name, ref = passes[0], runs[passes[0]]
    print(f"== {suite}: results of each pass (checks: exit statuses and outputs, which"
          f" pass when they equal pass {ref_name}'s)")
    print(f"   {'pass':<10} {'tests':>6} {'pass':>6} {'fail':>6} {'skip':>6} {'checks':>7}"
          f" {'differ':>7} {'time':>7}")
    for p in passes:
        c = counts(runs[p], None if p == ref_name else ref)
        try:
            with open(os.path.join(top, p, "seconds")) as f:
                secs = f.read().strip() + " s"
        except FileNotFoundError:
            secs = "-"
        print(f"   {p:<10} {c['tests']:>6} {c['pass']:>6} {c['fail']:>6} {c['skip']:>6}"
              f" {c['checks']:>7} {c['differ'] if p != ref_name else '':>7} {secs:>7}")
    failed = False
    for p in passes[1:]:
        run = runs[p]
        diffs = sorted(k for k in set(ref) | set(run)
                       if ref.get(k, ("absent",))[0] != run.get(k, ("absent",))[0])
        if not diffs:
            print(f"   {p}: no difference from {ref_name}")
            continue
        known = [k for k in diffs if any(fnmatch.fnmatchcase(k, pat) for pat in flaky)]
        real = [k for k in diffs if k not in known]
        failed = failed or bool(real)
        listing = os.path.join(top, p, "differences")
        with open(listing, "w") as out:
            for k in diffs:
                a, la = ref.get(k, ("absent", ""))
                b, lb = run.get(k, ("absent", ""))
                tag = "flaky without the shim (not counted): " if k in known else ""
                out.write(f"{tag}{k}\n    {ref_name}: {a}\n    {p}: {b}\n"
                          f"    logs: {la or '-'}  {lb or '-'}\n")
        print(f"   {p}: {len(real)} differ from {ref_name}"
              + (f", and {len(known)} listed as flaky without the shim" if known else "")
              + f" (all in {short(listing)})")
        # Hangs first, then tests with a result in both passes; tests that have a result in
        # one pass only (their file or program ended early) are counted by where they belong.
        absent = [k for k in real + known if k not in ref or k not in run]
        shown = sorted((k for k in real + known if k not in absent),
                       key=lambda k: (not any(w in ref[k][0] + run[k][0] for w in ("hang", "crashed")),
                                      k in known))
        for n, k in enumerate(shown):
            if n == 40:
                print(f"     ... {len(shown) - 40} more in {short(listing)}")
                break
            a, la = ref[k]
            b, lb = run[k]
            print(f"     {'(flaky) ' if k in known else ''}{k}\n"
                  f"         {ref_name}: {a}\n         {p}: {b}\n"
                  f"         logs: {short(la)}  {short(lb)}")
            if os.path.isdir(la) and os.path.isdir(lb):
                print(output_diff(la, lb), end="")
            for log in (la, lb):
                if log.endswith(".txt") and os.path.isfile(log):
                    with open(log, errors="replace") as f:
                        last = [l for l in f.read().splitlines() if l.strip()][-1:]
                    print("".join(f"           | {l}\n" for l in last), end="")
        groups = {}
        for k in absent:
            where = p if k in run else ref_name
            group = k.split(" > ")[0] if " > " in k else ".".join(k.split(".")[:2])
            groups[(where, group)] = groups.get((where, group), 0) + 1
        for (where, group), n in sorted(groups.items()):
            print(f"     {n} result{'s' if n > 1 else ''} of {group} only in pass {where}"
                  f" (listed in {short(listing)})")
    sys.exit(1 if failed else 0)


main()
