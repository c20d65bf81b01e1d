/* Fork guard: tells the Swift core whether the calling thread is the one that called fork() in this (child)
 * process. See Sources/CForkGuard/fork_guard.c for why. Internal to libdnabert; not part of the public ABI. */
#ifndef DNABERT_FORK_GUARD_H
#define DNABERT_FORK_GUARD_H

/* 1 when this process is a fork() child and the calling thread is the thread that forked, else 0. */
int dnabert_fork_guard_is_forking_thread(void);

#endif
