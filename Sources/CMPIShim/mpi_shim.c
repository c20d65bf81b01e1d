/* See include/mpi_shim.h. No MPI header is used: the few types are opaque pointers (Open MPI's handles). */
#define _GNU_SOURCE
#include "mpi_shim.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *mpi_handle;   /* MPI_Comm, MPI_Datatype, MPI_Op, MPI_Request, MPI_Errhandler in Open MPI */
#define OMPI_IN_PLACE ((void *)1)
#define OMPI_THREAD_FUNNELED 1

static void *lib;
static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_initialized)(int *);
static int (*p_finalized)(int *);
static int (*p_finalize)(void);
static int (*p_abort)(mpi_handle, int);
static int (*p_comm_rank)(mpi_handle, int *);
static int (*p_comm_size)(mpi_handle, int *);
static int (*p_comm_set_errhandler)(mpi_handle, mpi_handle);
static int (*p_allreduce)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle);
static int (*p_iallreduce)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle, mpi_handle *);
static int (*p_test)(mpi_handle *, int *, void *);
static int (*p_bcast)(void *, int, mpi_handle, int, mpi_handle);
static int (*p_send)(const void *, int, mpi_handle, int, int, mpi_handle);
static int (*p_recv)(void *, int, mpi_handle, int, int, mpi_handle, void *);
static int (*p_barrier)(mpi_handle);
static int (*p_error_string)(int, char *, int *);
static mpi_handle comm_world, t_float, t_double, t_uint64, t_byte, op_sum, op_max, op_min, errors_return;

int dnabert_mpi_loaded(void) { return lib != NULL; }

int dnabert_mpi_load(const char *path, char *err, size_t err_len) {
    if (lib) return 0;
    if (!path || !*path) path = getenv("DNABERT_MPI_LIB");
    if (!path || !*path) path = "libmpi.so.40";
    /* RTLD_GLOBAL: Open MPI's plugins resolve libmpi's symbols from the global scope. */
    void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        snprintf(err, err_len, "cannot load the MPI library '%s' (%s); install Open MPI (Debian/Ubuntu: apt-get install "
                 "openmpi-bin libopenmpi3) or point DNABERT_MPI_LIB at libmpi.so.40", path, dlerror());
        return -1;
    }
    const char *missing = NULL;
#define SYM(var, name) do { *(void **)(&var) = dlsym(h, name); if (!var && !missing) missing = name; } while (0)
    SYM(p_init_thread, "MPI_Init_thread"); SYM(p_initialized, "MPI_Initialized"); SYM(p_finalized, "MPI_Finalized");
    SYM(p_finalize, "MPI_Finalize"); SYM(p_abort, "MPI_Abort"); SYM(p_comm_rank, "MPI_Comm_rank");
    SYM(p_comm_size, "MPI_Comm_size"); SYM(p_comm_set_errhandler, "MPI_Comm_set_errhandler");
    SYM(p_allreduce, "MPI_Allreduce"); SYM(p_iallreduce, "MPI_Iallreduce"); SYM(p_test, "MPI_Test");
    SYM(p_bcast, "MPI_Bcast"); SYM(p_send, "MPI_Send"); SYM(p_recv, "MPI_Recv"); SYM(p_barrier, "MPI_Barrier");
    SYM(p_error_string, "MPI_Error_string");
    SYM(comm_world, "ompi_mpi_comm_world"); SYM(t_float, "ompi_mpi_float"); SYM(t_double, "ompi_mpi_double");
    SYM(t_uint64, "ompi_mpi_uint64_t"); SYM(t_byte, "ompi_mpi_byte"); SYM(op_sum, "ompi_mpi_op_sum");
    SYM(op_max, "ompi_mpi_op_max"); SYM(op_min, "ompi_mpi_op_min"); SYM(errors_return, "ompi_mpi_errors_return");
#undef SYM
    if (missing) {
        snprintf(err, err_len, "'%s' is not Open MPI's libmpi.so.40 (symbol %s missing); dnabert's distributed mode "
                 "needs Open MPI 4 or 5", path, missing);
        dlclose(h);
        return -1;
    }
    lib = h;
    return 0;
}

int dnabert_mpi_init(int *rank, int *size) {
    if (!lib) return -1;
    int flag = 0, rc;
    if ((rc = p_initialized(&flag))) return rc;
    if (!flag) {
        int provided = 0;
        if ((rc = p_init_thread(NULL, NULL, OMPI_THREAD_FUNNELED, &provided))) return rc;
        /* Errors come back as codes (turned into an abort of all ranks by the caller), never silently. */
        p_comm_set_errhandler(comm_world, errors_return);
    }
    if ((rc = p_comm_rank(comm_world, rank))) return rc;
    return p_comm_size(comm_world, size);
}

int dnabert_mpi_finalize(void) {
    if (!lib) return 0;
    int init = 0, fin = 0;
    p_initialized(&init);
    p_finalized(&fin);
    return init && !fin ? p_finalize() : 0;
}

void dnabert_mpi_abort(int code) { if (lib) p_abort(comm_world, code); }

static mpi_handle type_of(int t) { return t == 0 ? t_float : t == 1 ? t_double : t == 2 ? t_uint64 : t_byte; }
static mpi_handle op_of(int o) { return o == 0 ? op_sum : o == 1 ? op_max : op_min; }
static size_t type_size(int t) { return t == 0 ? 4 : t == 3 ? 1 : 8; }

/* MPI counts are int: long buffers go in chunks. */
#define CHUNK (1 << 30)

int dnabert_mpi_allreduce(void *buf, int64_t count, int type, int op) {
    if (!lib) return -1;
    char *p = buf;
    while (count > 0) {
        int n = count > CHUNK / 8 ? CHUNK / 8 : (int)count;
        int rc = p_allreduce(OMPI_IN_PLACE, p, n, type_of(type), op_of(op), comm_world);
        if (rc) return rc;
        p += (size_t)n * type_size(type);
        count -= n;
    }
    return 0;
}

int dnabert_mpi_iallreduce_float_sum(float *buf, int64_t count, void **request) {
    if (!lib || count > INT_MAX) return -1;
    return p_iallreduce(OMPI_IN_PLACE, buf, (int)count, t_float, op_sum, comm_world, request);
}

int dnabert_mpi_test(void **request, int *done) {
    if (!lib) return -1;
    return p_test(request, done, NULL);
}

int dnabert_mpi_bcast(void *buf, int64_t bytes, int root) {
    if (!lib) return -1;
    char *p = buf;
    while (bytes > 0) {
        int n = bytes > CHUNK ? CHUNK : (int)bytes;
        int rc = p_bcast(p, n, t_byte, root, comm_world);
        if (rc) return rc;
        p += n; bytes -= n;
    }
    return 0;
}

int dnabert_mpi_send(const void *buf, int64_t bytes, int dest, int tag) {
    if (!lib) return -1;
    const char *p = buf;
    do {
        int n = bytes > CHUNK ? CHUNK : (int)bytes;
        int rc = p_send(p, n, t_byte, dest, tag, comm_world);
        if (rc) return rc;
        p += n; bytes -= n;
    } while (bytes > 0);
    return 0;
}

int dnabert_mpi_recv(void *buf, int64_t bytes, int source, int tag) {
    if (!lib) return -1;
    char *p = buf;
    do {
        int n = bytes > CHUNK ? CHUNK : (int)bytes;
        int rc = p_recv(p, n, t_byte, source, tag, comm_world, NULL);
        if (rc) return rc;
        p += n; bytes -= n;
    } while (bytes > 0);
    return 0;
}

int dnabert_mpi_barrier(void) { return lib ? p_barrier(comm_world) : -1; }

void dnabert_mpi_error_string(int code, char *out, size_t out_len) {
    if (!out_len) return;
    out[0] = 0;
    if (code == -1 || !lib) { snprintf(out, out_len, "MPI not available"); return; }
    char tmp[512];
    int len = 0;
    if (p_error_string(code, tmp, &len) == 0) snprintf(out, out_len, "%.*s", len, tmp);
    else snprintf(out, out_len, "MPI error %d", code);
}
