/* CPU feature detection (see include/fg_cpu.h). No target pragma here: this runs before FedGuard
 * knows whether the CPU has AVX2. */
#include "fg_cpu.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void fg_cpu_detect(fg_cpu_info *out) {
    memset(out, 0, sizeof(*out));
    unsigned int a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    const unsigned int max_leaf = a;
    memcpy(out->vendor, &b, 4);
    memcpy(out->vendor + 4, &d, 4);
    memcpy(out->vendor + 8, &c, 4);

    __get_cpuid(1, &a, &b, &c, &d);
    const unsigned int base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    out->family = (int)(base_family == 0xF ? base_family + ((a >> 20) & 0xFF) : base_family);
    out->model = (int)((base_family == 0x6 || base_family == 0xF) ? (((a >> 16) & 0xF) << 4) | base_model : base_model);
    const int osxsave = (c >> 27) & 1;
    const unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    const int ymm_enabled = (xcr0 & 0x6) == 0x6;           /* SSE and AVX state */
    const int zmm_enabled = ymm_enabled && (xcr0 & 0xE0) == 0xE0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    out->sse42 = (c >> 20) & 1;
    out->avx = ymm_enabled && ((c >> 28) & 1);
    out->fma = out->avx && ((c >> 12) & 1);
    out->f16c = out->avx && ((c >> 29) & 1);

    if (max_leaf >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        out->avx2 = out->avx && ((b >> 5) & 1);
        out->avx512f = zmm_enabled && ((b >> 16) & 1);
        out->avx512dq = out->avx512f && ((b >> 17) & 1);
        out->avx512bw = out->avx512f && ((b >> 30) & 1);
        out->avx512vl = out->avx512f && ((b >> 31) & 1);
        out->avx512vnni = out->avx512f && ((c >> 11) & 1);
        const unsigned int subleaves = a;
        if (subleaves >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            out->avxvnni = out->avx && ((a >> 4) & 1);
            out->avx512bf16 = out->avx512f && ((a >> 5) & 1);
        }
    }

    __get_cpuid(0x80000000, &a, &b, &c, &d);
    if (a >= 0x80000004) {
        unsigned int words[12];
        for (unsigned int i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &words[4 * i], &words[4 * i + 1], &words[4 * i + 2], &words[4 * i + 3]);
        char raw[49];
        memcpy(raw, words, 48);
        raw[48] = 0;
        const char *start = raw;
        while (*start == ' ') start++;
        strncpy(out->brand, start, 48);
        size_t n = strlen(out->brand);
        while (n > 0 && out->brand[n - 1] == ' ') out->brand[--n] = 0;
    }
}
#else
void fg_cpu_detect(fg_cpu_info *out) { memset(out, 0, sizeof(*out)); }
#endif
