# Shared by scripts/demo and scripts/test: installs what the build needs (only what is
# missing), then configures and builds stallscope in $BUILD_DIR. Sourced, not run.

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
# A relative build directory is the caller's, and must stay valid after the cd below.
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac
JOBS=$(nproc 2>/dev/null || echo 2)

# Debian packages the build and the tests use; libxml2-utils and libdevel-nytprof-perl are
# consumers the tests feed exports to (flamegraph.pl comes with the latter), libuv1-dev builds
# examples/libuv, golang-go (go tool pprof) reads the pprof export. libmicrohttpd-dev builds
# serve, whose tests scrape it with prometheus (and check its output with the promtool that
# comes with it). libprotobuf-c-dev, protobuf-c-compiler and zlib1g-dev build the pprof
# export. clang and its runtime build the fuzzers (fuzz/run); valgrind checks the CLI.
PACKAGES="gcc g++ make autoconf automake libtool pkg-config libunwind-dev libelf-dev
libdw-dev libcriterion-dev libxml2-utils libdevel-nytprof-perl libncurses-dev tmux libuv1-dev
clang-14 libclang-rt-14-dev valgrind strace libmicrohttpd-dev prometheus libprotobuf-c-dev
protobuf-c-compiler zlib1g-dev golang-go"

say() { printf '==> %s\n' "$*"; }

install_missing() {
    missing=
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages:$missing" >&2
        echo "install them with: sudo apt-get install$missing" >&2
        exit 1
    fi
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# build [configure options...]: (re)configures when the options changed, then builds.
build() {
    install_missing
    cd "$ROOT"
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt configure ]; then
        say "autoreconf -fi"
        autoreconf -fi >/dev/null
    fi
    mkdir -p "$BUILD_DIR"
    cd "$BUILD_DIR"
    want="$*"
    if [ ! -f Makefile ] || [ "$(cat .configure-options 2>/dev/null)" != "$want" ] ||
        [ "$ROOT/configure" -nt Makefile ]; then
        say "configure $want"
        # shellcheck disable=SC2086
        "$ROOT/configure" -q $want
        printf '%s' "$want" >.configure-options
    fi
    say "make"
    make -s -j"$JOBS"
}
