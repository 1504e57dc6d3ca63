#!/bin/sh
# The shim exports exactly what it interposes: every call of the catalogue, and none of its
# own functions or data (a host defining a symbol of the same name must not be bound to ours,
# and our internal calls must not go through the PLT).
set -u
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"
need_built "$shim"
exported=$(nm -D --defined-only "$shim" | awk '{print $3}' | sed 's/@.*//' | sort -u)
own=$(printf '%s\n' "$exported" | grep '^ss_')
if [ -n "$own" ]; then
    echo "FAIL: the shim exports its own symbols:" $own
    failures=$((failures + 1))
fi
for name in $(sed -n 's/^ *X([^,]*, *\([A-Za-z0-9_]*\),.*/\1/p' "$SS_SRCDIR/preload/catalogue.h") \
    epoll_wait epoll_pwait poll select nanosleep fork close socket pthread_mutex_lock; do
    if ! printf '%s\n' "$exported" | grep -qx "$name"; then
        echo "FAIL: $name is not exported, so it is not interposed"
        failures=$((failures + 1))
    fi
done
echo "$(printf '%s\n' "$exported" | wc -l) symbols exported, $failures problems"
[ "$failures" -eq 0 ]
