"""results.py JUNIT_XML LOG

Turns one run of CPython's regrtest into results lines, "ID<TAB>RESULT<TAB>LOG":
- each test case in the JUnit XML (ID "test.test_io.CIOTest.test_x"): pass, fail, error or
  skip; a failure's or error's text is written to failures/ID.txt beside the XML, its LOG;
- each test file's own verdict from the log ("test_io (file)"): passed, failed, skipped,
  env changed, crashed, ... (counts and durations left out);
- the test that was running when a file was timed out (regrtest --timeout dumps the
  tracebacks into the -v log, after the test's "... " line): "hang".
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

FILE_LINE = re.compile(r"\[\s*\d+/\d+(?:/\d+)?\] (test[\w.]*) (.*?)(?: -- running: .*)?$")
DETAIL = re.compile(r"\s*\((?:[\d.]+ (?:sec|ms)|\d+ min(?: \d+ sec)?|\d+ hour.*?|"
                    r"\d+ (?:failures?|errors?)(?:, \d+ (?:failures?|errors?))*)\)")
TIMEOUT = re.compile(r"Timeout \(\d+:\d\d:\d\d\)!")
RUNNING = re.compile(r"\(((?:test\.)?test_[\w.]+)\)[^\n]* \.\.\. ")


def cases(junit, failures_dir):
    seen = {}
    try:
        root = ET.parse(junit).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"(junit xml)\tunreadable: {type(e).__name__}\t{junit}")
        return
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} #{seen[name]}"
        result, log, text = "pass", junit, None
        for child in case:
            if child.tag in ("failure", "error"):
                result, text = ("fail" if child.tag == "failure" else "error"), child.text or ""
            elif child.tag == "skipped":
                result = "skip"
        if text is not None:
            os.makedirs(failures_dir, exist_ok=True)
            log = os.path.join(failures_dir, name.replace("/", "_") + ".txt")
            with open(log, "w") as f:
                f.write(text)
        print(f"{name}\t{result}\t{log}")


def files_and_hangs(log_path):
    try:
        with open(log_path, errors="replace") as f:
            text = f.read()
    except OSError:
        return
    for line in text.splitlines():
        m = FILE_LINE.search(line)
        if m:
            status = DETAIL.sub("", m.group(2)).strip()
            print(f"{m.group(1)} (file)\t{status}\t{log_path}")
    for m in TIMEOUT.finditer(text):
        running = list(RUNNING.finditer(text, 0, m.start()))
        name = running[-1].group(1) if running else "(unknown test)"
        print(f"{name}\thang\t{log_path}")


cases(sys.argv[1], os.path.join(os.path.dirname(sys.argv[1]), "failures"))
files_and_hangs(sys.argv[2])
