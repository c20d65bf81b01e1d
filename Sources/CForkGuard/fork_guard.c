/* Why this exists: the Swift runtime's one-time initialisation (swift_once, behind every lazy global) takes a
 * futex lock that stores the owner's thread id, and it caches each thread's id in a thread-local on first use.
 * fork() copies that cache: in the child, the thread that forked still carries its id from the parent. When
 * that thread holds such a lock while another thread of the child waits for it (the first sgemm of a parallel
 * forward, which loads OpenBLAS once), the kernel's priority-inheritance futex points at a thread that does not
 * exist in the child and both threads spin forever.
 *
 * The handler is installed when the library is loaded (an ELF constructor), before any Swift code runs, so
 * every fork after that is seen. The Swift side (Util/Parallel.swift) then never lets the forking thread take
 * part in a parallel region: the region runs on a fresh thread, whose id cache is correct. */
#include <pthread.h>

#include "fork_guard.h"

static pthread_t forking_thread;
static volatile int forked = 0;

static void on_fork_child(void) {
    forking_thread = pthread_self();
    forked = 1;
}

__attribute__((constructor)) static void install_fork_guard(void) { pthread_atfork(0, 0, on_fork_child); }

int dnabert_fork_guard_is_forking_thread(void) { return forked && pthread_equal(forking_thread, pthread_self()); }
