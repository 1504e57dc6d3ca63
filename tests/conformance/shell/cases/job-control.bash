# Job control: background jobs, `wait` for their statuses, `kill %1`, stop and continue.
set -m
sleep 30 &
kill %1
wait %1; echo "killed job: $?"
(exit 4) &
(exit 5) &
wait %1; echo "first job: $?"
wait %2; echo "second job: $?"
# Without job control for this one: with it, whether `wait` sees the stop before the
# continue depends on how fast the child gets going (147 or 143), with or without the shim.
set +m
sleep 30 &
pid=$!
kill -STOP $pid
kill -CONT $pid
kill -TERM $pid
wait $pid; echo "stopped, continued, terminated: $?"
set -m
sh -c 'read -r line; echo "background job read: $line"' <&0 &
wait $!
for n in 1 2 3; do (sleep 0.$n; exit $n) & done
wait; echo "waited for all: $?"
