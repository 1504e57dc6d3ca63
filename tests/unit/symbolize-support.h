/* symbolize-support: what the symbolizer's tests share: the prebuilt fixtures of
 * tests/fixtures/symfix (found through SS_FIXTURE_DIR, skipped when not built), what their
 * own symbol tables say, read with libelf, and the symbolizer every test of the suite
 * `symbolize` gets fresh (sym, over cache). */
#ifndef TESTS_UNIT_SYMBOLIZE_SUPPORT_H
#define TESTS_UNIT_SYMBOLIZE_SUPPORT_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symbols/symbolize.h"

#define PIE_BIAS 0x555555554000ull
#define LIB_BIAS 0x7f1234560000ull

/* The symbolizer of the test under way, made by the suite's init and freed by its fini. */
extern struct ss_elf_cache *cache;
extern struct ss_symbolizer *sym;

/* SS_FIXTURE_DIR/name into buf (PATH_MAX); skips the test when it is not built. */
void fixture(char *buf, const char *name);
Elf *open_elf(const char *path, int *fd);
void close_elf(Elf *e, int fd);
/* File vaddr and size of the first symbol whose name equals (or, with prefix, starts with)
 * name. */
uint64_t sym_vaddr(const char *path, const char *name, bool prefix, uint64_t *size);
/* The file addresses of the executable segments of path. */
void exec_range(const char *path, uint64_t *lo, uint64_t *hi);
/* Adds path as a module loaded at bias, with the build-id bid (NULL: none). */
void add_fixture(struct ss_symbolizer *s, const char *path, uint64_t bias, const uint8_t *bid,
                 size_t bid_len);
/* Writes data to a fresh file under $TMPDIR (or /tmp), whose path goes into path. */
void write_temp(char *path, const void *data, size_t len);
/* The whole of a file, to be freed. */
void *slurp(const char *path, size_t *len);
uint64_t xorshift(uint64_t *state);

/* sym names addr name+offset in module, a native frame. */
void expect_sym(uint64_t addr, const char *name, uint64_t offset, const char *module);
/* sym knows addr's module (NULL: none) but not its function. */
void expect_unresolved(uint64_t addr, const char *module, uint64_t offset);
/* A perf-map frame: compiled (jit) or run by the runtime's interpreter. */
void expect_jit(uint64_t addr, const char *name, uint64_t offset);
/* sym gives addr this kind, file (NULL: none) and line. */
void expect_kind(uint64_t addr, enum ss_frame_kind kind, const char *file, unsigned line);

#endif
