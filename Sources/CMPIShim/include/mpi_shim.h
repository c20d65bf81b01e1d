/* A run-time binding to Open MPI (libmpi.so.40): the few MPI calls dnabert's data-parallel runs use, resolved
 * with dlopen/dlsym only when a distributed run is asked for, so libdnabert.so neither links nor needs MPI.
 * MPI handles (communicators, datatypes, ops, requests) are ABI-specific; these follow Open MPI 4.x/5.x, where
 * the predefined handles are the addresses of exported globals (ompi_mpi_comm_world, ompi_mpi_float, ...).
 * All calls return 0 on success, otherwise an MPI error code or -1 (message in `err`). */
#ifndef DNABERT_MPI_SHIM_H
#define DNABERT_MPI_SHIM_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Loads `path` (NULL: $DNABERT_MPI_LIB, else libmpi.so.40) and resolves the symbols. */
int dnabert_mpi_load(const char *path, char *err, size_t err_len);
int dnabert_mpi_loaded(void);
/* MPI_Init_thread(FUNNELED) unless already initialised; rank and size of MPI_COMM_WORLD; errors are returned. */
int dnabert_mpi_init(int *rank, int *size);
int dnabert_mpi_finalize(void);
void dnabert_mpi_abort(int code);
/* Element types: 0 float, 1 double, 2 uint64, 3 byte. Ops: 0 sum, 1 max, 2 min. */
int dnabert_mpi_allreduce(void *buf, int64_t count, int type, int op);
/* Non-blocking in-place sum of floats; *request receives the handle. */
int dnabert_mpi_iallreduce_float_sum(float *buf, int64_t count, void **request);
/* MPI_Test: *done = 1 when complete (the request is then freed). */
int dnabert_mpi_test(void **request, int *done);
int dnabert_mpi_bcast(void *buf, int64_t bytes, int root);
int dnabert_mpi_send(const void *buf, int64_t bytes, int dest, int tag);
int dnabert_mpi_recv(void *buf, int64_t bytes, int source, int tag);
int dnabert_mpi_barrier(void);
/* The MPI error string of a code. */
void dnabert_mpi_error_string(int code, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif
#endif
