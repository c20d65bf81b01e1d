/* Internal hooks between the C ABI shim and the Swift exports. Not installed. */
#ifndef DNABERT_INTERNAL_H
#define DNABERT_INTERNAL_H
#include "dnabert.h"
/* Store a message as the calling thread's last error (truncated to fit; NULL clears). */
void dnabert_internal_set_error(const char *message);
#endif
