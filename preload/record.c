/* record: appends a blocking call made on a loop thread to its slot's ring, with a stack copy
 * for the first call of each site and for a slow one. Called with the reentrancy guard taken;
 * lock-free and allocation-free, it never blocks the thread that records. */
#define _GNU_SOURCE
#include "fds.h"
#include "shim.h"

/* Sites whose stack was taken already; owner-only, so plain stores suffice. Returns the
 * table entry of the site (seen or free), NULL when the table is full. */
static uint64_t *site_entry(struct ss_slot *s, uint64_t site)
{
    size_t i = (size_t)(site ^ (site >> 17)) & (SS_SITE_TABLE - 1);
    for (size_t n = 0; n < SS_SITE_TABLE; n++, i = (i + 1) & (SS_SITE_TABLE - 1))
        if (s->sites_seen[i] == site || s->sites_seen[i] == 0)
            return &s->sites_seen[i];
    return NULL;
}

void ss__record_call(struct ss_slot *s, unsigned call, int category, uint64_t site,
                     uint64_t start_ns, uint64_t duration_ns, int fd, const char *detail)
{
    unsigned snap = 0;
    char fd_path[SS_DETAIL_MAX];
    const char *path = detail;
    if (!detail) {
        ss__fd_path(fd, fd_path);
        path = fd_path;
    }
    /* A site is where the call was made: in a Python program, also which Python code made
     * it. */
    uint64_t py_key = ss__python_key(s);
    if (atomic_load_explicit(&ss__unwinding, memory_order_relaxed)) {
        uint64_t *seen = site_entry(s, site ^ py_key);
        /* A call on a descriptor of unknown kind that was not opened by path (a timerfd, an
         * inherited pipe) is rarely file I/O: its few stack copies are kept for calls that
         * are. */
        int fresh = seen && *seen == 0 && (category != SS_CAT_PENDING || (path && path[0]));
        if (fresh || duration_ns >= ss__opts.call_threshold_ns)
            snap = ss__capture_call(s);
        /* A site whose first stack could not be taken tries again on its next call. */
        if (fresh && snap)
            *seen = site ^ py_key;
    }
    uint32_t head = atomic_load_explicit(&s->calls_head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&s->calls_tail, memory_order_acquire);
    if (head - tail >= SS_CALL_RING) {
        SS_OWNER_ADD(s->calls_dropped, 1);
        if (snap)
            atomic_store_explicit(&s->call_snap_state[snap - 1], SS_SNAP_FREE,
                                  memory_order_release);
        return;
    }
    struct ss_call_event *e = &s->calls[head % SS_CALL_RING];
    e->site = site;
    e->py_key = py_key;
    e->iteration = atomic_load_explicit(&s->iteration, memory_order_relaxed);
    e->start_ns = start_ns;
    e->duration_ns = duration_ns;
    e->call = (uint16_t)call;
    e->category = (int8_t)category;
    e->snap = (uint8_t)snap;
    e->fd = fd;
    ss__copy_detail(e->detail, path);
    atomic_store_explicit(&s->calls_head, head + 1, memory_order_release);
    /* Half full: wake the monitor early rather than drop; rare on a healthy loop. */
    if (head + 1 - tail == SS_CALL_RING / 2)
        ss__wake_monitor();
}
