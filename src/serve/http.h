/* http: serve's HTTP side, on libmicrohttpd: /metrics (metrics.h), /healthz and
 * /debug/pprof/stalls (profile.h). Each connection has a thread of its own, so that a slow
 * client, or a profile's window, holds up no other. */
#ifndef SS_SERVE_HTTP_H
#define SS_SERVE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "serve/follow.h"

struct ss_http;

/* Serves on listen_fd (taken over) what f follows; processes leave the metrics age_out_ns
 * after they end. Returns 0 or a negative code with the problem in err. */
int ss_http_start(struct ss_http **out, int listen_fd, struct ss_follower *f, uint64_t age_out_ns,
                  char *err, size_t err_size);
/* Stops accepting, wakes the requests that wait, and returns once every one has ended. */
void ss_http_stop(struct ss_http *h);

#endif
