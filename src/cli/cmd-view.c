#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define VIEWER_NAME "stallscope-view"

/* The viewer is a program of its own: it links curses, the CLI does not. */
int ss_cmd_view(int argc, char **argv)
{
    char viewer[PATH_MAX + 64];
    ss_cli_find_part(VIEWER_NAME, ".", SS_PKGLIBEXECDIR, "STALLSCOPE_VIEW", X_OK, viewer,
                     sizeof viewer);
    argv[0] = viewer;
    execv(viewer, argv);
    ss_die("cannot run %s: %s", viewer, strerror(errno));
}
