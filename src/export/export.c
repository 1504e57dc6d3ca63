#include "export/export.h"

#include <string.h>

static const struct ss_exporter exporters[] = {
    {"json", "every process, loop thread, stall and sample (docs/json.md)", ss_export_json},
    {"folded", "stalled time in microseconds by stack, root first (flamegraph.pl)",
     ss_export_folded},
    {"speedscope", "stalls in time and stalled time by stack per loop thread",
     ss_export_speedscope},
    {"chrome", "Trace Event JSON for Perfetto: stalls, blocking calls, samples", ss_export_chrome},
    {"pprof", "gzipped pprof profile of stalled time by stack (go tool pprof, Pyroscope)",
     ss_export_pprof},
};

const struct ss_exporter *ss_exporter_find(const char *name)
{
    for (size_t i = 0; i < sizeof exporters / sizeof exporters[0]; i++)
        if (strcmp(exporters[i].name, name) == 0)
            return &exporters[i];
    return NULL;
}

void ss_exporter_names(char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof exporters / sizeof exporters[0] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", exporters[i].name);
}
