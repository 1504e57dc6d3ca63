/* symbolize: times the symbolizer on FRAMES lookups (default a million), the way a consumer
 * resolves a large trace: the modules of this process (itself, the C library, libdw, libelf,
 * libstdc++) recorded as a trace records them, then FRAMES distinct random addresses inside
 * their code looked up one by one. Every address is new, so no answer is reused; the symbol
 * tables and line tables are loaded once per module on the first lookup that needs them.
 *
 *   symbolize [FRAMES]
 *
 * Prints the time of the whole (loading included) and how many frames got a name and a
 * file:line. */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symbols/symbolize.h"
#include "random.h"

#define MAX_RANGES 64

struct range {
    uint64_t lo, hi;
};
static struct range ranges[MAX_RANGES];
static size_t nranges;

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct ss_symbolizer *s = arg;
    char exe[4096];
    const char *path = info->dlpi_name;
    (void)size;
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return 0;
        exe[n] = '\0';
        path = exe;
    }
    if (path[0] != '/')
        return 0; /* the vDSO */
    for (int i = 0; i < info->dlpi_phnum && nranges < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        if (ss_symbolizer_add_module(s, path, info->dlpi_addr, lo, hi, NULL, 0) == 0)
            ranges[nranges++] = (struct range){lo, hi};
    }
    return 0;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long frames = argc > 1 ? atol(argv[1]) : 1000000;
    struct ss_elf_cache *cache = ss_elf_cache_new();
    struct ss_symbolizer *s = cache ? ss_symbolizer_new(cache) : NULL;
    if (frames <= 0 || !s) {
        fprintf(stderr, "usage: symbolize [FRAMES]\n");
        return 2;
    }
    dl_iterate_phdr(add_module, s);
    uint64_t total = 0;
    for (size_t i = 0; i < nranges; i++)
        total += ranges[i].hi - ranges[i].lo;
    uint64_t *addrs = malloc((size_t)frames * sizeof *addrs);
    if (!addrs || total == 0)
        return 1;
    /* Uniform over all the code, so large modules get most of the frames, as they do. */
    for (long i = 0; i < frames; i++) {
        uint64_t at = bench_random() % total;
        size_t r = 0;
        for (; at >= ranges[r].hi - ranges[r].lo; r++)
            at -= ranges[r].hi - ranges[r].lo;
        addrs[i] = ranges[r].lo + at;
    }

    long named = 0, located = 0;
    double start = seconds();
    for (long i = 0; i < frames; i++) {
        struct ss_frame_info fi;
        named += ss_symbolize(s, addrs[i], &fi) == 0;
        located += fi.file != NULL;
    }
    double took = seconds() - start;
    printf("  %ld frames in %zu modules: %.2f s (%.2f us per frame), %ld named, %ld with "
           "file:line\n",
           frames, nranges, took, took * 1e6 / (double)frames, named, located);
    free(addrs);
    ss_symbolizer_free(s);
    ss_elf_cache_free(cache);
    return 0;
}
