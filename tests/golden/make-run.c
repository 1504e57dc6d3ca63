/* Writes the run the golden files are made from, with the shim's own trace writer: a native
 * server and a Node.js process, stalls on CPU, in a blocking call and still in progress,
 * call sites of every kind the check looks at; a Python process whose loops end and change,
 * and a server hung in a lock and in a read. Module paths do not exist, so every name comes
 * from the perf-PID.map files written beside the traces, and the output is the same on any
 * machine. Usage: make-run DIR */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/trace-format.h"
#include "trace-builder.h"
#include "trace/trace-writer.h"

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
    tb_process(&w,
               (struct ss_rec_process){.pid = pid,
                                       .ppid = ppid,
                                       .start_mono_ns = start,
                                       .start_real_ns = 1700000000 * S + start,
                                       .threshold_ns = 50 * MS,
                                       .interval_ns = 10 * MS},
               exe, cmd, (uint32_t)cmd_len);
}

static void module(const char *path, uint64_t bias, uint64_t lo, uint64_t hi)
{
    struct ss_rec_module m = {.bias = bias, .lo = lo, .hi = hi, .path_len = (uint16_t)strlen(path)};
    ss_writer_record_tails(&w, SS_REC_MODULE, &m, sizeof m, NULL, 0, path, strlen(path));
}

static void thread(uint32_t tid, const char *name, uint64_t first_wait)
{
    tb_thread(
        &w,
        (struct ss_rec_thread){.tid = tid, .flags = SS_THREAD_LOOP, .first_wait_ns = first_wait},
        name);
}

static void stack(uint32_t id, const uint64_t *addrs, uint32_t n)
{
    tb_stack(&w, id, addrs, n);
}

static void stall_begin(uint32_t tid, uint64_t start)
{
    tb_stall_begin(&w, tid, start);
}

static void sample(uint32_t tid, uint64_t start, uint32_t stack, uint64_t offset)
{
    tb_sample(&w,
              (struct ss_rec_sample){.tid = tid,
                                     .stack_id = stack,
                                     .stall_id = start,
                                     .offset_ns = offset,
                                     .capture_ns = 200000,
                                     .nframes = 5,
                                     .source = SS_SAMPLE_SIGNAL},
              NULL);
}

static void call_sample(uint32_t tid, uint64_t start, uint32_t stack, uint64_t offset,
                        const char *call, uint64_t call_ns)
{
    tb_sample(&w,
              (struct ss_rec_sample){.tid = tid,
                                     .stack_id = stack,
                                     .stall_id = start,
                                     .offset_ns = offset,
                                     .capture_ns = 150000,
                                     .nframes = 5,
                                     .source = SS_SAMPLE_CALL,
                                     .call_ns = call_ns},
              call);
}

static void syscall_sample(uint32_t tid, uint64_t start, uint32_t stack, uint64_t offset,
                           const char *name)
{
    tb_sample(&w,
              (struct ss_rec_sample){.tid = tid,
                                     .stack_id = stack,
                                     .stall_id = start,
                                     .offset_ns = offset,
                                     .capture_ns = 90000,
                                     .nframes = 3,
                                     .source = SS_SAMPLE_SYSCALL},
              name);
}

static void stall_call(uint32_t tid, uint64_t start, unsigned category, const char *function,
                       uint64_t count, uint64_t total)
{
    tb_stall_call(&w,
                  (struct ss_rec_stall_call){.tid = tid,
                                             .category = (uint16_t)category,
                                             .stall_id = start,
                                             .count = count,
                                             .total_ns = total},
                  function);
}

static void stall_end(uint32_t tid, uint64_t start, uint64_t duration)
{
    tb_stall_end(&w, tid, start, duration);
}

static void split(uint32_t tid, uint64_t start, uint32_t flags, uint64_t window, uint64_t cpu,
                  uint64_t runnable)
{
    struct ss_rec_stall_split r = {.tid = tid,
                                   .flags = flags,
                                   .stall_id = start,
                                   .window_ns = window,
                                   .cpu_ns = cpu,
                                   .runnable_ns = runnable};
    ss_writer_record(&w, SS_REC_STALL_SPLIT, &r, sizeof r, NULL, 0);
}

static void pause_in(uint32_t tid, uint64_t start, unsigned kind, uint64_t paused)
{
    struct ss_rec_stall_pause r = {
        .tid = tid, .kind = (uint16_t)kind, .stall_id = start, .paused_ns = paused};
    ss_writer_record(&w, SS_REC_STALL_PAUSE, &r, sizeof r, NULL, 0);
}

static void task(uint32_t tid, uint64_t start, const char *name, const char *coroutine)
{
    struct ss_rec_stall_task r = {.tid = tid,
                                  .name_len = (uint16_t)strlen(name),
                                  .coroutine_len = (uint16_t)strlen(coroutine),
                                  .stall_id = start};
    ss_writer_record_tails(&w, SS_REC_STALL_TASK, &r, sizeof r, name, strlen(name), coroutine,
                           strlen(coroutine));
}

static void loop_begin(uint32_t tid, unsigned kind, int32_t fd, uint32_t site, uint64_t at,
                       const char *wait)
{
    struct ss_rec_loop_begin r = {
        .tid = tid, .kind = (uint16_t)kind, .fd = fd, .site_stack_id = site, .at_ns = at};
    ss_writer_record(&w, SS_REC_LOOP_BEGIN, &r, sizeof r, wait, strlen(wait));
}

static void loop_end(uint32_t tid, unsigned reason, uint64_t last_start, uint64_t end)
{
    struct ss_rec_loop_end r = {
        .tid = tid, .reason = (uint16_t)reason, .last_start = last_start, .end_ns = end};
    ss_writer_record(&w, SS_REC_LOOP_END, &r, sizeof r, NULL, 0);
}

enum { FILE_CAT, NET_CAT, DNS_CAT, SLEEP_CAT, PROCESS_CAT, LOCK_CAT };

static void call_site(uint32_t tid, uint32_t id, uint32_t stack, unsigned category,
                      const char *function, uint64_t count, uint64_t total, uint64_t max,
                      uint64_t first, const char *detail)
{
    struct ss_rec_call_site c = {.tid = tid,
                                 .site_id = id,
                                 .stack_id = stack,
                                 .category = (uint16_t)category,
                                 .count = count,
                                 .total_ns = total,
                                 .max_ns = max,
                                 .first_ns = first,
                                 .function_len = (uint16_t)strlen(function),
                                 .detail_len = (uint16_t)strlen(detail)};
    ss_writer_record_tails(&w, SS_REC_CALL_SITE, &c, sizeof c, function, strlen(function), detail,
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
    struct ss_rec_histogram h = {.tid = tid,
                                 .nbuckets = SS_HIST_BUCKETS,
                                 .iterations = quick + nstalls,
                                 .busy_total_ns = total,
                                 .busy_max_ns = max};
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
    struct ss_rec_stall_split split = {.tid = pid,
                                       .stall_id = s1,
                                       .window_ns = 180 * MS,
                                       .cpu_ns = 170 * MS,
                                       .runnable_ns = 6 * MS};
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
    tb_end(&w, 1600 * MS);
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

/* Python: the main thread's first asyncio loop is closed after a stretch the monitor had taken
 * for a stall, and a second one runs to the end; a stall mostly spent stopped by a debugger; a
 * thread that polled but turned out to be a worker; a thread that ran 1.2 s after its last
 * iteration, until the process exited. */
static void python(void)
{
    const uint32_t pid = 4545, worker = 4546, server = 4547;
    const char cmd[] = "python3\0/srv/app.py";
    open_trace(pid, 4000, 2 * S, "/opt/golden/bin/python3", cmd, sizeof cmd);
    module("/opt/golden/bin/python3", 0, 0xa00000, 0xb00000);
    thread(pid, "python3", 2010 * MS);
    thread(worker, "worker", 2020 * MS);
    thread(server, "metrics", 2030 * MS);
    const uint64_t report[] = {0xa00310, 0xa00210, 0xa00110};
    const uint64_t closing[] = {0xa00410, 0xa00210, 0xa00110};
    const uint64_t serve_site[] = {0xa00510};
    const uint64_t flush[] = {0xa00610, 0xa00520, 0xa00120};
    const uint64_t job[] = {0xa00810, 0xa00720};
    const uint64_t worker_site[] = {0xa00710};
    stack(1, report, 3);
    stack(2, closing, 3);
    stack(3, serve_site, 1);
    stack(4, flush, 3);
    stack(5, job, 2);
    stack(6, worker_site, 1);
    loop_begin(pid, SS_LOOP_EPOLL, 3, 0, 2010 * MS, "epoll_wait");
    loop_begin(worker, SS_LOOP_SITE, -1, 6, 2020 * MS, "poll");
    loop_begin(server, SS_LOOP_SITE, -1, 3, 2030 * MS, "poll");

    /* 1.15 s, 1 s of it stopped; its split covers it from its start. */
    uint64_t s1 = 2100 * MS;
    stall_begin(pid, s1);
    sample(pid, s1, 1, 60 * MS);
    task(pid, s1, "planted-worker", "Server.handle");
    sample(pid, s1, 1, 1120 * MS);
    stall_end(pid, s1, 1150 * MS);
    pause_in(pid, s1, SS_PAUSE_STOPPED, 1 * S);
    split(pid, s1, SS_SPLIT_FROM_START, 1150 * MS, 140 * MS, 10 * MS);

    /* The worker's stall is no stall, nor are its iterations. */
    uint64_t w1 = 2200 * MS;
    stall_begin(worker, w1);
    sample(worker, w1, 5, 55 * MS);
    const uint64_t worker_stalls[] = {70 * MS};
    histogram(worker, 3, worker_stalls, 1);
    loop_end(worker, SS_LOOP_NOT_A_LOOP, w1, 2300 * MS);

    /* The first loop's last stretch: announced, sampled, then ended by the close. Its split
     * comes after the loop's end and still belongs to it. */
    uint64_t l1 = 3400 * MS;
    stall_begin(pid, l1);
    sample(pid, l1, 2, 60 * MS);
    loop_end(pid, SS_LOOP_CLOSED, l1, 3500 * MS);
    split(pid, l1, 0, 50 * MS, 48 * MS, 1 * MS);
    loop_begin(pid, SS_LOOP_EPOLL, 5, 0, 3600 * MS, "epoll_wait");

    /* After its last iteration, the metrics thread flushes for 1.2 s until the exit. */
    uint64_t l2 = 3800 * MS;
    stall_begin(server, l2);
    sample(server, l2, 4, 60 * MS);
    sample(server, l2, 4, 1100 * MS);
    loop_end(server, SS_LOOP_PROCESS_EXIT, l2, 5000 * MS);
    loop_end(pid, SS_LOOP_PROCESS_EXIT, 0, 5000 * MS);
    const uint64_t main_stalls[] = {1150 * MS};
    histogram(pid, 200, main_stalls, 1);
    histogram(server, 40, NULL, 0);
    tb_end(&w, 5000 * MS);
    ss_writer_close(&w);
    perf_map(pid, "a00100 100 main\n"
                  "a00200 100 run_forever\n"
                  "a00300 100 build_report\n"
                  "a00400 100 close_connections\n"
                  "a00500 100 serve_metrics\n"
                  "a00600 100 flush_metrics\n"
                  "a00700 100 worker_main\n"
                  "a00800 100 next_job\n");
}

/* A server hung when it was killed: its main thread waiting 12 s for a lock, its reader in a
 * read() system call. */
static void hung(void)
{
    const uint32_t pid = 4646, reader = 4647;
    const char cmd[] = "lockd\0--config\0/etc/lockd.conf";
    open_trace(pid, 1, 10 * S, "/opt/golden/bin/lockd", cmd, sizeof cmd);
    module("/opt/golden/bin/lockd", 0, 0xc00000, 0xd00000);
    thread(pid, "lockd", 10 * S + 5 * MS);
    thread(reader, "reader", 10 * S + 6 * MS);
    const uint64_t handle[] = {0xc00210, 0xc00110};
    const uint64_t locked[] = {0xc00310, 0xc00220, 0xc00120};
    const uint64_t reading[] = {0xc00410, 0xc00130};
    stack(1, handle, 2);
    stack(2, locked, 3);
    stack(3, reading, 2);
    loop_begin(pid, SS_LOOP_EPOLL, 4, 0, 10 * S + 5 * MS, "epoll_wait");
    loop_begin(reader, SS_LOOP_EPOLL, 6, 0, 10 * S + 6 * MS, "epoll_wait");
    histogram(pid, 20, NULL, 0);
    histogram(reader, 20, NULL, 0);

    uint64_t m = 10 * S + 100 * MS;
    stall_begin(pid, m);
    sample(pid, m, 1, 50 * MS);
    call_sample(pid, m, 2, 12050 * MS, "pthread_mutex_lock", 12 * S);

    uint64_t r = 10 * S + 200 * MS;
    stall_begin(reader, r);
    syscall_sample(reader, r, 3, 3 * S, "read");
    ss_writer_close(&w);
    perf_map(pid, "c00100 100 main\n"
                  "c00200 100 handle_client\n"
                  "c00300 100 lock_table\n"
                  "c00400 100 read_frame\n");
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
    python();
    hung();
    return 0;
}
