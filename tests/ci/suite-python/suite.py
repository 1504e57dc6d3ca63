"""A test "suite" as a CI job runs one: each test in its own turn of the asyncio loop, a
summary line, and exit status 3 when a test fails. PLANT_SECOND=1 adds a test that reaches the
second planted call; FAIL_ONE=1 adds a failing test. The summary is written once, at the end,
so that it is the suite's only output."""
import asyncio
import os
import sys

import app

tests = [("config loads", lambda: app.load_config() > 0)]
if os.environ.get("PLANT_SECOND") == "1":
    tests.append(("template exists", app.check_template))
if os.environ.get("FAIL_ONE") == "1":
    tests.append(("fails on purpose", lambda: 1 + 1 == 3))
tests.append(("adds", lambda: 1 + 1 == 2))


async def main():
    failures = 0
    for _, test in tests:
        await asyncio.sleep(0.05)
        failures += not test()
    os.write(1, f"suite: {len(tests)} tests, {failures} failing\n".encode())
    return failures


sys.exit(3 if asyncio.run(main()) else 0)
