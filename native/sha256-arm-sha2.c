/*
 * SHA-256 compression with the ARMv8 SHA2 instructions. Compiled (by GCC) with a target
 * attribute so the addon builds for any aarch64 baseline; hr_sha256_best calls it only when the
 * CPU has SHA2 and it agrees with the portable C.
 */
#include "sha256.h"

#if defined(HR_HAVE_ARMV8_SHA2)
#include <arm_neon.h>

#if defined(__clang__)
#define HR_SHA2_TARGET /* the baseline has SHA2 (HR_HAVE_ARMV8_SHA2) */
#else
#define HR_SHA2_TARGET __attribute__((target("+crypto")))
#endif

/* Four rounds on W[t..t+3] + K[t..t+3]. */
#define HR_FOUR_ROUNDS(w, t)                                        \
  do {                                                              \
    uint32x4_t wk = vaddq_u32((w), vld1q_u32(&HR_SHA256_K[(t)]));   \
    uint32x4_t abcd_before = abcd;                                  \
    abcd = vsha256hq_u32(abcd, efgh, wk);                           \
    efgh = vsha256h2q_u32(efgh, abcd_before, wk);                   \
  } while (0)

#define HR_SCHEDULE(m0, m1, m2, m3) vsha256su1q_u32(vsha256su0q_u32((m0), (m1)), (m2), (m3))

HR_SHA2_TARGET void hr_compress_armv8(uint32_t state[8], const uint8_t *data, size_t blocks) {
  uint32x4_t abcd = vld1q_u32(&state[0]);
  uint32x4_t efgh = vld1q_u32(&state[4]);
  for (; blocks > 0; blocks--, data += 64) {
    const uint32x4_t abcd_in = abcd;
    const uint32x4_t efgh_in = efgh;
    uint32x4_t m0 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 0)));
    uint32x4_t m1 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16)));
    uint32x4_t m2 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 32)));
    uint32x4_t m3 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 48)));
    HR_FOUR_ROUNDS(m0, 0);
    HR_FOUR_ROUNDS(m1, 4);
    HR_FOUR_ROUNDS(m2, 8);
    HR_FOUR_ROUNDS(m3, 12);
    for (int t = 16; t < 64; t += 16) {
      m0 = HR_SCHEDULE(m0, m1, m2, m3);
      HR_FOUR_ROUNDS(m0, t);
      m1 = HR_SCHEDULE(m1, m2, m3, m0);
      HR_FOUR_ROUNDS(m1, t + 4);
      m2 = HR_SCHEDULE(m2, m3, m0, m1);
      HR_FOUR_ROUNDS(m2, t + 8);
      m3 = HR_SCHEDULE(m3, m0, m1, m2);
      HR_FOUR_ROUNDS(m3, t + 12);
    }
    abcd = vaddq_u32(abcd, abcd_in);
    efgh = vaddq_u32(efgh, efgh_in);
  }
  vst1q_u32(&state[0], abcd);
  vst1q_u32(&state[4], efgh);
}
#endif
