/* build-id: the GNU build-id a file carries, read with libelf, to check what the symbolizer
 * and the monitor's module table say about the same file. */
#ifndef TESTS_BUILD_ID_H
#define TESTS_BUILD_ID_H

#include <stddef.h>
#include <stdint.h>

/* Copies the build-id of the ELF file at path (at most max bytes) into id and returns its
 * length; asserts the file has one. */
size_t file_build_id(const char *path, uint8_t *id, size_t max);

#endif
