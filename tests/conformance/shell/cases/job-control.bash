# Job control: background jobs, `wait` for their statuses, `kill %1`, stop and continue.
# A job that has ended may be reported and forgotten before the next command runs, whenever
# bash handles its SIGCHLD first: `wait %N` would then find no such job, so the statuses are
# waited for by pid, which bash keeps.
set -m
sleep 30 &
pid=$!
kill %1
wait $pid; echo "killed job: $?"
(exit 4) &
first=$!
(exit 5) &
second=$!
wait $first; echo "first job: $?"
wait $second; echo "second job: $?"
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
