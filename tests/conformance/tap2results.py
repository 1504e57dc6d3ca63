"""tap2results.py PREFIX TAP_FILE STATUS [LIST_FILE]

Reads the TAP output of one test program (GLib's or `node --test --test-reporter=tap`) and
prints one results line per test case, "PREFIX > NAME<TAB>RESULT", RESULT being pass, fail,
skip or todo; nested subtests are named by their parents' "# Subtest:" lines. A last line
"PREFIX<TAB>exit=STATUS ..." gives the program's exit status and whether its plan was met.
LIST_FILE, when given, names every test the program has (one a line): those it did not report
are "not-run", except the first, the one that was running when the program ended early: it is
"hang" when STATUS is 124 (the program was timed out), "crashed" when STATUS is another
failure (with the program's "Bail out!" message, if any).
"""
import re
import sys

LINE = re.compile(r"^(\s*)(ok|not ok)\b\s*\d*\s*(?:-\s+)?(.*)$")
DIRECTIVE = re.compile(r"\s+#\s*(SKIP|TODO)\b.*$", re.IGNORECASE)
SUBTEST = re.compile(r"^(\s*)# Subtest: (.*)$")
PLAN = re.compile(r"^1\.\.(\d+)")


def parse(lines):
    """Yields (name, result) for each test line; also returns the top-level plan and count."""
    stack = []  # (indent, name) of the subtests announced and not yet ended
    results, plan, top, bail = [], None, 0, None
    for raw in lines:
        line = raw.rstrip("\n")
        m = SUBTEST.match(line)
        if m:
            stack.append((len(m.group(1)), m.group(2)))
            continue
        m = PLAN.match(line)
        if m:
            plan = int(m.group(1))
            continue
        m = LINE.match(line)
        if not m:
            if line.startswith("Bail out!"):
                bail = line
            continue
        indent, status, rest = len(m.group(1)), m.group(2), m.group(3)
        d = DIRECTIVE.search(rest)
        name = DIRECTIVE.sub("", rest).strip()
        if d:
            result = d.group(1).lower()
        else:
            result = "pass" if status == "ok" else "fail"
        while stack and stack[-1][0] > indent:
            stack.pop()
        if stack and stack[-1][0] == indent and stack[-1][1] == name:
            stack.pop()
        results.append((" > ".join([n for _, n in stack] + [name]), result))
        if indent == 0:
            top += 1
    return results, plan, top, bail


def main():
    prefix, tap, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(tap, errors="replace") as f:
        results, plan, top, bail = parse(f)
    seen = {}
    for name, result in results:
        seen[name] = seen.get(name, 0) + 1
        key = name if seen[name] == 1 else f"{name} #{seen[name]}"
        print(f"{prefix} > {key}\t{result}")
    if len(sys.argv) > 4:
        with open(sys.argv[4]) as f:
            listed = [l.strip() for l in f if l.strip()]
        first = True
        for name in listed:
            if name not in seen:
                result = "not-run"
                if first and status == 124:
                    result = "hang"
                elif first and status != 0:
                    result = f"crashed: {bail}" if bail else "crashed"
                print(f"{prefix} > {name}\t{result}")
                first = False
    elif bail:
        print(f"{prefix} > (bail out)\tcrashed: {bail}")
    planned = "plan met" if plan is not None and plan == top else f"ran {top} of {plan}"
    print(f"{prefix}\texit={status} {planned}")


main()
