/* A small fork-join thread team for the engine's kernels.
 * Workers spin briefly after each job (decode steps issue jobs microseconds apart), then sleep on a
 * condition variable, so an idle team costs nothing and does not compete with OpenBLAS's threads. */
#ifndef FG_POOL_H
#define FG_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*fg_task_fn)(void *context, int64_t begin, int64_t end);

/* Sets the team size (threads including the caller), 1 ... 64. Safe to call between jobs. */
void fg_pool_set_threads(int threads);

/* Runs fn over [0, count) in `chunks` contiguous pieces that the team's threads (the caller included)
 * claim one by one; returns when every piece is done. The team runs one job at a time: a call made
 * while it is busy (from another thread, or from inside a job) runs fn(context, 0, count) inline. */
void fg_pool_parallel_for(int64_t count, int64_t chunks, fg_task_fn fn, void *context);

#ifdef __cplusplus
}
#endif

#endif
