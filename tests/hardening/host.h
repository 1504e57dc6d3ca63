/* host: what the parts of host-fixture share. The program is an epoll loop that makes one
 * step per iteration (host-fixture.c: the loop, what it notes and prints at exit, and the
 * dispatch); each family of steps is a file of its own, with a function that makes the step
 * `what` when it is one of the family's and says whether it was:
 *
 *   host-signals.c    dispositions, masks, handlers, timers and waits for signals
 *   host-processes.c  forks, vforks, spawns, execs, daemons, and descriptors and files
 *   host-threads.c    loop threads beside the main one, on stacks of the host's own
 *   host-stress.c     jumps out of the shim's hooks, and busy iterations that unwind hard
 *   host-errno.c      errno after each kind of call the shim interposes */
#ifndef HOST_H
#define HOST_H

#include <signal.h>
#include <sys/types.h>

/* ---- the loop (host-fixture.c) ---- */

struct loop {
    int ep, tfd;
};

void loop_open(struct loop *l);
/* One iteration: waits for the loop's 2 ms timer, counting the EINTRs its waits see. */
void tick(struct loop *l);
/* n iterations. */
void ticks(struct loop *l, int n);
void loop_close(struct loop *l);

/* The main thread's loop. */
extern struct loop main_loop;

/* Signals handled by on_signal (and the busy handler of stress-signals), by number, and the
 * EINTRs the host's waits saw: printed at exit. */
extern volatile sig_atomic_t handled[65];
extern volatile sig_atomic_t eintr_seen;
void on_signal(int sig);

/* A busy iteration of ms (plant_spin), noted as planted. */
void spin(int ms);
/* Notes "planted spin MS TID" for what the calling thread did since t0 (now_ms()), printed at
 * exit. */
void note_planted(double t0);

/* From now on, for the calling thread and those it creates: every process_vm_readv that
 * gathers more than one piece of memory fails with EPERM (a seccomp filter). */
void refuse_gathered_reads(void);
/* Blocking calls from four new call sites, each of which takes its stack on its first call;
 * the thread is printed at exit as "early-calls TID". */
void early_calls(void);

/* Not declared by glibc's headers with _GNU_SOURCE, but exported: the host calls it as old
 * programs do. */
__sighandler_t bsd_signal(int sig, __sighandler_t handler);

/* Waits for a child, which must exit 0. */
void wait_child(pid_t pid);

/* ---- the families of steps: 1 when `what` is theirs and was made, 0 when it is not theirs.
 * arg is the step's argument (NULL when it takes none), n its value as a number. ---- */

int signal_step(const char *what, const char *arg, int n);
int process_step(const char *what, const char *arg, int n);
int thread_step(const char *what, const char *arg, int n);
int stress_step(const char *what, const char *arg, int n);
int errno_step(const char *what, const char *arg, int n);

/* Joins the neighbour loop thread, if a step started one. */
void join_neighbour(void);

#endif
