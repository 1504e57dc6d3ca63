/* The GOT patcher (preload/got.c), as `stallscope attach` uses it: this program loads a stand-in
 * shim (tests/fixtures/got/standin.c, the patcher and a few interposers) with dlopen, so that
 * none of its calls reach the interposers until got.c redirects them: its own (lazy binding,
 * partial RELRO), those of libgot-now (full RELRO) and libgot-lazy (lazy), linked in, and of
 * libgot-late, loaded after a first patch. Each test runs in a process of its own. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "calls.h"

/* The versions a program built against an old glibc is bound to. */
char *old_realpath(const char *path, char *resolved);
__asm__(".symver old_realpath, realpath@GLIBC_2.2.5");
int old_sched_getaffinity(pid_t pid, cpu_set_t *set);
__asm__(".symver old_sched_getaffinity, sched_getaffinity@GLIBC_2.3.3");

static void *standin;
static int (*patch_new)(int *err);
static int (*restore)(void);
static unsigned (*patched)(void);
static unsigned (*calls)(const char *name);

static void *fixture(const char *name, int flags)
{
    char path[PATH_MAX];
    const char *builddir = getenv("SS_BUILDDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/got/%s", builddir ? builddir : ".", name);
    void *handle = dlopen(path, flags);
    cr_assert(handle, "%s", dlerror());
    return handle;
}

static void *hook(const char *name)
{
    void *f = dlsym(standin, name);
    cr_assert(f, "%s", dlerror());
    return f;
}

static void load_standin(void)
{
    standin = fixture("libgot-standin.so", RTLD_NOW | RTLD_LOCAL);
    patch_new = (int (*)(int *))hook("standin_patch_new");
    restore = (int (*)(void))hook("standin_restore");
    patched = (unsigned (*)(void))hook("standin_patched");
    calls = (unsigned (*)(const char *))hook("standin_calls");
}

TestSuite(got, .init = load_standin);

struct slot_search {
    const char *module; /* the end of its path; "" for the program */
    const char *symbol;
    uintptr_t *slot;
    int first;
};

static const void *dynamic_address(uintptr_t base, uintptr_t value)
{
    return (const void *)(value < base ? base + value : value);
}

static int find_slot(struct dl_phdr_info *info, size_t size, void *data)
{
    struct slot_search *s = data;
    int first = s->first;
    s->first = 0;
    size_t name_len = strlen(info->dlpi_name), want_len = strlen(s->module);
    if (*s->module
            ? name_len < want_len || strcmp(info->dlpi_name + name_len - want_len, s->module) != 0
            : !first)
        return 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) * tables[2] = {NULL, NULL};
    size_t sizes[2] = {0, 0};
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        uintptr_t v = dyn->d_un.d_val;
        if (dyn->d_tag == DT_SYMTAB)
            symtab = dynamic_address(info->dlpi_addr, v);
        else if (dyn->d_tag == DT_STRTAB)
            strtab = dynamic_address(info->dlpi_addr, v);
        else if (dyn->d_tag == DT_RELA)
            tables[0] = dynamic_address(info->dlpi_addr, v);
        else if (dyn->d_tag == DT_RELASZ)
            sizes[0] = v;
        else if (dyn->d_tag == DT_JMPREL)
            tables[1] = dynamic_address(info->dlpi_addr, v);
        else if (dyn->d_tag == DT_PLTRELSZ)
            sizes[1] = v;
    }
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; tables[t] && i < sizes[t] / sizeof(ElfW(Rela)); i++) {
            const ElfW(Rela) *r = &tables[t][i];
            unsigned type = ELF64_R_TYPE(r->r_info);
            if ((type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT) &&
                strcmp(strtab + symtab[ELF64_R_SYM(r->r_info)].st_name, s->symbol) == 0) {
                s->slot = (uintptr_t *)(info->dlpi_addr + r->r_offset);
                return 1;
            }
        }
    return 1;
}

/* The GOT entry through which a module calls `symbol`, read independently of got.c. */
static uintptr_t *got_slot(const char *module, const char *symbol)
{
    struct slot_search s = {module, symbol, NULL, 1};
    dl_iterate_phdr(find_slot, &s);
    cr_assert(s.slot, "no GOT entry for %s in %s", symbol, *module ? module : "the program");
    return s.slot;
}

static int in_module(uintptr_t address, const char *module)
{
    Dl_info info;
    size_t len = strlen(module);
    return dladdr((void *)address, &info) && info.dli_fname && strlen(info.dli_fname) >= len &&
           strcmp(info.dli_fname + strlen(info.dli_fname) - len, module) == 0;
}

static int patch(void)
{
    int err = 0;
    int changed = patch_new(&err);
    cr_assert_geq(changed, 0, "no storage: %s", strerror(err));
    return changed;
}

/* Calls getppid and write from each module linked in; returns how many of them reached the
 * stand-in's interposers. */
static unsigned calls_counted(void)
{
    unsigned before = calls("getppid") + calls("write");
    getppid();
    now_getppid();
    lazy_getppid();
    write(-1, "", 0);
    now_write(-1, "", 0);
    lazy_write(-1, "", 0);
    return calls("getppid") + calls("write") - before;
}

Test(got, redirects_the_calls_of_every_module)
{
    cr_assert_eq(calls_counted(), 0, "calls reached the stand-in before any patch");
    int changed = patch();
    cr_assert_gt(changed, 0);
    cr_assert_eq(patched(), (unsigned)changed);
    cr_assert_eq(calls_counted(), 6);
    cr_assert_eq(restore(), changed);
    cr_assert_eq(patched(), 0);
    cr_assert_eq(calls_counted(), 0, "calls still reach the stand-in after the restore");
}

Test(got, restore_puts_back_exactly_what_was_there)
{
    /* Bound beforehand: the program's getppid (lazily) and the lazy library's write; the lazy
     * library's getppid still holds its lazy-binding value. */
    getppid();
    lazy_write(-1, "", 0);
    const char *modules[] = {"", "libgot-now.so", "libgot-lazy.so"};
    const char *symbols[] = {"getppid", "write"};
    uintptr_t *slots[3][2], before[3][2];
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 2; s++) {
            slots[m][s] = got_slot(modules[m], symbols[s]);
            before[m][s] = *slots[m][s];
        }
    cr_assert_eq(before[0][0], (uintptr_t)dlsym(RTLD_DEFAULT, "getppid"));
    cr_assert(in_module(before[2][0], "libgot-lazy.so"), "lazy getppid is bound already");

    int changed = patch();
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 2; s++)
            cr_assert_eq(*slots[m][s], (uintptr_t)hook(symbols[s]), "%s in %s not redirected",
                         symbols[s], *modules[m] ? modules[m] : "the program");
    cr_assert_eq(restore(), changed);
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 2; s++)
            cr_assert_eq(*slots[m][s], before[m][s], "%s in %s not put back", symbols[s],
                         *modules[m] ? modules[m] : "the program");
}

Test(got, patches_each_module_once)
{
    cr_assert_gt(patch(), 0);
    unsigned now = patched();
    cr_assert_eq(patch(), 0);
    cr_assert_eq(patched(), now);
}

Test(got, patches_a_module_loaded_after_the_first_patch)
{
    int first = patch();
    void *late = fixture("libgot-late.so", RTLD_NOW | RTLD_LOCAL);
    pid_t (*late_getppid_fn)(void) = (pid_t(*)(void))dlsym(late, "late_getppid");
    unsigned before = calls("getppid");
    late_getppid_fn();
    cr_assert_eq(calls("getppid"), before, "the late library was patched by the first call");
    /* Its getppid and write, and nothing of the modules patched before. */
    cr_assert_eq(patch(), 2);
    late_getppid_fn();
    cr_assert_eq(calls("getppid"), before + 1);
    cr_assert_eq(restore(), first + 2);
}

Test(got, leaves_alone_the_modules_unloaded_before_the_restore)
{
    void *late = fixture("libgot-late.so", RTLD_NOW | RTLD_LOCAL);
    int changed = patch();
    cr_assert_eq(dlclose(late), 0);
    cr_assert_null(dlopen("libgot-late.so", RTLD_NOW | RTLD_NOLOAD), "still loaded");
    cr_assert_eq(restore(), changed - 2);
    cr_assert_eq(patched(), 0);
}

static unsigned other_calls;

static pid_t other_getppid(void)
{
    other_calls++;
    return 1;
}

Test(got, leaves_alone_an_entry_redirected_by_another_library)
{
    /* One entry in pages ld.so left writable, one in its read-only ones. */
    uintptr_t *lazy_slot = got_slot("libgot-lazy.so", "getppid");
    uintptr_t *now_slot = got_slot("libgot-now.so", "getppid");
    void *page = (void *)((uintptr_t)now_slot & ~(uintptr_t)(getpagesize() - 1));
    *lazy_slot = (uintptr_t)other_getppid;
    cr_assert_eq(mprotect(page, getpagesize(), PROT_READ | PROT_WRITE), 0);
    *now_slot = (uintptr_t)other_getppid;
    cr_assert_eq(mprotect(page, getpagesize(), PROT_READ), 0);

    patch();
    cr_assert_eq(*lazy_slot, (uintptr_t)other_getppid);
    cr_assert_eq(*now_slot, (uintptr_t)other_getppid);
    unsigned before = calls("getppid");
    lazy_getppid();
    now_getppid();
    cr_assert_eq(calls("getppid"), before);
    cr_assert_eq(other_calls, 2);
    restore();
    cr_assert_eq(*lazy_slot, (uintptr_t)other_getppid);
    cr_assert_eq(*now_slot, (uintptr_t)other_getppid);
}

Test(got, redirects_each_version_to_its_own_interposer)
{
    char resolved[PATH_MAX];
    cpu_set_t set;
    patch();
    unsigned new_before = calls("realpath"), old_before = calls("realpath@GLIBC_2.2.5");
    unsigned affinity_before = calls("sched_getaffinity");
    realpath(".", resolved);
    old_realpath(".", resolved);
    old_realpath(".", resolved);
    sched_getaffinity(0, sizeof set, &set);
    old_sched_getaffinity(0, &set);
    cr_assert_eq(calls("realpath") - new_before, 1);
    cr_assert_eq(calls("realpath@GLIBC_2.2.5") - old_before, 2);
    /* The stand-in has no sched_getaffinity@GLIBC_2.3.3: only the default one is its. */
    cr_assert_eq(calls("sched_getaffinity") - affinity_before, 1);
}

static atomic_int stop_calling;

static void *call_until_stopped(void *unused)
{
    while (!atomic_load(&stop_calling)) {
        now_getppid();
        now_write(-1, "", 0);
        lazy_write(-1, "", 0);
    }
    return NULL;
}

/* Through entries bound at load time and lazily bound before: an entry put back to its
 * lazy-binding value may be bound by the loader at the same time as it is patched again. */
Test(got, other_threads_call_through_the_entries_meanwhile)
{
    lazy_write(-1, "", 0);
    pthread_t caller;
    cr_assert_eq(pthread_create(&caller, NULL, call_until_stopped, NULL), 0);
    for (int i = 0; i < 200; i++) {
        int changed = patch();
        cr_assert_eq(restore(), changed);
    }
    atomic_store(&stop_calling, 1);
    pthread_join(caller, NULL);
}

Test(got, keeps_errno)
{
    errno = E2BIG;
    patch();
    cr_assert_eq(errno, E2BIG);
    restore();
    cr_assert_eq(errno, E2BIG);
}
