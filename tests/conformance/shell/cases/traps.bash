# bash: traps, coprocesses, process substitution, command substitution.
trap 'echo "trap USR1"' USR1
kill -USR1 $$
trap 'echo "trap TERM during wait"' TERM
sleep 30 &
sleeper=$!
(sleep 0.2; kill -TERM $$) &
wait $sleeper; echo "wait interrupted by a trapped signal: $?"
kill $sleeper; wait $sleeper 2>/dev/null
trap - TERM
coproc UPPER { tr a-z A-Z; }
echo "through a coprocess" >&"${UPPER[1]}"
exec {UPPER[1]}>&-
read -r line <&"${UPPER[0]}"; echo "$line"
wait $UPPER_PID; echo "coprocess status: $?"
diff <(printf 'a\nb\n') <(printf 'a\nc\n'); echo "diff status: $?"
echo "nested: $(echo "$(echo "$(cat)")")"
trap 'echo "EXIT trap"' EXIT
exit 6
