/* lines: reading a small configuration file line by line, the way every file a user writes for
 * stallscope is read: blank lines and lines whose first character is '#' are skipped, and
 * spaces at both ends of a line are not part of it. */
#ifndef SS_UTIL_LINES_H
#define SS_UTIL_LINES_H

#include <stddef.h>

/* What is done with one line: 0 to go on, or a negative code with one line of detail in why. */
typedef int (*ss_line_fn)(void *ctx, char *line, char *why, size_t why_size);

/* Calls each for every line of path that carries something, until one fails. Returns 0, the
 * failing call's code with "path:LINE: why" in err, or a negated errno with "path: reason" when
 * the file cannot be read. */
int ss_read_lines(const char *path, ss_line_fn each, void *ctx, char *err, size_t err_size);
/* The same over text in memory, which it changes; name stands for the path in err. */
int ss_text_lines(char *text, const char *name, ss_line_fn each, void *ctx, char *err,
                  size_t err_size);

#endif
