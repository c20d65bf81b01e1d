/* The tiny test harness shared by the C tests: CHECK(cond, printf-args) counts and reports, with the library's
 * last error; REPORT() prints the closing "N passed, N failed" line and gives the exit status. */
#ifndef DNABERT_TEST_CHECK_H
#define DNABERT_TEST_CHECK_H
#include <stdio.h>

#include <dnabert.h>

static int passed = 0, failed = 0;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
        } else {                                                            \
            failed++;                                                       \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);            \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, " [last error: %s]\n", dnabert_last_error());   \
        }                                                                   \
    } while (0)

#define REPORT() (printf("%d passed, %d failed\n", passed, failed), failed ? 1 : 0)
#endif
