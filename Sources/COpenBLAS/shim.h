#include <cblas.h>
#include <stdlib.h>
#include <string.h>
/* OpenBLAS extensions used for thread control and start-up logging. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

/* Kernel selection of OpenBLAS builds with DYNAMIC_ARCH (Debian's): the core table is chosen at load
 * time from the CPU, or from OPENBLAS_CORETYPE. Weak, so a build without DYNAMIC_ARCH still links
 * (the functions are then absent and the kernels cannot be switched). */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

/* Whether this OpenBLAS can switch its kernel family at run time. */
static inline int fg_openblas_can_switch_core(void) {
    return gotoblas_dynamic_init != 0 && gotoblas_dynamic_quit != 0;
}

/* Re-runs OpenBLAS's kernel selection as if OPENBLAS_CORETYPE were `name` (NULL: OpenBLAS's own CPU
 * detection), then restores the environment as it was. Call before any product runs, or while none
 * runs on any thread: the switch replaces the kernel table every BLAS call reads. Returns 0, or -1
 * when this OpenBLAS cannot switch. */
static inline int fg_openblas_switch_core(const char *name) {
    if (!fg_openblas_can_switch_core()) return -1;
    const char *previous = getenv("OPENBLAS_CORETYPE");
    char *saved = previous ? strdup(previous) : NULL;
    if (name) setenv("OPENBLAS_CORETYPE", name, 1); else unsetenv("OPENBLAS_CORETYPE");
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (saved) { setenv("OPENBLAS_CORETYPE", saved, 1); free(saved); } else unsetenv("OPENBLAS_CORETYPE");
    return 0;
}
