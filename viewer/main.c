/* stallscope-view: the viewer program that `stallscope view` runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "attach.h"
#include "causes/causes.h"
#include "common/options.h"
#include "monitor/find-run.h"
#include "source.h"
#include "ui.h"

#define EXIT_USAGE 2
#define BATCH_WIDTH 120

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("stallscope: view: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_USAGE);
}

static void usage(void)
{
    printf("usage: stallscope view [OPTIONS] [RUN]\n"
           "       stallscope view --pid PID [-d DIR]\n\n"
           "Shows the stalls of a run in the terminal, as they happen while the run is being\n"
           "written, or afterwards. RUN is a run directory or one trace file "
           "(default\n" SS_DEFAULT_OUTPUT
           "). Views: 1 Stalls, 2 Flame, 3 Calls, 4 Loops, 5 Causes;\n"
           "press ? inside for the keys.\n\n"
           "  --pid PID          the run of process PID, found from the process itself;\n"
           "                     at a terminal, offers to attach to one not traced\n"
           "  -d, --dir DIR      the run directory --pid looks in instead\n"
           "  --view NAME        first view: stalls, flame, calls, loops or causes\n"
           "  --sort ORDER       stalls newest (default) or longest first\n"
           "  --ascii            draw with ASCII characters only\n"
           "  --batch            print the view as text on standard output and exit\n"
           "  --width N          columns of --batch output (default %d)\n"
           "  --keep-stalls N    keep the N longest stalls of each process in detail and\n"
           "                     summarise the others (0: keep all; default %d)\n"
           "  --causes FILE      rules of one's own for the stalls' causes, tried before\n"
           "                     the built-in ones (see docs/causes.md)\n",
           BATCH_WIDTH, SS_KEEP_STALLS_DEFAULT);
}

static const char *const view_names[SSV_NVIEWS] = {"stalls", "flame", "calls", "loops", "causes"};

static enum ssv_app_view parse_view(const char *s)
{
    for (int v = 0; v < SSV_NVIEWS; v++)
        if (strcmp(s, view_names[v]) == 0)
            return (enum ssv_app_view)v;
    die("--view: expected stalls, flame, calls, loops or causes, got '%s'", s);
}

static unsigned long number(const char *option, const char *s, unsigned long max)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (!*s || *end || errno || n == 0 || n > max || *s == '-')
        die("%s: expected a number from 1 to %lu, got '%s'", option, max, s);
    return n;
}

/* 0 is a valid count here: it keeps every stall. */
static size_t keep_stalls(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || *end || errno || n > SIZE_MAX / 2)
        die("--keep-stalls: expected a number of stalls (0 keeps all), got '%s'", s);
    return (size_t)n;
}

struct view_options {
    const char *run, *dir, *causes;
    unsigned long pid, width;
    size_t keep_stalls;
    enum ssv_app_view view;
    enum ssv_vm_sort sort;
    int batch, ascii;
};

static void parse(int argc, char **argv, struct view_options *o)
{
    static const struct option longopts[] = {
        {"pid", required_argument, NULL, 'p'},
        {"dir", required_argument, NULL, 'd'},
        {"view", required_argument, NULL, 'v'},
        {"sort", required_argument, NULL, 's'},
        {"ascii", no_argument, NULL, 'a'},
        {"batch", no_argument, NULL, 'b'},
        {"width", required_argument, NULL, 'w'},
        {"keep-stalls", required_argument, NULL, 'k'},
        {"causes", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->pid = number("--pid", optarg, 4194304);
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'v':
            o->view = parse_view(optarg);
            break;
        case 's':
            if (strcmp(optarg, "newest") && strcmp(optarg, "longest"))
                die("--sort: expected newest or longest, got '%s'", optarg);
            o->sort = optarg[0] == 'l' ? SSV_VM_SORT_LONGEST : SSV_VM_SORT_NEWEST;
            break;
        case 'a':
            o->ascii = 1;
            break;
        case 'b':
            o->batch = 1;
            break;
        case 'w':
            o->width = number("--width", optarg, 10000);
            break;
        case 'k':
            o->keep_stalls = keep_stalls(optarg);
            break;
        case 'c':
            o->causes = optarg;
            break;
        case 'h':
            usage();
            exit(0);
        case ':':
            die("option '%s' needs a value (see stallscope view --help)", argv[optind - 1]);
        default:
            die("unknown option '%s' (see stallscope view --help)", argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        die("one run at a time (got %d)", argc - optind);
    o->run = optind < argc ? argv[optind] : NULL;
    if (o->pid && o->run)
        die("give a run or --pid, not both");
    if (o->dir && !o->pid)
        die("-d names where --pid looks; give the run itself as an argument");
    if (o->width && !o->batch)
        die("--width is for --batch output");
}

static int batch(const char *path, const struct view_options *o, const struct ssv_vm_scope *scope)
{
    char err[1024];
    int code;
    struct ssv_snapshot *s =
        ssv_snapshot_load(path, o->keep_stalls, o->causes, scope, err, sizeof err, &code);
    if (!s)
        die("%s", err);
    struct ssv_app a;
    ssv_app_init(&a, path);
    a.scope = *scope;
    a.sort = o->sort;
    ssv_app_install(&a, s);
    struct ssv_canvas c;
    int utf8 = !o->ascii && strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    if (ssv_cv_init(&c, o->width ? (int)o->width : BATCH_WIDTH, 0, utf8, 1) < 0)
        die("out of memory");
    ssv_app_draw_batch(&a, o->view, &c);
    int failed = ssv_cv_print(&c, stdout) < 0 || fflush(stdout) != 0;
    ssv_cv_free(&c);
    ssv_app_free(&a);
    if (failed)
        die("cannot write standard output: %s", strerror(errno ? errno : EIO));
    return 0;
}

/* The name of process pid, or "?". */
static void process_name(unsigned long pid, char *name, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%lu/comm", pid);
    FILE *f = fopen(path, "re");
    if (!f || !fgets(name, (int)size, f))
        snprintf(name, size, "?");
    name[strcspn(name, "\n")] = '\0';
    if (f)
        fclose(f);
}

/* --pid without -d: the run directory the process is traced into, as it says itself. One that
 * is not traced is recorded now when the user, at a terminal, agrees: attach->child then. */
static const char *pid_run(const struct view_options *o, char *dir, size_t size,
                           struct ssv_attach *attach)
{
    char why[512], err[1024];
    int rc = ss_find_run_dir((pid_t)o->pid, dir, size, why, sizeof why);
    if (rc == 0) {
        /* The monitor writes a trace once it has something to say. */
        if (ssv_src_find_pid(dir, o->pid, err, sizeof err) < 0)
            die("--pid %lu: traced into %s, which holds no trace of it yet", o->pid, dir);
        return dir;
    }
    if (rc == -ESRCH)
        die("no process %lu", o->pid);
    if (rc != -ENOENT)
        die("--pid %lu: %s", o->pid, why);
    char name[64];
    process_name(o->pid, name, sizeof name);
    if (o->batch || !isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        die("process %lu (%s) is not traced by stallscope; `stallscope attach %lu` records it",
            o->pid, name, o->pid);
    printf("process %lu (%s) is not traced by stallscope.\nattach to it now? [y/N] ", o->pid, name);
    fflush(stdout);
    char answer[64];
    if (!fgets(answer, sizeof answer, stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
        exit(EXIT_USAGE);
    if (ssv_attach_start(attach, o->pid, err, sizeof err) < 0)
        die("%s", err);
    return attach->dir;
}

int main(int argc, char **argv)
{
    setlocale(LC_ALL, "");
    struct view_options o = {.keep_stalls = SS_KEEP_STALLS_DEFAULT};
    parse(argc, argv, &o);
    char err[1024];
    /* A mistake in the rules is told at once, not after the first load. */
    struct ss_cause_rules *rules = ssv_cause_rules(o.causes, err, sizeof err);
    if (!rules)
        die("%s", err);
    ss_cause_rules_free(rules);
    const char *path = o.run ? o.run : SS_DEFAULT_OUTPUT;
    struct ssv_vm_scope scope = {SSV_VM_SCOPE_ALL, 0, 0, 0};
    struct ssv_attach attach = {0};
    char found[PATH_MAX];
    if (o.pid && !o.dir) {
        path = pid_run(&o, found, sizeof found, &attach);
    } else if (o.pid) {
        path = o.dir;
        if (ssv_src_find_pid(path, o.pid, err, sizeof err) < 0)
            die("%s", err);
    }
    if (o.pid)
        scope = (struct ssv_vm_scope){SSV_VM_SCOPE_PROCESS, (uint32_t)o.pid, 0, 0};
    if (o.batch)
        return batch(path, &o, &scope);
    struct ssv_source src;
    if (ssv_src_open(&src, path, err, sizeof err) < 0)
        die("%s", err);
    src.keep_stalls = o.keep_stalls;
    src.causes_file = o.causes;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        ssv_src_close(&src);
        die("needs a terminal (--batch prints a view as text)");
    }
    struct ssv_app a;
    ssv_app_init(&a, path);
    a.view = o.view;
    a.scope = scope;
    a.sort = o.sort;
    struct ssv_ui_options uo = {o.ascii};
    int rc = ssv_ui_run(&a, &src, &uo, err, sizeof err);
    ssv_src_close(&src);
    ssv_app_free(&a);
    /* What was recorded stays in the directory; the process goes on untraced. */
    if (attach.child) {
        ssv_attach_stop(&attach);
        printf("the recording of process %lu is in %s\n", o.pid, attach.dir);
    }
    if (rc < 0)
        die("%s", err);
    return 0;
}
