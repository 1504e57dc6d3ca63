/* locks: the interposers of the waits for a lock, a semaphore or a condition variable. On a
 * busy loop thread a lock is tried first and only a wait for it is timed. A wait on a
 * condition variable or a semaphore is what a worker does between jobs: it also tells the
 * shim's loop detection so (ss__idle_wait). */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "catalogue.h"
#include "record.h"

/* A deadline whose wait the C library would accept: a clock it can wait on and a valid
 * timespec. Anything else goes straight to the C library, which refuses it as it likes. */
static int waitable(clockid_t clk, const struct timespec *t)
{
    return (clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC) && t && t->tv_nsec >= 0 &&
           t->tv_nsec < 1000000000L;
}

/* Locks that are tried first: an uncontended lock costs one try, and only a lock that must
 * be waited for is timed. Trying first gives the same result as the call itself only for a
 * deadline the C library would wait on, so the timed variants try first only then.
 * X(name, try name, lock type, parameters after the lock, their arguments, when to try) */
#define SS_TRY_FIRST_LOCKS(X)                                                                      \
    X(pthread_mutex_lock, pthread_mutex_trylock, pthread_mutex_t, (), (), 1)                       \
    X(pthread_rwlock_rdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t, (), (), 1)                \
    X(pthread_rwlock_wrlock, pthread_rwlock_trywrlock, pthread_rwlock_t, (), (), 1)                \
    X(pthread_mutex_timedlock, pthread_mutex_trylock, pthread_mutex_t,                             \
      (, const struct timespec *t), (, t), waitable(CLOCK_REALTIME, t))                            \
    X(pthread_mutex_clocklock, pthread_mutex_trylock, pthread_mutex_t,                             \
      (, clockid_t clk, const struct timespec *t), (, clk, t), waitable(clk, t))                   \
    X(pthread_rwlock_timedrdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t,                      \
      (, const struct timespec *t), (, t), waitable(CLOCK_REALTIME, t))                            \
    X(pthread_rwlock_timedwrlock, pthread_rwlock_trywrlock, pthread_rwlock_t,                      \
      (, const struct timespec *t), (, t), waitable(CLOCK_REALTIME, t))                            \
    X(pthread_rwlock_clockrdlock, pthread_rwlock_tryrdlock, pthread_rwlock_t,                      \
      (, clockid_t clk, const struct timespec *t), (, clk, t), waitable(clk, t))                   \
    X(pthread_rwlock_clockwrlock, pthread_rwlock_trywrlock, pthread_rwlock_t,                      \
      (, clockid_t clk, const struct timespec *t), (, clk, t), waitable(clk, t))

/* The try functions are shared by several locks: declared once each. */
static int (*real_pthread_mutex_trylock)(pthread_mutex_t *);
static int (*real_pthread_rwlock_tryrdlock)(pthread_rwlock_t *);
static int (*real_pthread_rwlock_trywrlock)(pthread_rwlock_t *);

#define DEFINE_TRY_FIRST(name, try_name, type, params, args, try_first)                            \
    static int (*real_##name)(type * UNPAREN params);                                              \
    /* Out of line, so that the uncontended path saves no registers. */                            \
    static __attribute__((noinline)) int contended_##name(uint64_t site, struct ss_slot *s,        \
                                                          type *lock UNPAREN params)               \
    {                                                                                              \
        uint64_t t0 = call_begin(s, SS_CALL_##name, site);                                         \
        int rc = real_##name(lock UNPAREN args);                                                   \
        int saved = errno;                                                                         \
        call_end(s, SS_CALL_##name, SS_CAT_LOCK, site, t0, -1, NULL);                              \
        errno = saved;                                                                             \
        return rc;                                                                                 \
    }                                                                                              \
    int name(type *lock UNPAREN params)                                                            \
    {                                                                                              \
        if (!SS_FIND(name))                                                                        \
            return ENOSYS;                                                                         \
        struct ss_slot *s = busy_slot();                                                           \
        if (!s || !SS_FIND(try_name) || !(try_first))                                              \
            return real_##name(lock UNPAREN args);                                                 \
        int rc = real_##try_name(lock);                                                            \
        if (rc != EBUSY)                                                                           \
            return rc;                                                                             \
        return contended_##name((uint64_t)(uintptr_t)__builtin_return_address(0), s,               \
                                lock UNPAREN args);                                                \
    }
SS_TRY_FIRST_LOCKS(DEFINE_TRY_FIRST)

static int (*real_sem_wait)(sem_t *);
static int (*real_sem_trywait)(sem_t *);
int sem_wait(sem_t *sem)
{
    SS_MISSING(SS_FIND(sem_wait), -1);
    ss__idle_wait();
    if (!busy_slot() || !SS_FIND(sem_trywait))
        return real_sem_wait(sem);
    int saved = errno;
    if (real_sem_trywait(sem) == 0)
        return 0;
    if (errno != EAGAIN)
        return -1;
    errno = saved;
    return TIMED(SS_CALL_sem_wait, SS_CAT_LOCK, -1, NULL, real_sem_wait(sem));
}

/* Condition variables exist in two symbol versions with different implementations: the
 * current one, and the one binaries built before 2003 are bound to. Each is interposed under
 * its own version and reaches its own. X(name, parameters, arguments) */
#define SS_COND_WAITS(X)                                                                           \
    X(pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t * m), (c, m))                        \
    X(pthread_cond_timedwait, (pthread_cond_t * c, pthread_mutex_t * m, const struct timespec *t), \
      (c, m, t))

#define DEFINE_COND_WAIT_AS(cname, var, name, params, args, version, export)                       \
    static int(*var) params;                                                                       \
    int cname params;                                                                              \
    int cname params                                                                               \
    {                                                                                              \
        if (!SS_FIND_AS(var, #name, version))                                                      \
            return ENOSYS;                                                                         \
        ss__idle_wait();                                                                           \
        return TIMED(SS_CALL_##name, SS_CAT_LOCK, -1, NULL, var args);                             \
    }                                                                                              \
    SS_SYMVER(cname, name, export);
#define DEFINE_COND_WAIT(name, params, args)                                                       \
    DEFINE_COND_WAIT_AS(ss_cond_##name, real_##name, name, params, args, "GLIBC_2.3.2",            \
                        "@@GLIBC_2.3.2")                                                           \
    DEFINE_COND_WAIT_AS(ss_old_##name, real_old_##name, name, params, args, "GLIBC_2.2.5",         \
                        "@GLIBC_2.2.5")
SS_COND_WAITS(DEFINE_COND_WAIT)

/* The other waits for work: with a deadline, and of one symbol version each.
 * X(name, parameters, arguments, what to return without the function) */
#define SS_IDLE_WAITS(X)                                                                           \
    X(sem_timedwait, (sem_t * sem, const struct timespec *t), (sem, t), -1)                        \
    X(sem_clockwait, (sem_t * sem, clockid_t clk, const struct timespec *t), (sem, clk, t), -1)    \
    X(pthread_cond_clockwait,                                                                      \
      (pthread_cond_t * c, pthread_mutex_t * m, clockid_t clk, const struct timespec *t),          \
      (c, m, clk, t), ENOSYS)
#define DEFINE_IDLE_WAIT(name, params, args, missing)                                              \
    static int(*real_##name) params;                                                               \
    int name params                                                                                \
    {                                                                                              \
        SS_MISSING(SS_FIND(name), missing);                                                        \
        ss__idle_wait();                                                                           \
        return TIMED(SS_CALL_##name, SS_CAT_LOCK, -1, NULL, real_##name args);                     \
    }
SS_IDLE_WAITS(DEFINE_IDLE_WAIT)

void ss__resolve_locks(void)
{
#define LOOKUP_NAME(name, ...) SS_LOOKUP(name);
#define LOOKUP_COND(name, ...)                                                                     \
    SS_LOOKUP_VERSION(name, "GLIBC_2.3.2");                                                        \
    SS_LOOKUP_AS(real_old_##name, #name, "GLIBC_2.2.5");
    SS_TRY_FIRST_LOCKS(LOOKUP_NAME)
    SS_COND_WAITS(LOOKUP_COND)
    SS_IDLE_WAITS(LOOKUP_NAME)
#undef LOOKUP_NAME
#undef LOOKUP_COND
    SS_LOOKUP(sem_wait);
    SS_LOOKUP(sem_trywait);
    SS_LOOKUP(pthread_mutex_trylock);
    SS_LOOKUP(pthread_rwlock_tryrdlock);
    SS_LOOKUP(pthread_rwlock_trywrlock);
}
