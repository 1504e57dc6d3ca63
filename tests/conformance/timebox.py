"""timebox SECONDS COMMAND [ARGS...]

Runs COMMAND and returns its status (128+N when a signal N ended it). It adopts every
process COMMAND leaves behind (it is their subreaper), and once COMMAND has ended, or after
SECONDS, it kills all of them, so nothing a test started outlives the test. When SECONDS
pass first it prints "timebox: timed out after SECONDS s" on stderr and returns 124, as
timeout(1) does.
"""
import ctypes
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def descendants():
    """Pids of every process below this one (children of children included)."""
    found, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def kill_all():
    """Stops and kills every descendant until none is left, reaping them all."""
    while True:
        pids = descendants()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, 0):
                pass
        except ChildProcessError:
            pass


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: timebox SECONDS COMMAND [ARGS...]")
    seconds = float(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("timebox: prctl(PR_SET_CHILD_SUBREAPER) failed")
    # SIGINT and SIGTERM from the caller end the whole tree, as a timeout does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(kill_all() or 143))
    child = subprocess.Popen(sys.argv[2:])
    try:
        status = child.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        kill_all()
        print(f"timebox: timed out after {sys.argv[1]} s: {' '.join(sys.argv[2:])}",
              file=sys.stderr, flush=True)
        sys.exit(124)
    except KeyboardInterrupt:
        kill_all()
        sys.exit(130)
    kill_all()
    sys.exit(128 - status if status < 0 else status)


main()
