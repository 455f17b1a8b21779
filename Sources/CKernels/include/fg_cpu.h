/* What the CPU can run, read with cpuid and xgetbv (the operating system must have enabled the
 * vector state, not only the CPU support it). Compiled without the AVX2 pragma, so it is safe to
 * call on any x86-64 CPU: FedGuard checks it before running a kernel that needs AVX2. */
#ifndef FG_CPU_H
#define FG_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char vendor[13];   /* "GenuineIntel", "AuthenticAMD", ... */
    char brand[49];    /* the processor brand string, trimmed */
    int family;        /* display family (base + extended) */
    int model;         /* display model (extended model folded in for families 6 and 15+) */
    int sse42, avx, avx2, fma, f16c;
    int avx512f, avx512dq, avx512bw, avx512vl, avx512vnni, avx512bf16;
    int avxvnni;       /* the VEX-encoded VNNI of Alder Lake and later */
} fg_cpu_info;

/* Fills `out`; features the OS has not enabled (XCR0) read as absent. On a non-x86 build every
 * feature reads 0 and the strings are empty. */
void fg_cpu_detect(fg_cpu_info *out);

#ifdef __cplusplus
}
#endif

#endif
