/* Picks the SHA-256 compression this CPU runs, once, at run time. */
#include <string.h>

#include "sha256.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1UL << 6)
#endif
#endif

/* The generic merkle and header hashes bound to one compression function. */
#define HR_GENERIC_FIXED_SIZE(suffix, compress)                                                               \
  static void merkle_##suffix(const uint8_t txid[32], const uint8_t *branches, size_t count, uint8_t root[32]) { \
    hr_merkle_root_generic(compress, txid, branches, count, root);                                            \
  }                                                                                                           \
  static void header_##suffix(const uint8_t header[80], uint8_t out[32]) {                                    \
    hr_sha256d_header_generic(compress, header, out);                                                         \
  }

HR_GENERIC_FIXED_SIZE(portable, hr_compress_portable)
static const hr_sha256_impl PORTABLE = {"portable", hr_compress_portable, merkle_portable, header_portable, NULL, NULL};
#if defined(__x86_64__) || defined(__i386__)
static const hr_sha256_impl SHANI = {"sha-ni",         hr_compress_shani,          hr_merkle_root_shani,
                                     hr_sha256d_header_shani, hr_merkle_root_x2_shani, hr_sha256d_header_x2_shani};
#endif
#if defined(HR_HAVE_ARMV8_SHA2)
HR_GENERIC_FIXED_SIZE(armv8, hr_compress_armv8)
static const hr_sha256_impl ARMV8 = {"armv8-sha2", hr_compress_armv8, merkle_armv8, header_armv8, NULL, NULL};
#endif

#if defined(__x86_64__) || defined(__i386__)
static int cpu_has_shani(void) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const int ssse3 = (ecx >> 9) & 1;
  const int sse41 = (ecx >> 19) & 1;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
  const int sha = (ebx >> 29) & 1;
  return ssse3 && sse41 && sha;
}
#endif

#if defined(HR_HAVE_ARMV8_SHA2)
static int cpu_has_armv8_sha2(void) {
#if defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#elif defined(__APPLE__)
  return 1; /* every Apple arm64 CPU has the SHA2 instructions */
#else
  return 0;
#endif
}
#endif

int hr_sha256_portable_known_answer(void) {
  /* sha256("abc"), FIPS 180-4's example: one padded block. */
  static const uint32_t expected[8] = {0xba7816bf, 0x8f01cfea, 0x414140de, 0x5dae2223,
                                       0xb00361a3, 0x96177a9c, 0xb410ff61, 0xf20015ad};
  uint8_t block[64] = {'a', 'b', 'c', 0x80};
  block[63] = 24; /* bits */
  uint32_t state[8];
  memcpy(state, HR_SHA256_IV, sizeof state);
  hr_compress_portable(state, block, 1);
  return memcmp(state, expected, sizeof state) == 0;
}

/* Instruction-set code is checked against the portable C at load: a CPU or compiler that gets it
 * wrong costs speed, never a wrong verdict. */
static int agrees_with_portable(const hr_sha256_impl *impl) {
  uint8_t data[160];
  for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 29 + 7);
  uint32_t got[8], want[8];
  memcpy(got, HR_SHA256_IV, sizeof got);
  memcpy(want, HR_SHA256_IV, sizeof want);
  impl->compress(got, data, 2);
  hr_compress_portable(want, data, 2);
  if (memcmp(got, want, sizeof got) != 0) return 0;
  uint8_t a[32], b[32], want_a[32], want_b[32];
  impl->merkle_root(data, data + 32, 3, a);
  merkle_portable(data, data + 32, 3, want_a);
  if (memcmp(a, want_a, 32) != 0) return 0;
  impl->sha256d_header(data, a);
  header_portable(data, want_a);
  if (memcmp(a, want_a, 32) != 0) return 0;
  if (impl->merkle_root_x2 != NULL) {
    impl->merkle_root_x2(data, data + 8, data + 64, 3, a, b);
    merkle_portable(data, data + 64, 3, want_a);
    merkle_portable(data + 8, data + 64, 3, want_b);
    if (memcmp(a, want_a, 32) != 0 || memcmp(b, want_b, 32) != 0) return 0;
  }
  if (impl->sha256d_header_x2 != NULL) {
    impl->sha256d_header_x2(data, data + 80, a, b);
    header_portable(data, want_a);
    header_portable(data + 80, want_b);
    if (memcmp(a, want_a, 32) != 0 || memcmp(b, want_b, 32) != 0) return 0;
  }
  return 1;
}

const hr_sha256_impl *hr_sha256_best(void) {
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_shani() && agrees_with_portable(&SHANI)) return &SHANI;
#endif
#if defined(HR_HAVE_ARMV8_SHA2)
  if (cpu_has_armv8_sha2() && agrees_with_portable(&ARMV8)) return &ARMV8;
#endif
  return &PORTABLE;
}

const hr_sha256_impl *hr_sha256_named(const char *name) {
  if (strcmp(name, PORTABLE.name) == 0) return &PORTABLE;
#if defined(__x86_64__) || defined(__i386__)
  if (strcmp(name, SHANI.name) == 0) return cpu_has_shani() && agrees_with_portable(&SHANI) ? &SHANI : NULL;
#endif
#if defined(HR_HAVE_ARMV8_SHA2)
  if (strcmp(name, ARMV8.name) == 0) return cpu_has_armv8_sha2() && agrees_with_portable(&ARMV8) ? &ARMV8 : NULL;
#endif
  return NULL;
}
