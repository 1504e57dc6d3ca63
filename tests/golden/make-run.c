/* Writes the run the golden files are made from, with the shim's own trace writer: a native
 * server and a Node.js process, stalls on CPU, in a blocking call and still in progress,
 * call sites of every kind the check looks at. Module paths do not exist, so every name comes
 * from the perf-PID.map files written beside the traces, and the output is the same on any
 * machine. Usage: make-run DIR */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace-format.h"
#include "trace-writer.h"

#define MS 1000000ull
#define S 1000000000ull

static struct ss_writer w;
static const char *dir;

static void open_trace(uint32_t pid, uint32_t ppid, uint64_t start, const char *exe,
                       const char *cmd, size_t cmd_len)
{
    char why[256];
    if (ss_writer_open(&w, dir, (pid_t)pid, why, sizeof why) < 0) {
        fprintf(stderr, "make-run: %s\n", why);
        exit(1);
    }
    struct ss_rec_process p = {pid,
                               ppid,
                               start,
                               1700000000 * S + start,
                               50 * MS,
                               10 * MS,
                               (uint32_t)strlen(exe),
                               (uint32_t)cmd_len};
    ss_writer_record2(&w, SS_REC_PROCESS, &p, sizeof p, exe, strlen(exe), cmd, cmd_len);
}

static void module(const char *path, uint64_t bias, uint64_t lo, uint64_t hi)
{
    struct ss_rec_module m = {bias, lo, hi, 0, (uint16_t)strlen(path)};
    ss_writer_record2(&w, SS_REC_MODULE, &m, sizeof m, NULL, 0, path, strlen(path));
}

static void thread(uint32_t tid, const char *name, uint64_t first_wait)
{
    struct ss_rec_thread t = {tid, SS_THREAD_LOOP, first_wait};
    ss_writer_record(&w, SS_REC_THREAD, &t, sizeof t, name, strlen(name));
}

static void stack(uint32_t id, const uint64_t *addrs, uint32_t n)
{
    struct ss_rec_stack s = {id, n};
    ss_writer_record(&w, SS_REC_STACK, &s, sizeof s, addrs, n * sizeof *addrs);
}

static void stall_begin(uint32_t tid, uint64_t start)
{
    struct ss_rec_stall_begin b = {tid, 0, start, start};
    ss_writer_record(&w, SS_REC_STALL_BEGIN, &b, sizeof b, NULL, 0);
}

static void sample(uint32_t tid, uint64_t start, uint32_t stack, uint64_t offset)
{
    struct ss_rec_sample s = {tid, stack, start, offset, 200000, 5, SS_SAMPLE_SIGNAL, 0};
    ss_writer_record(&w, SS_REC_SAMPLE, &s, sizeof s, NULL, 0);
}

static void call_sample(uint32_t tid, uint64_t start, uint32_t stack, uint64_t offset,
                        const char *call, uint64_t call_ns)
{
    struct ss_rec_sample s = {tid, stack, start, offset, 150000, 5, SS_SAMPLE_CALL, call_ns};
    ss_writer_record(&w, SS_REC_SAMPLE, &s, sizeof s, call, strlen(call));
}

static void stall_call(uint32_t tid, uint64_t start, unsigned category, const char *function,
                       uint64_t count, uint64_t total)
{
    struct ss_rec_stall_call c = {tid, (uint16_t)category, 0, start, count, total};
    ss_writer_record(&w, SS_REC_STALL_CALL, &c, sizeof c, function, strlen(function));
}

static void stall_end(uint32_t tid, uint64_t start, uint64_t duration)
{
    struct ss_rec_stall_end e = {tid, 0, start, start, duration};
    ss_writer_record(&w, SS_REC_STALL_END, &e, sizeof e, NULL, 0);
}

enum { FILE_CAT, NET_CAT, DNS_CAT, SLEEP_CAT };

static void call_site(uint32_t tid, uint32_t id, uint32_t stack, unsigned category,
                      const char *function, uint64_t count, uint64_t total, uint64_t max,
                      uint64_t first, const char *detail)
{
    struct ss_rec_call_site c = {tid,
                                 id,
                                 stack,
                                 (uint16_t)category,
                                 0,
                                 count,
                                 total,
                                 max,
                                 first,
                                 (uint16_t)strlen(function),
                                 (uint16_t)strlen(detail)};
    ss_writer_record2(&w, SS_REC_CALL_SITE, &c, sizeof c, function, strlen(function), detail,
                       strlen(detail));
}

/* Most iterations are short; the stalls land in their own buckets. */
static void histogram(uint32_t tid, uint64_t quick, const uint64_t *stalls, size_t nstalls)
{
    uint64_t buckets[SS_HIST_BUCKETS] = {0}, total = quick * 20000, max = 20000;
    buckets[ss_hist_bucket(20000)] = quick;
    for (size_t i = 0; i < nstalls; i++) {
        buckets[ss_hist_bucket(stalls[i])]++;
        total += stalls[i];
        if (stalls[i] > max)
            max = stalls[i];
    }
    struct ss_rec_histogram h = {tid, SS_HIST_BUCKETS, quick + nstalls, total, max};
    ss_writer_record(&w, SS_REC_HISTOGRAM, &h, sizeof h, buckets, sizeof buckets);
}

static void perf_map(uint32_t pid, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/perf-%u.map", dir, pid);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "make-run: cannot write %s\n", path);
        exit(1);
    }
}

/* A native server: a stall on CPU, one in read(), one still running when it was killed, and
 * file, dns and sleep call sites, one of them in a library. */
static void server(void)
{
    const uint32_t pid = 4242, io = 4243;
    const char cmd[] = "server\0--port\0"
                       "8080";
    open_trace(pid, 1, 1 * S, "/opt/golden/bin/server", cmd, sizeof cmd);
    module("/opt/golden/bin/server", 0, 0x401000, 0x410000);
    module("/opt/golden/lib/libc.so.6", 0x7f0000000000, 0x7f0000001000, 0x7f0000100000);
    module("/opt/golden/lib/libsqlite3.so.0.8.6", 0x7f1000000000, 0x7f1000001000, 0x7f1000100000);
    thread(pid, "server", 1 * S);
    thread(io, "io loop", 1 * S + 5 * MS);
    const uint64_t cpu[] = {0x401420, 0x401210, 0x401110, 0x401010, 0x7f0000001010};
    const uint64_t config[] = {0x401310, 0x401220, 0x401120, 0x401020, 0x7f0000001020};
    const uint64_t db[] = {0x7f1000001010, 0x401510, 0x401230, 0x401130, 0x401030};
    const uint64_t dns[] = {0x401610, 0x401140, 0x401040, 0x7f0000001030};
    const uint64_t request[] = {0x401240, 0x401150, 0x401050, 0x7f0000001040};
    /* An address the map does not name and one in no module. */
    const uint64_t unknown[] = {0x40f000, 0x5000000, 0x401060};
    stack(1, cpu, 5);
    stack(2, config, 5);
    stack(3, db, 5);
    stack(4, dns, 4);
    stack(5, request, 4);
    stack(6, unknown, 3);

    uint64_t s1 = 1100 * MS;
    stall_begin(pid, s1);
    sample(pid, s1, 1, 50 * MS);
    sample(pid, s1, 1, 60 * MS);
    sample(pid, s1, 5, 70 * MS);
    sample(pid, s1, 1, 80 * MS);
    stall_end(pid, s1, 230 * MS);
    struct ss_rec_stall_split split = {pid, 0, s1, 180 * MS, 170 * MS, 6 * MS};
    ss_writer_record(&w, SS_REC_STALL_SPLIT, &split, sizeof split, NULL, 0);

    uint64_t s2 = 1500 * MS;
    stall_begin(pid, s2);
    call_sample(pid, s2, 2, 118 * MS, "read", 110 * MS);
    stall_call(pid, s2, FILE_CAT, "read", 1, 110 * MS);
    stall_end(pid, s2, 120 * MS);

    uint64_t s3 = 1700 * MS;
    stall_begin(io, s3);
    sample(io, s3, 6, 50 * MS);
    sample(io, s3, 0, 60 * MS);
    sample(io, s3, 6, 70 * MS);
    stall_end(io, s3, 80 * MS);

    call_site(pid, 1, 2, FILE_CAT, "open64", 3, 1500000, 800000, 1200 * MS,
              "/etc/server/100%.conf");
    call_site(pid, 2, 2, FILE_CAT, "read", 1, 110 * MS, 110 * MS, 1502 * MS,
              "fd 7: /etc/server/100%.conf");
    call_site(pid, 3, 3, FILE_CAT, "pread64", 40, 12 * MS, 900000, 1250 * MS,
              "fd 9: /var/db/app.sqlite");
    call_site(pid, 4, 4, DNS_CAT, "getaddrinfo", 1, 30 * MS, 30 * MS, 1260 * MS,
              "backend.internal");
    call_site(pid, 5, 5, SLEEP_CAT, "nanosleep", 2, 4 * MS, 2 * MS, 1270 * MS, "");
    const uint64_t main_stalls[] = {230 * MS, 120 * MS}, io_stalls[] = {80 * MS};
    histogram(pid, 98, main_stalls, 2);
    histogram(io, 49, io_stalls, 1);

    /* Still stalled when the process was killed: no end, no END record. */
    uint64_t s4 = 2000 * MS;
    stall_begin(pid, s4);
    sample(pid, s4, 1, 60 * MS);
    ss_writer_close(&w);
    perf_map(pid, "401000 100 main\n"
                  "401100 100 run_loop\n"
                  "401200 100 handle_request\n"
                  "401300 100 load_config\n"
                  "401400 100 checksum_config.constprop.0\n"
                  "401500 100 db_query\n"
                  "401600 100 resolve_backend\n"
                  "7f0000001000 100 __libc_start_main\n"
                  "7f1000001000 100 sqlite3_step\n");
}

/* Node.js: a stall partly in readFileSync, file calls from the program and from a vendored
 * script, frames named by V8's perf map. */
static void node(void)
{
    const uint32_t pid = 4343;
    const char cmd[] = "node\0/app/server.js";
    open_trace(pid, 4000, 1050 * MS, "/opt/golden/bin/node", cmd, sizeof cmd);
    module("/opt/golden/bin/node", 0, 0x800000, 0x900000);
    thread(pid, "node", 1050 * MS);
    const uint64_t read_config[] = {0x800110,       0x3e0000001010, 0x3e0000001210, 0x3e0000001810,
                                    0x3e0000001410, 0x800210,       0x800310};
    const uint64_t vendor[] = {0x800120,       0x3e0000001610, 0x3e0000001220,
                               0x3e0000001420, 0x800220,       0x800320};
    stack(1, read_config, 7);
    stack(2, vendor, 6);

    uint64_t s1 = 1300 * MS;
    stall_begin(pid, s1);
    sample(pid, s1, 1, 50 * MS);
    call_sample(pid, s1, 1, 75 * MS, "read", 20 * MS);
    stall_call(pid, s1, FILE_CAT, "read", 1, 20 * MS);
    stall_call(pid, s1, FILE_CAT, "open64", 1, 1 * MS);
    stall_end(pid, s1, 90 * MS);

    call_site(pid, 1, 1, FILE_CAT, "open64", 2, 2 * MS, 1 * MS, 1310 * MS, "/app/config.json");
    call_site(pid, 2, 1, FILE_CAT, "read", 2, 21 * MS, 20 * MS, 1311 * MS,
              "fd 21: /app/config.json");
    call_site(pid, 3, 2, FILE_CAT, "open64", 1, 300000, 300000, 1400 * MS, "/app/vendor/data.txt");
    const uint64_t stalls[] = {90 * MS};
    histogram(pid, 30, stalls, 1);
    struct ss_rec_end end = {1600 * MS};
    ss_writer_record(&w, SS_REC_END, &end, sizeof end, NULL, 0);
    ss_writer_close(&w);
    perf_map(pid, "800100 100 node::fs::ReadFileUtf8(v8::FunctionCallbackInfo<v8::Value> const&)\n"
                  "800200 100 uv_run\n"
                  "800300 100 main\n"
                  "3e0000001000 200 JS:~loadConfig /app/lib/config.js:12:3\n"
                  "3e0000001200 200 JS:*handleRequest /app/server.js:40:10\n"
                  "3e0000001400 200 JS:~listOnTimeout node:internal/timers:569:25\n"
                  "3e0000001600 200 JS:^ /app/vendor/left-pad.js:3:1\n"
                  "3e0000001800 200 Builtin:ArrayForEach\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make-run DIR\n");
        return 2;
    }
    dir = argv[1];
    server();
    node();
    return 0;
}
