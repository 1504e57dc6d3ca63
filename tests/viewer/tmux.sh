# Helpers for the viewer's end-to-end tests: they run the real viewer in a tmux terminal of a
# given size, type keys into it and read the screen back. Sourced, after $tmp is set.
# Waits poll the screen and give up after $SS_WAIT seconds: a guard against a hung viewer, not
# an expectation of speed.

: "${SS_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${SS_BUILDDIR:=$PWD}"
: "${SS_WAIT:=60}"
stallscope=$SS_BUILDDIR/stallscope
fixture=$SS_BUILDDIR/tests/fixtures/loop-fixture-O2

if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: tmux not installed (Debian package tmux)"
    exit 77
fi
if [ ! -x "$stallscope" ] || [ ! -x "$SS_BUILDDIR/stallscope-view" ] || [ ! -x "$fixture" ]; then
    echo "ERROR: no stallscope, stallscope-view or loop fixture in $SS_BUILDDIR"
    exit 99
fi

# A UTF-8 locale when there is one, so that both glyph sets get drawn across the tests.
utf8_locale=$(locale -a 2>/dev/null | grep -i -m1 -E '^(C|en_US)\.utf-?8$' || true)

tm() {
    tmux -S "$tmp/tmux.sock" -f /dev/null "$@"
}

cleanup_tmux() {
    tm kill-server >/dev/null 2>&1 || true
}

# start_viewer NAME WIDTH HEIGHT [ENV=VALUE...] -- VIEW-ARGS...: runs `stallscope view` in a
# new session NAME. When the viewer exits, the pane shows its status and whether the terminal
# is back in canonical mode with echo (endwin ran). The shell around it ignores SIGINT, so that
# it outlives a Ctrl-C typed to the viewer.
start_viewer() {
    name=$1 width=$2 height=$3
    shift 3
    envs=
    while [ "$1" != "--" ]; do
        envs="$envs $1"
        shift
    done
    shift
    args=
    for a in "$@"; do
        args="$args '$a'"
    done
    restored="stty -a | grep -Eq '(^| )icanon( |\$)' && stty -a | grep -Eq '(^| )echo( |\$)'"
    tm new-session -d -s "$name" -x "$width" -y "$height" \
        "trap '' INT; env$envs '$stallscope' view$args; echo \"viewer exit status \$?\";
         if $restored; then echo 'terminal restored'; else echo 'terminal left raw'; fi;
         exec sleep 3600"
}

screen() {
    tm capture-pane -p -t "$1"
}

# wait_for NAME EXTENDED-REGEX: until a line of the screen matches.
wait_for() {
    waited=0
    while ! screen "$1" | grep -Eq -- "$2"; do
        if [ "$waited" -ge $((SS_WAIT * 10)) ]; then
            fail "waited ${SS_WAIT}s in vain for /$2/ on the screen of $1"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# exited NAME STATUS: the viewer exited with STATUS and gave the terminal back.
exited() {
    wait_for "$1" "viewer exit status $2"
    wait_for "$1" 'terminal (restored|left raw)'
    expect_screen "$1" 'terminal restored' "the viewer left the terminal without echo or line editing"
}

# expect_screen NAME EXTENDED-REGEX [WHAT]: the screen matches now.
expect_screen() {
    screen "$1" | grep -Eq -- "$2" || fail "${3:-/$2/ is not on the screen of $1}"
}

# keys NAME KEY...: tmux key names (Enter, Escape, Tab, C-c) or literal text.
keys() {
    name=$1
    shift
    tm send-keys -t "$name" "$@"
}

fail() {
    echo "FAIL: $*"
    for s in $(tm list-sessions -F '#{session_name}' 2>/dev/null); do
        echo "--- screen of $s"
        screen "$s"
    done
    exit 1
}
