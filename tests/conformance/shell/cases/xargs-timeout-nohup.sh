# xargs -P, timeout and nohup, each with their exit statuses.
seq 1 40 | xargs -P 4 -n 3 sh -c 'for n; do echo $((n * n)); done' sh | sort -n | tr '\n' ' '
echo
seq 1 8 | xargs -P 3 -I{} sh -c 'exit $(({} == 5 ? 7 : 0))'; echo "xargs with a failing child: $?"
timeout 0.3 sleep 5; echo "timeout expired: $?"
timeout 5 sh -c 'exit 3'; echo "timeout, child's own status: $?"
timeout -s INT 0.3 sleep 5; echo "timeout -s INT: $?"
# (in a subshell whose stderr is /dev/null: the shell says "Killed" there, with a pid)
(timeout -k 0.2 0.2 sh -c 'trap "" TERM; sleep 3'; echo "timeout -k after TERM ignored: $?" >&3) \
    3>&1 2>/dev/null
timeout --preserve-status 0.3 sleep 5; echo "timeout --preserve-status: $?"
echo input | timeout 5 cat
nohup sh -c 'kill -HUP $$; echo "survived SIGHUP"' >nohup.txt 2>&1; echo "nohup: $?"
cat nohup.txt
