/* Process memory housekeeping. */
#ifndef FG_MEMORY_H
#define FG_MEMORY_H

#ifdef __cplusplus
extern "C" {
#endif

/* Gives the heap memory the C allocator holds free back to the system (glibc: malloc_trim(0)).
 * Returns 1 when some was released, 0 otherwise or where the C library has no such call. */
int fg_release_free_heap(void);

#ifdef __cplusplus
}
#endif

#endif
