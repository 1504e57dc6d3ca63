# A daemon that forks twice, starts a new session, closes every descriptor, opens
# /dev/null as 0, 1 and 2, runs a poll loop, and reports through a FIFO.
mkfifo report
/usr/bin/python3.11 - <<'EOT' &
import os, select, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
os.closerange(0, 65536)
fds = [os.open("/dev/null", os.O_RDWR), os.dup(0), os.dup(0)]
r, w = os.pipe()
for _ in range(20):
    select.select([r], [], [], 0.01)
    time.sleep(0.01)
out = os.open("report", os.O_WRONLY)
left = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
os.write(out, f"daemon opened {fds}, pipe {r} {w}, report {out}; open: {left}\n".encode())
EOT
wait $!
cat report
