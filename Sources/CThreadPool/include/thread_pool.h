/* The parallel regions' thread pool: workers that stay awake (spinning) for a short while after each region, so
 * that the many short regions of a forward pass start without waiting for a sleeping thread to be woken. See
 * Sources/CThreadPool/thread_pool.c for why. Internal to libdnabert; not part of the public ABI. */
#ifndef DNABERT_THREAD_POOL_H
#define DNABERT_THREAD_POOL_H

/* One region's work: called once with each worker index 0..<threads (index 0 on the calling thread). */
typedef void (*dnabert_pool_body)(void *context, long worker);

/* Runs body(context, w) for w in 0..<threads, w = 0 on the calling thread, and returns 0 when all have returned.
 * Returns -1 without running anything when the pool cannot take the region: threads < 2 or > 255, another region
 * holds the pool (another host thread, or a region started from inside a region), or a worker thread could not be
 * created. The caller then runs the region some other way. */
int dnabert_pool_run(int threads, dnabert_pool_body body, void *context);

/* The CPUs this process may run on: the count of its affinity mask (taskset, numactl, a batch scheduler's binding),
 * or the online CPUs when that cannot be read; at least 1. */
int dnabert_pool_cpu_count(void);

/* How long (microseconds) an idle worker, and a caller waiting for its workers, spin before sleeping in the
 * kernel: DNABERT_SPIN_US from the environment when set (0 = sleep at once), else the default. */
long dnabert_pool_spin_us(void);

#endif
