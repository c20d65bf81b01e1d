/* The thread-local last-error slot of the C API. Kept in C: it is the one piece of global mutable state the
 * ABI requires, and C11 _Thread_local makes it trivially correct. */
#include <string.h>
#include "dnabert_internal.h"

static _Thread_local char last_error[4096];

const char *dnabert_last_error(void) { return last_error; }

void dnabert_clear_error(void) { last_error[0] = '\0'; }

void dnabert_internal_set_error(const char *message) {
    if (message == NULL) {
        last_error[0] = '\0';
        return;
    }
    size_t n = strlen(message);
    if (n >= sizeof last_error) n = sizeof last_error - 1;
    memcpy(last_error, message, n);
    last_error[n] = '\0';
}
