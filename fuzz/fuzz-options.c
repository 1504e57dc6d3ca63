/* libFuzzer harness: STALLSCOPE_OPTIONS, as the shim parses it in every process it enters. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/options.h"
#include "text.h"

static void on_problem(void *ctx, const char *what, const char *key, size_t len)
{
    (void)what;
    (void)key;
    (void)len;
    ++*(unsigned *)ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    struct ss_options o;
    unsigned problems = 0;
    ss_options_defaults(&o);
    ss_options_parse(text, &o, on_problem, &problems);
    /* Whatever the input, the settings stay usable. */
    if (memchr(o.output, '\0', sizeof o.output) == NULL || o.threshold_ns == 0 ||
        o.interval_ns == 0)
        abort();
    uint64_t ns;
    (void)ss_parse_duration(text, size, &ns);
    free(text);
    return 0;
}
