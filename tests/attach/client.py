"""A steady load for the attach tests: pings a server over TCP ("ping\\n", one answer line
each) on several connections until SIGTERM, then prints "answered N failed M". An answer that
does not come within 10 s, a refused or reset connection, a wrong answer: each is a failure."""
import signal
import socket
import sys
import threading
import time

host, port, connections = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stop = threading.Event()
lock = threading.Lock()
counts = {"answered": 0, "failed": 0}


def count(key):
    with lock:
        counts[key] += 1


def pinger():
    while not stop.is_set():
        try:
            with socket.create_connection((host, port), timeout=10) as s:
                f = s.makefile("rb")
                for _ in range(200):
                    if stop.is_set():
                        return
                    s.sendall(b"ping\n")
                    line = f.readline()
                    if not line.startswith(b"pong"):
                        count("failed")
                        break
                    count("answered")
                    time.sleep(0.002)
        except OSError:
            count("failed")
            time.sleep(0.05)


signal.signal(signal.SIGTERM, lambda *_: stop.set())
threads = [threading.Thread(target=pinger) for _ in range(connections)]
for t in threads:
    t.start()
while not stop.is_set():
    stop.wait(0.1)
for t in threads:
    t.join()
print(f"answered {counts['answered']} failed {counts['failed']}", flush=True)
