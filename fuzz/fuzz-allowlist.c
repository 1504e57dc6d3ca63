/* libFuzzer harness: allowlist files, parsed and matched against a fixed finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "allowlist.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct ss_allowlist *list = NULL;
    char err[512];
    if (ss_allowlist_parse(text, "fuzz.allow", &list, err, sizeof err) == 0) {
        uint64_t addrs[2] = {0x401000, 0x402000};
        struct ss_frame frames[2] = {
            {0x401000, "load_config", "/usr/lib/libapp.so", 16, 0},
            {0x402000, NULL, "/usr/bin/server", 0x2000, 0},
        };
        struct ss_stack stack = {1, 2, addrs, frames};
        struct ss_allow_subject subject = {"forbid", "read", "file", "03de5d73274688e7", &stack};
        (void)ss_allowlist_match(list, &subject);
        ss_allowlist_free(list);
    } else if (err[0] == '\0') {
        abort();
    }
    free(text);
    return 0;
}
