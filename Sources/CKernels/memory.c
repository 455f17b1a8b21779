/* Process memory housekeeping (see include/fg_memory.h). */
#include "fg_memory.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
int fg_release_free_heap(void) { return malloc_trim(0); }
#else
int fg_release_free_heap(void) { return 0; }
#endif
