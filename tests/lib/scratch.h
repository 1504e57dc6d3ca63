/* scratch: where the tests find the build and keep their temporary files. */
#ifndef TESTS_SCRATCH_H
#define TESTS_SCRATCH_H

#include <stddef.h>

/* The build directory: $SS_BUILDDIR, as the test driver sets it, or the current one. */
const char *scratch_builddir(void);
/* BUILDDIR/rel into buf. */
void scratch_built(char *buf, size_t size, const char *rel);
/* Makes a fresh directory /tmp/ss-NAME-XXXXXX and writes its path into dir. */
void scratch_dir(char *dir, size_t size, const char *name);
/* Removes a directory and everything in it. */
void scratch_remove(const char *path);
/* The whole of a file as a string, to be freed. */
char *scratch_slurp(const char *path);

#endif
