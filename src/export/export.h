/* export: writers of a loaded run in machine-readable formats. docs/json.md specifies the
 * JSON schema; its version changes whenever a field changes meaning or goes away. */
#ifndef SS_EXPORT_H
#define SS_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"

#define SS_JSON_SCHEMA_VERSION 1

/* A writer returns 0, -ENOMEM, or the error of a failed write to out (its stream flushed):
 * -ENOSPC for a full disk, -EIO, ... */
struct ss_exporter {
    const char *name;
    const char *summary;
    int (*write)(struct ss_run *run, FILE *out);
};

int ss_export_json(struct ss_run *run, FILE *out);
/* Stalled time by stack and in time; docs/exports.md describes each format. */
int ss_export_folded(struct ss_run *run, FILE *out);
int ss_export_speedscope(struct ss_run *run, FILE *out);
int ss_export_chrome(struct ss_run *run, FILE *out);
/* Stalled time by stack as a gzipped pprof profile (profile.proto), the stalls' causes as the
 * run's classification (ss_run_classify) names them. */
int ss_export_pprof(struct ss_run *run, FILE *out);
/* The pprof profile of the stalls that began in [from_ns, to_ns) of the traced machine's
 * monotonic clock (0 and UINT64_MAX: all of them). */
int ss_export_pprof_window(struct ss_run *run, FILE *out, uint64_t from_ns, uint64_t to_ns);

/* NULL when no exporter has that name. */
const struct ss_exporter *ss_exporter_find(const char *name);
/* Lists the exporters' names, separated by ", ". */
void ss_exporter_names(char *buf, size_t size);

#endif
