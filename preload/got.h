/* got: redirects the calls every loaded module makes through its global offset table to the
 * shim's interposers, and puts them back. A shim loaded into a running process with dlopen
 * (`stallscope attach`) is not preloaded: the process's calls were bound before it came, and
 * reach it only once their GOT entries hold its interposers.
 *
 * - What is redirected: the GOT entries (R_X86_64_JUMP_SLOT and R_X86_64_GLOB_DAT) of every
 *   module but the shim and the dynamic loader whose symbol the shim exports at the version
 *   the module asks for, as the loader would have bound it with the shim preloaded: the same
 *   version, else the shim's unversioned definition. An entry is changed only while it holds
 *   what that name at that version resolves to outside the shim, or its lazy-binding value
 *   (an address in its own module): one that another library redirected is left alone, and so
 *   is a name the program defines itself.
 * - A module is read from its in-memory dynamic section only; one that is inconsistent, or
 *   whose read-only-after-relocation pages (PT_GNU_RELRO) are not read-only yet (another
 *   thread is in the middle of loading it), is left for a later call. Such pages are made
 *   writable for one atomic store and read-only again.
 * - Everything changed is recorded in memory mapped once; nothing here allocates, uses stdio
 *   or blocks on a lock, and errno is kept. The loader's lookups (dlsym) are made outside
 *   dl_iterate_phdr, and entries are written only inside it, where no module can be unloaded.
 * - Calls are meant for attach, after each dlopen, and detach. A call made while another
 *   thread patches returns at once: that thread patches again before it returns. */
#ifndef SS_GOT_H
#define SS_GOT_H

/* Redirects to the shim's interposers the GOT entries of every loaded module not patched yet;
 * returns the number of entries changed, or -1 (errno-style reason in *err) when storage could
 * not be had. */
int ss__got_patch_new(int *err);
/* Lets ss__got_patch_new redirect entries, until the next ss__got_restore: attach calls it
 * first. */
void ss__got_open(void);
/* Puts back every entry changed; returns how many were put back, or -1 when called on the
 * thread that is in the middle of patching (stopped there by attach: it must be asked again
 * later). An entry changed since by someone else, and the entries of a module unloaded since,
 * are left as they are. */
int ss__got_restore(void);
/* In a forked child: no thread of the child is patching. */
void ss__got_after_fork(void);
/* How many entries are redirected now (for the shim's notes and the tests). */
unsigned ss__got_patched(void);

#endif
