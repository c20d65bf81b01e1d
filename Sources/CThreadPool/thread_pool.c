/* Why this exists: a forward pass of the encoder is a chain of a few hundred short parallel regions (each
 * linear's quantization and product, attention, each LayerNorm, each MLP chunk), most of them 0.1–2 ms long.
 * Dispatch's workers go to sleep in the kernel as soon as a region ends, and on a virtual machine waking a
 * sleeping vCPU costs tens of microseconds (measured: 50–60 µs on a 2-vCPU KVM guest), paid at the start of
 * every region while the statically split work waits for the late thread. These workers instead spin for
 * a while (DNABERT_SPIN_US, default below) after each region, watching one word for the next job, and only then
 * sleep on a futex; the caller likewise spins while it waits for the workers to finish.
 *
 * One region at a time owns the pool; a region started while another holds it (another host thread, or a
 * region inside a region) is refused and the Swift side runs it on Dispatch as before. After fork() the child
 * has no workers; the first region that needs them creates new ones. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax(void) {}
#endif

enum { MAX_THREADS = 255, DEFAULT_SPIN_US = 1000 };

/* The job word: (sequence << 8) | threads. Publishing a job stores a new word; a worker takes part when its index
 * is below the word's thread count, so what it decides never mixes two jobs. body and context are written before
 * the word and not changed again until every taking-part worker has counted itself out of `pending`. */
static struct {
    atomic_int owner;          /* 1 while a region holds the pool */
    atomic_uint word;          /* futex word of idle workers */
    atomic_int sleepers;       /* workers asleep (or about to sleep) on `word` */
    atomic_uint pending;       /* workers of the current job that have not finished */
    atomic_int caller_asleep;  /* 1 while the caller sleeps (or is about to) on `pending` */
    unsigned sequence;
    int workers;               /* created workers, indices 1...workers */
    dnabert_pool_body body;
    void *context;
} pool;

static long futex(atomic_uint *addr, int op, unsigned value) {
    return syscall(SYS_futex, (unsigned *)addr, op | FUTEX_PRIVATE_FLAG, value, NULL, NULL, 0);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long dnabert_pool_spin_us(void) {
    static atomic_long cached = -1;
    long v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v >= 0) return v;
    v = DEFAULT_SPIN_US;
    const char *s = getenv("DNABERT_SPIN_US");
    if (s && *s) {
        char *end = NULL;
        long parsed = strtol(s, &end, 10);
        if (end && *end == '\0' && parsed >= 0) v = parsed > 10000000 ? 10000000 : parsed;
    }
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

int dnabert_pool_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long v = sysconf(_SC_NPROCESSORS_ONLN);
    return v < 1 ? 1 : v > INT_MAX ? INT_MAX : (int)v;
}

/* The CPUs this process may run on, read once. Only as many threads spin as there are: a worker whose index is not
 * below it, and a caller whose region has more threads than that, sleep at once instead (spinning there would take
 * the CPU from a thread with work). */
static long usable_cpus(void) {
    static atomic_long cached = 0;
    long v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v > 0) return v;
    v = dnabert_pool_cpu_count();
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

/* Waits until *addr != old: spins for `spin` ns, then sleeps on the futex (counting itself in *sleepers
 * so that the waker knows to make the system call). Returns the new value. */
static unsigned wait_for_change(atomic_uint *addr, unsigned old, atomic_int *sleepers, int64_t spin) {
    unsigned v;
    if (spin > 0) {
        const int64_t start = now_ns();
        for (unsigned k = 1;; k++) {
            if ((v = atomic_load_explicit(addr, memory_order_acquire)) != old) return v;
            cpu_relax();
            if ((k & 63) == 0 && now_ns() - start > spin) break;
        }
    }
    atomic_fetch_add(sleepers, 1);
    while ((v = atomic_load(addr)) == old) futex(addr, FUTEX_WAIT, old);
    atomic_fetch_sub(sleepers, 1);
    return v;
}

/* A new worker's index, and the job word when it was created: the next job is the first change from that (the
 * worker may start running only after that job has been published). */
struct worker_start {
    long index;
    unsigned word;
};

static void *worker_main(void *arg) {
    const struct worker_start start = *(struct worker_start *)arg;
    free(arg);
    const long index = start.index;
    unsigned seen = start.word;
    const int64_t spin = index < usable_cpus() ? dnabert_pool_spin_us() * 1000 : 0;
    for (;;) {
        seen = wait_for_change(&pool.word, seen, &pool.sleepers, spin);
        if (index >= (long)(seen & 0xFF)) continue;
        pool.body(pool.context, index);
        if (atomic_fetch_sub(&pool.pending, 1) == 1 && atomic_load(&pool.caller_asleep))
            futex(&pool.pending, FUTEX_WAKE, INT_MAX);
    }
    return NULL;
}

/* Creates workers up to index `needed`; 0 when they all exist. Called by the owner only. */
static int grow(int needed) {
    if (pool.workers >= needed) return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  /* workers inherit a full mask: signals go to the host's threads */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = 0;
    while (pool.workers < needed) {
        pthread_t t;
        struct worker_start *start = malloc(sizeof *start);
        if (!start) { rc = ENOMEM; break; }
        start->index = pool.workers + 1;
        start->word = atomic_load(&pool.word);
        if ((rc = pthread_create(&t, &attr, worker_main, start)) != 0) { free(start); break; }
        pool.workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

int dnabert_pool_run(int threads, dnabert_pool_body body, void *context) {
    if (threads < 2 || threads > MAX_THREADS || !body) return -1;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&pool.owner, &expected, 1)) return -1;
    if (grow(threads - 1) != 0) {
        atomic_store(&pool.owner, 0);
        return -1;
    }
    pool.body = body;
    pool.context = context;
    atomic_store(&pool.pending, (unsigned)threads - 1);
    pool.sequence++;
    atomic_store(&pool.word, ((pool.sequence & 0xFFFFFFu) << 8) | (unsigned)threads);
    if (atomic_load(&pool.sleepers) > 0) futex(&pool.word, FUTEX_WAKE, INT_MAX);

    body(context, 0);

    /* Wait for the workers the way they wait for jobs: spin (unless the region has more threads than CPUs), then
     * sleep on `pending`; the worker that brings it to 0 wakes the caller. */
    const int64_t spin = threads <= usable_cpus() ? dnabert_pool_spin_us() * 1000 : 0;
    for (unsigned left = atomic_load_explicit(&pool.pending, memory_order_acquire); left != 0;)
        left = wait_for_change(&pool.pending, left, &pool.caller_asleep, spin);
    atomic_store(&pool.owner, 0);
    return 0;
}

/* In a fork() child only the forking thread exists: no workers, and no region running. */
static void on_fork_child(void) {
    atomic_store(&pool.owner, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.pending, 0);
    atomic_store(&pool.caller_asleep, 0);
    pool.workers = 0;
}

__attribute__((constructor)) static void install_pool_fork_handler(void) { pthread_atfork(0, 0, on_fork_child); }
