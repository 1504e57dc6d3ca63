#define _GNU_SOURCE
#include "serve/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "serve/metrics.h"
#include "serve/profile.h"
#include "util/clock.h"

struct ss_http {
    struct MHD_Daemon *daemon;
    struct ss_follower *follower;
    uint64_t age_out_ns;
    /* Requests that wait (a profile's window) wake when serve stops. */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC */
    int stopping;
    int profiling; /* profile requests being answered: each reads the runs afresh */
};

/* Profiles made at once; more get 429. */
#define PROFILES_AT_ONCE 2

/* Queues body (malloc'd, taken over; NULL when memory ran out) with its status. */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
                              char *body, size_t len)
{
    if (!body) {
        static const char oom[] = "out of memory\n";
        body = strdup(oom);
        len = body ? strlen(body) : 0;
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = "text/plain; charset=utf-8";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    /* The methods there are, as HTTP wants with a 405. */
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *message)
{
    char *body = strdup(message);
    return answer(c, status, "text/plain; charset=utf-8", body, body ? strlen(body) : 0);
}

static enum MHD_Result metrics(struct ss_http *h, struct MHD_Connection *c)
{
    struct ss_follower *f = h->follower;
    const struct ss_tally **tallies = calloc(f->ndirs + 1, sizeof *tallies);
    char *body = NULL;
    size_t len = 0;
    FILE *out = tallies ? open_memstream(&body, &len) : NULL;
    int rc = out ? 0 : -ENOMEM;
    if (rc == 0) {
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->ndirs; i++)
            tallies[i] = &f->dirs[i].tally;
        rc = ss_metrics_write(out, tallies, f->ndirs, ss_monotonic_ns(), h->age_out_ns);
        pthread_mutex_unlock(&f->lock);
        if (fclose(out) != 0 && rc == 0)
            rc = -ENOMEM;
    }
    free(tallies);
    if (rc < 0) {
        free(body);
        body = NULL;
    }
    return answer(c, MHD_HTTP_OK, SS_METRICS_CONTENT_TYPE, body, len);
}

/* Waits until the monotonic clock reaches deadline_ns; 0 when serve began stopping first. */
static int wait_until(struct ss_http *h, uint64_t deadline_ns)
{
    struct timespec until = {(time_t)(deadline_ns / 1000000000ull),
                             (long)(deadline_ns % 1000000000ull)};
    pthread_mutex_lock(&h->lock);
    while (!h->stopping && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT)
        ;
    int stopping = h->stopping;
    pthread_mutex_unlock(&h->lock);
    return !stopping;
}

/* Waits `seconds`, then answers with the profile of the stalls that began in a window as long,
 * SS_PROFILE_LAG_NS behind the clock. */
static enum MHD_Result window_profile(struct ss_http *h, struct MHD_Connection *c,
                                      unsigned long seconds)
{
    /* The traces of the processes that may have stalls in the window have changed since. */
    struct timespec since;
    clock_gettime(CLOCK_REALTIME, &since);
    since.tv_sec -= (time_t)(SS_PROFILE_LAG_NS / 1000000000ull) + 1;
    uint64_t from = ss_monotonic_ns();
    if (!wait_until(h, from + seconds * 1000000000ull))
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "serve is stopping\n");
    uint64_t to = ss_monotonic_ns();
    char *body = NULL, err[1024] = "";
    size_t len = 0;
    FILE *out = open_memstream(&body, &len);
    if (!out)
        return answer(c, 0, NULL, NULL, 0);
    int rc = ss_serve_profile(h->follower, from - SS_PROFILE_LAG_NS, to - SS_PROFILE_LAG_NS, since,
                              out, err, sizeof err);
    if (fclose(out) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(body);
        if (rc == -ENOMEM)
            return answer(c, 0, NULL, NULL, 0);
        char message[1100];
        snprintf(message, sizeof message, "%s\n", err[0] ? err : ss_strerror(rc));
        return text(c,
                    rc == -ENOENT ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                    message);
    }
    return answer(c, MHD_HTTP_OK, "application/octet-stream", body, len);
}

/* /debug/pprof/stalls?seconds=N: waits N seconds, as a CPU profile endpoint does, then answers
 * with the profile of the stalls of a window as long; PROFILES_AT_ONCE at most. */
static enum MHD_Result stalls_profile(struct ss_http *h, struct MHD_Connection *c)
{
    const char *arg = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "seconds");
    unsigned long seconds = SS_PROFILE_SECONDS_DEFAULT;
    if (arg) {
        char *end;
        errno = 0;
        seconds = strtoul(arg, &end, 10);
        if (arg[0] < '0' || arg[0] > '9' || *end || errno || seconds < 1 ||
            seconds > SS_PROFILE_SECONDS_MAX)
            return text(c, MHD_HTTP_BAD_REQUEST, "seconds: a whole number from 1 to 3600\n");
    }
    pthread_mutex_lock(&h->lock);
    int admitted = h->profiling < PROFILES_AT_ONCE;
    h->profiling += admitted;
    pthread_mutex_unlock(&h->lock);
    if (!admitted)
        return text(c, MHD_HTTP_TOO_MANY_REQUESTS, "two profiles are being made already\n");
    enum MHD_Result result = window_profile(h, c, seconds);
    pthread_mutex_lock(&h->lock);
    h->profiling--;
    pthread_mutex_unlock(&h->lock);
    return result;
}

/* "ok" while some directory can be read, then one line per directory with a problem. */
static enum MHD_Result healthz(struct ss_http *h, struct MHD_Connection *c)
{
    struct ss_follower *f = h->follower;
    char *body = NULL;
    size_t len = 0, readable = 0;
    FILE *out = open_memstream(&body, &len);
    if (!out)
        return answer(c, 0, NULL, NULL, 0);
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->ndirs; i++)
        readable += !f->dirs[i].unreadable;
    fputs(readable ? "ok\n" : "no run directory can be read\n", out);
    for (size_t i = 0; i < f->ndirs; i++)
        if (f->dirs[i].problem[0])
            fprintf(out, "%s: %s\n", f->dirs[i].unreadable ? "not read" : "partly read",
                    f->dirs[i].problem);
    pthread_mutex_unlock(&f->lock);
    if (fclose(out) != 0) {
        free(body);
        body = NULL;
    }
    return answer(c, readable ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                  "text/plain; charset=utf-8", body, len);
}

static enum MHD_Result route(void *cls, struct MHD_Connection *c, const char *url,
                             const char *method, const char *version, const char *upload_data,
                             size_t *upload_data_size, void **state)
{
    struct ss_http *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/metrics") == 0)
        return metrics(h, c);
    if (strcmp(url, "/healthz") == 0)
        return healthz(h, c);
    if (strcmp(url, "/debug/pprof/stalls") == 0)
        return stalls_profile(h, c);
    return text(c, MHD_HTTP_NOT_FOUND,
                "not found: try /metrics, /healthz or /debug/pprof/stalls?seconds=N\n");
}

int ss_http_start(struct ss_http **out, int listen_fd, struct ss_follower *f, uint64_t age_out_ns,
                  char *err, size_t err_size)
{
    struct ss_http *h = calloc(1, sizeof *h);
    if (!h) {
        close(listen_fd);
        snprintf(err, err_size, "out of memory");
        return -ENOMEM;
    }
    h->follower = f;
    h->age_out_ns = age_out_ns;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->wake, &attr);
    pthread_condattr_destroy(&attr);
    h->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                     MHD_USE_POLL | MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, route, h, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!h->daemon) {
        close(listen_fd);
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        snprintf(err, err_size, "the HTTP server did not start");
        return -EIO;
    }
    *out = h;
    return 0;
}

void ss_http_stop(struct ss_http *h)
{
    pthread_mutex_lock(&h->lock);
    h->stopping = 1;
    pthread_cond_broadcast(&h->wake);
    pthread_mutex_unlock(&h->lock);
    MHD_stop_daemon(h->daemon);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
