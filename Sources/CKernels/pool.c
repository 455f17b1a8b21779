/* Fork-join team (see include/fg_pool.h). Synchronisation: a job is published by bumping `generation`
 * (seq_cst); a worker that found no new job announces itself in `sleepers` before re-checking
 * `generation` under the mutex and waiting, and the publisher broadcasts when it sees a sleeper, so
 * no wake-up is lost (a Dekker-style handshake on two seq_cst variables). */
#include "fg_pool.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

enum { MAX_THREADS = 64, SPIN_ROUNDS = 20000 };

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t generation;
    atomic_int sleepers;
    /* job tag (bits 63-40) | piece count (bits 39-20) | next piece to claim (bits 19-0): one word, so
     * a claim is checked against the job it belongs to in a single atomic step. */
    atomic_uint_fast64_t claim;
    atomic_int_fast64_t done; /* pieces of the current job finished */
    atomic_flag busy;         /* held by the thread whose job the team is running */
    int workers; /* started worker threads */
    int threads; /* team size including the caller */
    /* the current job */
    fg_task_fn fn;
    void *context;
    int64_t count;
} team = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, ATOMIC_FLAG_INIT, 0, 1, 0, 0, 0};

enum { PIECE_BITS = 20, TAG_SHIFT = 40 };
#define PIECE_MASK ((UINT64_C(1) << PIECE_BITS) - 1)

/* Claims and runs pieces of job `tag` until none is left. Pieces are claimed dynamically, so a thread
 * that the OS deschedules (a busy, shared machine) delays at most the one piece it holds. The job's
 * fields stay valid while a claimed piece is unfinished: the caller publishes the next job only after
 * every piece is done. */
static void run_pieces(uint64_t tag) {
    for (;;) {
        uint64_t v = atomic_load(&team.claim);
        if ((v >> TAG_SHIFT) != tag) return;
        const uint64_t pieces = (v >> PIECE_BITS) & PIECE_MASK, piece = v & PIECE_MASK;
        if (piece >= pieces) return;
        if (!atomic_compare_exchange_weak(&team.claim, &v, v + 1)) continue;
        const int64_t begin = team.count * (int64_t)piece / (int64_t)pieces;
        const int64_t end = team.count * ((int64_t)piece + 1) / (int64_t)pieces;
        if (end > begin) team.fn(team.context, begin, end);
        atomic_fetch_add(&team.done, 1);
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    uint_fast64_t seen = atomic_load(&team.generation);
    for (;;) {
        uint_fast64_t now = atomic_load(&team.generation);
        for (int spin = 0; now == seen && spin < SPIN_ROUNDS; spin++) {
            _mm_pause();
            now = atomic_load(&team.generation);
        }
        if (now == seen) {
            pthread_mutex_lock(&team.lock);
            atomic_fetch_add(&team.sleepers, 1);
            while ((now = atomic_load(&team.generation)) == seen) pthread_cond_wait(&team.wake, &team.lock);
            atomic_fetch_sub(&team.sleepers, 1);
            pthread_mutex_unlock(&team.lock);
        }
        seen = now;
        run_pieces((uint64_t)now & ((UINT64_C(1) << (64 - TAG_SHIFT)) - 1));
    }
    return 0;
}

void fg_pool_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pthread_mutex_lock(&team.lock);
    while (team.workers < threads - 1) {
        pthread_t t;
        if (pthread_create(&t, 0, worker_main, (void *)(intptr_t)(team.workers + 1)) != 0) break;
        pthread_detach(t);
        team.workers++;
    }
    team.threads = team.workers + 1 < threads ? team.workers + 1 : threads;
    pthread_mutex_unlock(&team.lock);
}

void fg_pool_parallel_for(int64_t count, int64_t chunks, fg_task_fn fn, void *context) {
    if (chunks > count) chunks = count;
    if (chunks > (int64_t)PIECE_MASK) chunks = (int64_t)PIECE_MASK;
    /* One job at a time: a second caller (another thread, or a job that itself calls in) runs its
     * work on its own thread instead of waiting. */
    if (chunks <= 1 || team.threads <= 1 || atomic_flag_test_and_set(&team.busy)) {
        if (count > 0) fn(context, 0, count);
        return;
    }
    team.fn = fn;
    team.context = context;
    team.count = count;
    const uint64_t generation = atomic_load(&team.generation) + 1;
    const uint64_t tag = generation & ((UINT64_C(1) << (64 - TAG_SHIFT)) - 1);
    atomic_store(&team.done, 0);
    atomic_store(&team.claim, (tag << TAG_SHIFT) | ((uint64_t)chunks << PIECE_BITS));
    atomic_store(&team.generation, generation);
    if (atomic_load(&team.sleepers) > 0) {
        pthread_mutex_lock(&team.lock);
        pthread_cond_broadcast(&team.wake);
        pthread_mutex_unlock(&team.lock);
    }
    run_pieces(tag);
    for (int spin = 0; atomic_load(&team.done) < chunks; spin++) {
        if (spin < 4096) _mm_pause();
        else sched_yield();
    }
    atomic_flag_clear(&team.busy);
}
