/* got: redirects the GOT entries of loaded modules to the shim's interposers and puts them
 * back (got.h says which entries, and the rules): what was changed is recorded here; the
 * modules are read by dynamic.c, the process's mappings by mappings.c. */
#define _GNU_SOURCE
#include "got.h"

#include "dynamic.h"
#include "mappings.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_RECORDS 65536
#define MAX_MODULES 4096
#define MAX_ORIGINALS 2048 /* a power of two: open addressing */
#define NO_RECORD (-1)

/* One GOT entry changed. */
struct got_record {
    uintptr_t entry;
    uintptr_t before;
    uintptr_t written;
    int32_t next; /* the module's next record, or the next free one */
};

/* A module patched: a loaded object is its base and its program headers. */
struct got_module {
    uintptr_t base;
    const void *phdr;
    uintptr_t start, end;         /* its loaded segments: another module may later take its base */
    unsigned long long subs_seen; /* the loader's count of unloads when it was patched */
    uintptr_t relro_start, relro_end;
    int32_t first_record;
    uint32_t records;
    uint32_t seen_in_pass;
    uint8_t in_use;
};

enum original_state { ORIGINAL_UNRESOLVED = 1, ORIGINAL_KNOWN, ORIGINAL_PROGRAM_OWN };

/* What name@version resolves to outside the shim, the name being a shim symbol's. Looked up
 * between the passes over the modules, which only read it. */
struct got_original {
    uint32_t shim_symbol; /* 0: a free slot */
    uint8_t state;
    char version[SS_VERSION_MAX]; /* "" for an unversioned reference */
    uintptr_t address;            /* 0: found nowhere but in the shim */
};

struct got_storage {
    struct got_record records[MAX_RECORDS];
    /* The process's mappings, read once per pass: a process of many modules has thousands. */
    struct ss_mappings mappings;
    struct got_module modules[MAX_MODULES];
    struct got_original originals[MAX_ORIGINALS];
    uint32_t records_used, modules_used; /* high-water marks */
    int32_t free_records;
    uint32_t pass;
    /* The loader's counts of loads and unloads when every module was last patched. */
    unsigned long long adds_done, subs_done;
    int done_once;
};

static struct got_storage *storage;
static uintptr_t page_size;
static _Atomic unsigned patched_now;
/* Taken while patching or restoring; a patch asked for meanwhile sets patch_again. */
static _Atomic int busy;
static _Atomic int patch_again;
/* Set by attach (ss__got_open), cleared by the restore: a patch asked for by a thread that
 * was already on its way when the process was detached redirects nothing. */
static _Atomic int open_for_patching;

/* The slot of shim_symbol@version in the table of originals: its own, else the free one to
 * take, else NULL when the table is full. */
static struct got_original *original_slot(uint32_t shim_symbol, const char *version)
{
    const char *v = version ? version : "";
    uint32_t h = shim_symbol * 2654435761u ^ ss__gnu_hash(v);
    for (uint32_t probe = 0; probe < MAX_ORIGINALS; probe++) {
        struct got_original *o = &storage->originals[(h + probe) & (MAX_ORIGINALS - 1)];
        if (!o->shim_symbol || (o->shim_symbol == shim_symbol && strcmp(o->version, v) == 0))
            return o;
    }
    return NULL;
}

/* Makes a module's read-only pages writable for its entries to be written, or read-only
 * again: once for all of them. */
static int protect_relro(const struct got_module *mod, int prot)
{
    return mprotect((void *)mod->relro_start, mod->relro_end - mod->relro_start, prot);
}

/* Replaces `expected` with `value` in a GOT entry, whose page is writable; other threads call
 * through the entry meanwhile. */
static int write_entry(uintptr_t entry, uintptr_t expected, uintptr_t value)
{
    return __atomic_compare_exchange_n((uintptr_t *)entry, &expected, value, 0, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

static struct got_module *find_module(uintptr_t base, const void *phdr)
{
    for (uint32_t i = 0; i < storage->modules_used; i++) {
        struct got_module *mod = &storage->modules[i];
        if (mod->in_use && mod->base == base && mod->phdr == phdr)
            return mod;
    }
    return NULL;
}

static struct got_module *new_module(void)
{
    for (uint32_t i = 0; i < storage->modules_used; i++)
        if (!storage->modules[i].in_use)
            return &storage->modules[i];
    return storage->modules_used < MAX_MODULES ? &storage->modules[storage->modules_used++] : NULL;
}

static struct got_record *new_record(void)
{
    int32_t i = storage->free_records;
    if (i != NO_RECORD) {
        storage->free_records = storage->records[i].next;
        return &storage->records[i];
    }
    return storage->records_used < MAX_RECORDS ? &storage->records[storage->records_used++] : NULL;
}

static void free_record(int32_t i)
{
    storage->records[i].next = storage->free_records;
    storage->free_records = i;
}

/* Forgets a module and its records, without touching its memory. */
static void forget_module(struct got_module *mod)
{
    for (int32_t i = mod->first_record, next; i != NO_RECORD; i = next) {
        next = storage->records[i].next;
        free_record(i);
    }
    atomic_fetch_sub(&patched_now, mod->records);
    mod->in_use = 0;
}

/* Whether the module `info` is the one mod was patched in: one unloaded and replaced by
 * another at the same base has other segments, and the old records must not be read. */
static int same_module(const struct got_module *mod, const struct dl_phdr_info *info)
{
    struct ss_module_extent x;
    ss__module_extent(info, page_size, &x);
    return x.start == mod->start && x.end == mod->end && x.relro_start == mod->relro_start &&
           x.relro_end == mod->relro_end;
}

/* Forgets the records of a module whose entries no longer hold what was written: after the
 * loader unloaded it and loaded another at its place, or someone else changed them. */
static void forget_overwritten(struct got_module *mod)
{
    int32_t *link = &mod->first_record;
    while (*link != NO_RECORD) {
        int32_t i = *link;
        struct got_record *rec = &storage->records[i];
        if (__atomic_load_n((uintptr_t *)rec->entry, __ATOMIC_RELAXED) == rec->written) {
            link = &rec->next;
            continue;
        }
        *link = rec->next;
        free_record(i);
        mod->records--;
        atomic_fetch_sub(&patched_now, 1);
    }
}

/* What a pass over the modules (dl_iterate_phdr) knows and finds. */
struct pass {
    uintptr_t own_code; /* an address in the shim */
    struct ss_module_view shim;
    int shim_found;
    uintptr_t program_start, program_end;
    int modules_seen;
    unsigned long long adds, subs;
    uint32_t stamp;
    int incomplete; /* a module was left for a later call */
    int changed;
};

static int is_dynamic_loader(const char *name)
{
    const char *slash = strrchr(name, '/');
    return strncmp(slash ? slash + 1 : name, "ld-linux", 8) == 0;
}

/* Finds the shim and the program, and the loader's counts of loads and unloads. */
static int survey_module(struct dl_phdr_info *info, size_t size, void *data)
{
    struct pass *p = data;
    struct ss_module_view m;
    if (size < offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        return 0;
    p->adds = info->dlpi_adds;
    p->subs = info->dlpi_subs;
    int first = p->modules_seen++ == 0;
    if (ss__read_module(info, page_size, &m) < 0)
        return 0;
    if (first) {
        p->program_start = m.start;
        p->program_end = m.end;
    }
    if (p->own_code >= m.start && p->own_code < m.end) {
        p->shim = m;
        p->shim_found = m.gnu_hash && m.symtab && m.strtab && ss__readable(&m, m.gnu_hash, 16) &&
                        m.gnu_hash[0] && m.gnu_hash[1];
    }
    return 0;
}

/* Whether a module is to be scanned (its view then in *m): one not patched yet, or patched
 * before an unload since which another may be loaded at its place. *known is its record when it
 * was patched before. */
static int module_to_scan(struct dl_phdr_info *info, struct pass *p, struct ss_module_view *m,
                          struct got_module **known)
{
    *known = find_module(info->dlpi_addr, info->dlpi_phdr);
    if (*known) {
        (*known)->seen_in_pass = p->stamp;
        if ((*known)->subs_seen == info->dlpi_subs)
            return 0;
    }
    if (info->dlpi_addr == p->shim.base || is_dynamic_loader(info->dlpi_name))
        return 0;
    return ss__read_module(info, page_size, m) == 0;
}

/* First pass: the names at the versions the modules to scan ask for, to be resolved. */
static int collect_references(struct dl_phdr_info *info, size_t size, void *data)
{
    struct pass *p = data;
    struct ss_module_view m;
    struct got_module *known;
    if (!module_to_scan(info, p, &m, &known))
        return 0;
    struct ss_reference_walk walk = {&m, &p->shim, 0};
    struct ss_reference ref;
    while (ss__next_reference(&walk, &ref) > 0) {
        struct got_original *o = original_slot(ref.shim_symbol, ref.version);
        if (o && !o->shim_symbol) {
            o->shim_symbol = ref.shim_symbol;
            o->state = ORIGINAL_UNRESOLVED;
            strcpy(o->version, ref.version ? ref.version : "");
        }
    }
    return 0;
}

/* Between the passes, where the loader's locks are not held: what each name at each version
 * resolves to in the process, the shim excepted. A definition of the program's own stays. */
static void resolve_originals(const struct pass *p)
{
    for (size_t i = 0; i < MAX_ORIGINALS; i++) {
        struct got_original *o = &storage->originals[i];
        if (!o->shim_symbol || o->state != ORIGINAL_UNRESOLVED)
            continue;
        const char *name = p->shim.strtab + p->shim.symtab[o->shim_symbol].st_name;
        uintptr_t address = o->version[0] ? (uintptr_t)dlvsym(RTLD_DEFAULT, name, o->version) : 0;
        if (!address)
            address = (uintptr_t)dlsym(RTLD_DEFAULT, name);
        if (address >= p->shim.start && address < p->shim.end)
            address = 0;
        o->address = address;
        o->state = address && address >= p->program_start && address < p->program_end
                       ? ORIGINAL_PROGRAM_OWN
                       : ORIGINAL_KNOWN;
    }
}

/* What the reference's name at its version resolves to; NULL when it is not resolved yet (the
 * module appeared after the first pass). */
static const struct got_original *original_of(const struct ss_reference *ref)
{
    const struct got_original *o = original_slot(ref->shim_symbol, ref->version);
    return o && o->shim_symbol ? o : NULL;
}

/* Whether an entry holding `value` is to be redirected: it holds the original, or its
 * lazy-binding value. */
static int to_redirect(const struct ss_module_view *m, const struct got_original *o,
                       uintptr_t value)
{
    if (o->state != ORIGINAL_KNOWN)
        return 0;
    return (o->address && value == o->address) || (value >= m->start && value < m->end);
}

/* Second pass: redirects the entries of each module to scan, within dl_iterate_phdr so that
 * the module stays loaded meanwhile. */
static int patch_module(struct dl_phdr_info *info, size_t size, void *data)
{
    struct pass *p = data;
    struct ss_module_view m;
    struct got_module *mod;
    if (!module_to_scan(info, p, &m, &mod))
        return 0;
    struct ss_reference_walk walk = {&m, &p->shim, 0};
    struct ss_reference ref;
    int found, references = 0;
    while ((found = ss__next_reference(&walk, &ref)) > 0 && original_of(&ref))
        references++;
    if (found != 0) {
        p->incomplete |= found > 0;
        return 0;
    }
    if (references && m.relro_start < m.relro_end &&
        ss__page_writable(&storage->mappings, m.relro_start) != 0) {
        /* Not relocated yet, or unknown: ld.so may still write these pages. */
        p->incomplete = 1;
        return 0;
    }
    if (mod && !same_module(mod, info)) {
        forget_module(mod);
        mod = NULL;
    }
    if (mod) {
        forget_overwritten(mod);
    } else if ((mod = new_module()) != NULL) {
        *mod = (struct got_module){.base = m.base,
                                   .phdr = m.phdr,
                                   .start = m.start,
                                   .end = m.end,
                                   .relro_start = m.relro_start,
                                   .relro_end = m.relro_end,
                                   .first_record = NO_RECORD,
                                   .seen_in_pass = p->stamp,
                                   .in_use = 1};
    } else {
        return 0;
    }
    mod->subs_seen = info->dlpi_subs;
    /* Its read-only pages are made writable only for entries there to redirect (with lazy
     * binding, the PLT's entries lie outside them): mprotect is slow in a process of many
     * mappings. */
    int relro = 0;
    walk.next = 0;
    while (!relro && ss__next_reference(&walk, &ref) > 0)
        relro = ref.entry >= mod->relro_start && ref.entry < mod->relro_end &&
                to_redirect(&m, original_of(&ref),
                            __atomic_load_n((uintptr_t *)ref.entry, __ATOMIC_RELAXED));
    if (relro && protect_relro(mod, PROT_READ | PROT_WRITE) != 0)
        return 0;
    walk.next = 0;
    while (ss__next_reference(&walk, &ref) > 0) {
        uintptr_t value = __atomic_load_n((uintptr_t *)ref.entry, __ATOMIC_RELAXED);
        if (!to_redirect(&m, original_of(&ref), value))
            continue;
        uintptr_t replacement = p->shim.base + p->shim.symtab[ref.shim_symbol].st_value;
        struct got_record *rec = new_record();
        if (!rec)
            break;
        if (!write_entry(ref.entry, value, replacement)) {
            free_record((int32_t)(rec - storage->records));
            continue;
        }
        *rec = (struct got_record){ref.entry, value, replacement, mod->first_record};
        mod->first_record = (int32_t)(rec - storage->records);
        mod->records++;
        atomic_fetch_add(&patched_now, 1);
        p->changed++;
    }
    if (relro)
        protect_relro(mod, PROT_READ);
    return 0;
}

static int make_storage(void)
{
    if (storage)
        return 0;
    void *m = mmap(NULL, sizeof *storage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    page_size = (uintptr_t)sysconf(_SC_PAGESIZE);
    storage = m;
    storage->free_records = NO_RECORD;
    return 0;
}

/* Forgets the modules the last pass did not see: unloaded. */
static void forget_unloaded(uint32_t stamp)
{
    for (uint32_t i = 0; i < storage->modules_used; i++) {
        struct got_module *mod = &storage->modules[i];
        if (mod->in_use && mod->seen_in_pass != stamp)
            forget_module(mod);
    }
}

static int patch_round(void)
{
    struct pass p = {.own_code = (uintptr_t)&patch_round};
    dl_iterate_phdr(survey_module, &p);
    if (!p.shim_found)
        return 0;
    if (storage->done_once && p.adds == storage->adds_done && p.subs == storage->subs_done)
        return 0;
    memset(storage->originals, 0, sizeof storage->originals);
    p.stamp = ++storage->pass;
    dl_iterate_phdr(collect_references, &p);
    resolve_originals(&p);
    p.stamp = ++storage->pass;
    ss__read_mappings(&storage->mappings);
    dl_iterate_phdr(patch_module, &p);
    forget_unloaded(p.stamp);
    if (!p.incomplete) {
        storage->adds_done = p.adds;
        storage->subs_done = p.subs;
        storage->done_once = 1;
    }
    return p.changed;
}

/* busy holds the thread id of the thread patching or restoring, 0 when none is. */
static int try_take(int tid)
{
    int free_now = 0;
    return atomic_compare_exchange_strong(&busy, &free_now, tid);
}

void ss__got_open(void)
{
    atomic_store(&open_for_patching, 1);
}

void ss__got_after_fork(void)
{
    /* A thread that was patching is not in the child. */
    atomic_store(&busy, 0);
    atomic_store(&patch_again, 0);
}

int ss__got_patch_new(int *err)
{
    int saved_errno = errno;
    int changed = 0, tid = (int)syscall(SYS_gettid);
    for (;;) {
        if (!try_take(tid)) {
            /* The thread patching now patches again for us; unless it let go meanwhile. */
            atomic_store(&patch_again, 1);
            if (atomic_load(&busy))
                break;
            continue;
        }
        /* Detached meanwhile: nothing is redirected until the next attach. */
        if (!atomic_load(&open_for_patching)) {
            atomic_store(&busy, 0);
            break;
        }
        if (make_storage() < 0) {
            *err = errno;
            atomic_store(&busy, 0);
            errno = saved_errno;
            return -1;
        }
        do {
            atomic_store(&patch_again, 0);
            changed += patch_round();
        } while (atomic_load(&patch_again));
        atomic_store(&busy, 0);
        if (!atomic_load(&patch_again))
            break;
    }
    errno = saved_errno;
    return changed;
}

struct restore_pass {
    uint32_t stamp;
    int restored;
};

/* Puts back the entries of one module, within dl_iterate_phdr so that it stays loaded. */
static int restore_module(struct dl_phdr_info *info, size_t size, void *data)
{
    struct restore_pass *r = data;
    struct got_module *mod = find_module(info->dlpi_addr, info->dlpi_phdr);
    if (!mod)
        return 0;
    mod->seen_in_pass = r->stamp;
    if (!same_module(mod, info)) {
        forget_module(mod);
        return 0;
    }
    /* Read-only as it was when patched, unless someone made its pages writable since; only
     * when an entry written lies there. */
    int read_only = 0;
    for (int32_t i = mod->first_record; i != NO_RECORD && !read_only; i = storage->records[i].next)
        read_only = storage->records[i].entry >= mod->relro_start &&
                    storage->records[i].entry < mod->relro_end;
    read_only = read_only && ss__page_writable(&storage->mappings, mod->relro_start) != 1;
    /* Pages that cannot be made writable keep the shim's entries: they lead to its
     * interposers, inert once detached. */
    if (read_only && protect_relro(mod, PROT_READ | PROT_WRITE) != 0) {
        forget_module(mod);
        return 0;
    }
    for (int32_t i = mod->first_record; i != NO_RECORD; i = storage->records[i].next) {
        const struct got_record *rec = &storage->records[i];
        if (write_entry(rec->entry, rec->written, rec->before))
            r->restored++;
    }
    if (read_only)
        protect_relro(mod, PROT_READ);
    forget_module(mod);
    return 0;
}

int ss__got_restore(void)
{
    int saved_errno = errno, tid = (int)syscall(SYS_gettid);
    while (!try_take(tid)) {
        /* Called on a thread stopped in the middle of patching (by attach): it would wait
         * for itself. */
        if (atomic_load(&busy) == tid) {
            errno = saved_errno;
            return -1;
        }
        sched_yield();
    }
    atomic_store(&open_for_patching, 0);
    struct restore_pass r = {0, 0};
    if (storage) {
        r.stamp = ++storage->pass;
        ss__read_mappings(&storage->mappings);
        dl_iterate_phdr(restore_module, &r);
        forget_unloaded(r.stamp);
        storage->done_once = 0;
    }
    atomic_store(&patch_again, 0);
    atomic_store(&busy, 0);
    errno = saved_errno;
    return r.restored;
}

unsigned ss__got_patched(void)
{
    return atomic_load(&patched_now);
}
