/* libFuzzer harness: allowlist files, parsed and matched against a fixed finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check/allowlist.h"
#include "model.h"
#include "text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    struct ss_allowlist *list = NULL;
    char err[512];
    if (ss_allowlist_parse(text, "fuzz.allow", &list, err, sizeof err) == 0) {
        uint64_t addrs[2] = {0x401000, 0x402000};
        struct ss_frame frames[2] = {
            {.addr = 0x401000,
             .symbol = "load_config",
             .module = "/usr/lib/libapp.so",
             .offset = 16,
             .file = "/src/app/config.c",
             .line = 42},
            {.addr = 0x402000, .module = "/usr/bin/server", .offset = 0x2000},
        };
        struct ss_stack stack = {.id = 1, .nframes = 2, .addrs = addrs, .frames = frames};
        struct ss_allow_subject subject = {.rule = "forbid",
                                           .call = "read",
                                           .category = "file",
                                           .fingerprint = "03de5d73274688e7",
                                           .stack = &stack};
        (void)ss_allowlist_match(list, &subject);
        ss_allowlist_free(list);
    } else if (err[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
