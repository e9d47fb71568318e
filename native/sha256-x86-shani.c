/*
 * SHA-256 with the x86 SHA extensions. Compiled with a target attribute rather than -msha so the
 * addon builds under any x86-64 flags; hr_sha256_best uses it only after cpuid reports SHA,
 * SSSE3 and SSE4.1. Besides the plain compression, the share check's fixed-size double hashes
 * (merkle steps, the header) run here with the state kept in registers between the two hashes.
 */
#include "sha256.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define HR_SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define HR_SHANI_INLINE static inline __attribute__((always_inline, target("sha,sse4.1,ssse3")))

/* Four rounds on wk = W[t..t+3] + K[t..t+3]; the two state registers swap roles each two rounds. */
#define HR_FOUR_ROUNDS_WK(wk)                                              \
  do {                                                                     \
    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, (wk));                        \
    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32((wk), 0x0e)); \
  } while (0)

#define HR_FOUR_ROUNDS(w, t) HR_FOUR_ROUNDS_WK(_mm_add_epi32((w), _mm_loadu_si128((const __m128i *)&HR_SHA256_K[(t)])))

/* W[t..t+3] from the four previous groups: m0 = W[t-16..], m1 = W[t-12..], m2 = W[t-8..], m3 = W[t-4..]. */
#define HR_SCHEDULE(m0, m1, m2, m3) \
  _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

/* The 64 rounds of one block given as four vectors of message words (W0..W3 in m0, lane 0 first). */
#define HR_BLOCK_ROUNDS(m0, m1, m2, m3)    \
  do {                                     \
    HR_FOUR_ROUNDS(m0, 0);                 \
    HR_FOUR_ROUNDS(m1, 4);                 \
    HR_FOUR_ROUNDS(m2, 8);                 \
    HR_FOUR_ROUNDS(m3, 12);                \
    for (int t = 16; t < 64; t += 16) {    \
      m0 = HR_SCHEDULE(m0, m1, m2, m3);    \
      HR_FOUR_ROUNDS(m0, t);               \
      m1 = HR_SCHEDULE(m1, m2, m3, m0);    \
      HR_FOUR_ROUNDS(m1, t + 4);           \
      m2 = HR_SCHEDULE(m2, m3, m0, m1);    \
      HR_FOUR_ROUNDS(m2, t + 8);           \
      m3 = HR_SCHEDULE(m3, m0, m1, m2);    \
      HR_FOUR_ROUNDS(m3, t + 12);          \
    }                                      \
  } while (0)

HR_SHANI_INLINE __m128i byteswap_mask(void) { return _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL); }

HR_SHANI_INLINE __m128i load_words(const uint8_t *bytes) {
  return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)bytes), byteswap_mask());
}

/* A..H in ascending lanes (two vectors) to the instructions' ABEF / CDGH (A in the highest lane). */
HR_SHANI_INLINE void to_abef_cdgh(__m128i abcd, __m128i efgh, __m128i *abef, __m128i *cdgh) {
  abcd = _mm_shuffle_epi32(abcd, 0xb1);
  efgh = _mm_shuffle_epi32(efgh, 0x1b);
  *abef = _mm_alignr_epi8(abcd, efgh, 8);
  *cdgh = _mm_blend_epi16(efgh, abcd, 0xf0);
}

/* And back: lanes A,B,E,F and G,H,C,D, recombined. */
HR_SHANI_INLINE void to_abcd_efgh(__m128i abef, __m128i cdgh, __m128i *abcd, __m128i *efgh) {
  __m128i abef_up = _mm_shuffle_epi32(abef, 0x1b);
  __m128i ghcd_up = _mm_shuffle_epi32(cdgh, 0xb1);
  *abcd = _mm_blend_epi16(abef_up, ghcd_up, 0xf0);
  *efgh = _mm_alignr_epi8(ghcd_up, abef_up, 8);
}

HR_SHANI_TARGET void hr_compress_shani(uint32_t state[8], const uint8_t *data, size_t blocks) {
  __m128i abef, cdgh;
  to_abef_cdgh(_mm_loadu_si128((const __m128i *)&state[0]), _mm_loadu_si128((const __m128i *)&state[4]), &abef, &cdgh);
  for (; blocks > 0; blocks--, data += 64) {
    const __m128i abef_in = abef;
    const __m128i cdgh_in = cdgh;
    __m128i m0 = load_words(data), m1 = load_words(data + 16), m2 = load_words(data + 32), m3 = load_words(data + 48);
    HR_BLOCK_ROUNDS(m0, m1, m2, m3);
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  __m128i abcd, efgh;
  to_abcd_efgh(abef, cdgh, &abcd, &efgh);
  _mm_storeu_si128((__m128i *)&state[0], abcd);
  _mm_storeu_si128((__m128i *)&state[4], efgh);
}

/* W + K of the padding block of any 64-byte message (filled once, at load). */
static uint32_t PAD64_WK[64];
__attribute__((constructor)) static void fill_pad64_wk(void) { hr_padding_schedule_64(PAD64_WK); }

HR_SHANI_INLINE void iv_state(__m128i *abef, __m128i *cdgh) {
  to_abef_cdgh(_mm_loadu_si128((const __m128i *)&HR_SHA256_IV[0]), _mm_loadu_si128((const __m128i *)&HR_SHA256_IV[4]),
               abef, cdgh);
}

/* Digest words (A..H as two vectors) -> sha256 of those 32 bytes, as words again. */
HR_SHANI_INLINE void second_hash(__m128i *words0, __m128i *words1) {
  __m128i abef, cdgh;
  iv_state(&abef, &cdgh);
  const __m128i abef_in = abef, cdgh_in = cdgh;
  __m128i m0 = *words0, m1 = *words1;
  __m128i m2 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
  __m128i m3 = _mm_set_epi32(256, 0, 0, 0); /* 256 bits */
  HR_BLOCK_ROUNDS(m0, m1, m2, m3);
  to_abcd_efgh(_mm_add_epi32(abef, abef_in), _mm_add_epi32(cdgh, cdgh_in), words0, words1);
}

/* sha256d of the 64 bytes given as words (m0..m3): one merkle step. The digest as words. */
HR_SHANI_INLINE void sha256d_64_words(__m128i m0, __m128i m1, __m128i m2, __m128i m3, __m128i *out0, __m128i *out1) {
  __m128i abef, cdgh;
  iv_state(&abef, &cdgh);
  const __m128i abef_iv = abef, cdgh_iv = cdgh;
  HR_BLOCK_ROUNDS(m0, m1, m2, m3);
  abef = _mm_add_epi32(abef, abef_iv);
  cdgh = _mm_add_epi32(cdgh, cdgh_iv);
  const __m128i abef_mid = abef, cdgh_mid = cdgh;
  for (int t = 0; t < 64; t += 4) HR_FOUR_ROUNDS_WK(_mm_loadu_si128((const __m128i *)&PAD64_WK[t]));
  to_abcd_efgh(_mm_add_epi32(abef, abef_mid), _mm_add_epi32(cdgh, cdgh_mid), out0, out1);
  second_hash(out0, out1);
}

HR_SHANI_INLINE void store_words(uint8_t *bytes, __m128i words) {
  _mm_storeu_si128((__m128i *)bytes, _mm_shuffle_epi8(words, byteswap_mask()));
}

HR_SHANI_TARGET void hr_merkle_root_shani(const uint8_t txid[32], const uint8_t *branches, size_t count,
                                          uint8_t root[32]) {
  /* The root stays as words from one step to the next: the digest is the next message's start. */
  __m128i root0 = load_words(txid), root1 = load_words(txid + 16);
  for (size_t i = 0; i < count; i++) {
    sha256d_64_words(root0, root1, load_words(branches + 32 * i), load_words(branches + 32 * i + 16), &root0, &root1);
  }
  store_words(root, root0);
  store_words(root + 16, root1);
}

HR_SHANI_TARGET void hr_sha256d_header_shani(const uint8_t header[80], uint8_t out[32]) {
  __m128i abef, cdgh;
  iv_state(&abef, &cdgh);
  const __m128i abef_iv = abef, cdgh_iv = cdgh;
  __m128i m0 = load_words(header), m1 = load_words(header + 16), m2 = load_words(header + 32),
          m3 = load_words(header + 48);
  HR_BLOCK_ROUNDS(m0, m1, m2, m3);
  abef = _mm_add_epi32(abef, abef_iv);
  cdgh = _mm_add_epi32(cdgh, cdgh_iv);
  const __m128i abef_mid = abef, cdgh_mid = cdgh;
  /* The second block: header bytes 64..80, then the padding of an 80-byte message. */
  m0 = load_words(header + 64);
  m1 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
  m2 = _mm_setzero_si128();
  m3 = _mm_set_epi32(640, 0, 0, 0); /* 640 bits */
  HR_BLOCK_ROUNDS(m0, m1, m2, m3);
  __m128i words0, words1;
  to_abcd_efgh(_mm_add_epi32(abef, abef_mid), _mm_add_epi32(cdgh, cdgh_mid), &words0, &words1);
  second_hash(&words0, &words1);
  store_words(out, words0);
  store_words(out + 16, words1);
}

/*
 * Two independent messages at once. One message's rounds form a chain of dependent
 * instructions that leaves the SHA unit idle between them; a second message's rounds fill
 * those gaps, so a batch of shares hashes in pairs (`hashShares` with many records).
 */
#define HR_FOUR_ROUNDS_X2(wa, wb, t)                                                      \
  do {                                                                                    \
    const __m128i k = _mm_loadu_si128((const __m128i *)&HR_SHA256_K[(t)]);                \
    const __m128i wka = _mm_add_epi32((wa), k), wkb = _mm_add_epi32((wb), k);             \
    cdgh_a = _mm_sha256rnds2_epu32(cdgh_a, abef_a, wka);                                  \
    cdgh_b = _mm_sha256rnds2_epu32(cdgh_b, abef_b, wkb);                                  \
    abef_a = _mm_sha256rnds2_epu32(abef_a, cdgh_a, _mm_shuffle_epi32(wka, 0x0e));         \
    abef_b = _mm_sha256rnds2_epu32(abef_b, cdgh_b, _mm_shuffle_epi32(wkb, 0x0e));         \
  } while (0)

#define HR_BLOCK_ROUNDS_X2(a0, a1, a2, a3, b0, b1, b2, b3) \
  do {                                                     \
    HR_FOUR_ROUNDS_X2(a0, b0, 0);                          \
    HR_FOUR_ROUNDS_X2(a1, b1, 4);                          \
    HR_FOUR_ROUNDS_X2(a2, b2, 8);                          \
    HR_FOUR_ROUNDS_X2(a3, b3, 12);                         \
    for (int t = 16; t < 64; t += 16) {                    \
      a0 = HR_SCHEDULE(a0, a1, a2, a3);                    \
      b0 = HR_SCHEDULE(b0, b1, b2, b3);                    \
      HR_FOUR_ROUNDS_X2(a0, b0, t);                        \
      a1 = HR_SCHEDULE(a1, a2, a3, a0);                    \
      b1 = HR_SCHEDULE(b1, b2, b3, b0);                    \
      HR_FOUR_ROUNDS_X2(a1, b1, t + 4);                    \
      a2 = HR_SCHEDULE(a2, a3, a0, a1);                    \
      b2 = HR_SCHEDULE(b2, b3, b0, b1);                    \
      HR_FOUR_ROUNDS_X2(a2, b2, t + 8);                    \
      a3 = HR_SCHEDULE(a3, a0, a1, a2);                    \
      b3 = HR_SCHEDULE(b3, b0, b1, b2);                    \
      HR_FOUR_ROUNDS_X2(a3, b3, t + 12);                   \
    }                                                      \
  } while (0)

/* Both states from the IV; the rounds of one block; the feed-forward. */
#define HR_X2_BEGIN()                      \
  __m128i abef_a, cdgh_a, abef_b, cdgh_b;  \
  iv_state(&abef_a, &cdgh_a);              \
  abef_b = abef_a;                         \
  cdgh_b = cdgh_a;                         \
  const __m128i abef_iv = abef_a, cdgh_iv = cdgh_a

/* sha256 of two 32-byte digests held as words (second hash of sha256d), in place. */
HR_SHANI_INLINE void second_hash_x2(__m128i *a0w, __m128i *a1w, __m128i *b0w, __m128i *b1w) {
  HR_X2_BEGIN();
  __m128i a0 = *a0w, a1 = *a1w, b0 = *b0w, b1 = *b1w;
  __m128i a2 = _mm_set_epi32(0, 0, 0, (int)0x80000000u), b2 = a2;
  __m128i a3 = _mm_set_epi32(256, 0, 0, 0), b3 = a3; /* 256 bits */
  HR_BLOCK_ROUNDS_X2(a0, a1, a2, a3, b0, b1, b2, b3);
  to_abcd_efgh(_mm_add_epi32(abef_a, abef_iv), _mm_add_epi32(cdgh_a, cdgh_iv), a0w, a1w);
  to_abcd_efgh(_mm_add_epi32(abef_b, abef_iv), _mm_add_epi32(cdgh_b, cdgh_iv), b0w, b1w);
}

HR_SHANI_TARGET void hr_merkle_root_x2_shani(const uint8_t txid_a[32], const uint8_t txid_b[32],
                                             const uint8_t *branches, size_t count, uint8_t root_a[32],
                                             uint8_t root_b[32]) {
  __m128i ra0 = load_words(txid_a), ra1 = load_words(txid_a + 16);
  __m128i rb0 = load_words(txid_b), rb1 = load_words(txid_b + 16);
  for (size_t i = 0; i < count; i++) {
    HR_X2_BEGIN();
    __m128i a0 = ra0, a1 = ra1, a2 = load_words(branches + 32 * i), a3 = load_words(branches + 32 * i + 16);
    __m128i b0 = rb0, b1 = rb1, b2 = a2, b3 = a3;
    HR_BLOCK_ROUNDS_X2(a0, a1, a2, a3, b0, b1, b2, b3);
    abef_a = _mm_add_epi32(abef_a, abef_iv);
    cdgh_a = _mm_add_epi32(cdgh_a, cdgh_iv);
    abef_b = _mm_add_epi32(abef_b, abef_iv);
    cdgh_b = _mm_add_epi32(cdgh_b, cdgh_iv);
    const __m128i abef_a_mid = abef_a, cdgh_a_mid = cdgh_a, abef_b_mid = abef_b, cdgh_b_mid = cdgh_b;
    for (int t = 0; t < 64; t += 4) {
      const __m128i wk = _mm_loadu_si128((const __m128i *)&PAD64_WK[t]);
      cdgh_a = _mm_sha256rnds2_epu32(cdgh_a, abef_a, wk);
      cdgh_b = _mm_sha256rnds2_epu32(cdgh_b, abef_b, wk);
      abef_a = _mm_sha256rnds2_epu32(abef_a, cdgh_a, _mm_shuffle_epi32(wk, 0x0e));
      abef_b = _mm_sha256rnds2_epu32(abef_b, cdgh_b, _mm_shuffle_epi32(wk, 0x0e));
    }
    to_abcd_efgh(_mm_add_epi32(abef_a, abef_a_mid), _mm_add_epi32(cdgh_a, cdgh_a_mid), &ra0, &ra1);
    to_abcd_efgh(_mm_add_epi32(abef_b, abef_b_mid), _mm_add_epi32(cdgh_b, cdgh_b_mid), &rb0, &rb1);
    second_hash_x2(&ra0, &ra1, &rb0, &rb1);
  }
  store_words(root_a, ra0);
  store_words(root_a + 16, ra1);
  store_words(root_b, rb0);
  store_words(root_b + 16, rb1);
}

HR_SHANI_TARGET void hr_sha256d_header_x2_shani(const uint8_t header_a[80], const uint8_t header_b[80],
                                                uint8_t out_a[32], uint8_t out_b[32]) {
  HR_X2_BEGIN();
  __m128i a0 = load_words(header_a), a1 = load_words(header_a + 16), a2 = load_words(header_a + 32),
          a3 = load_words(header_a + 48);
  __m128i b0 = load_words(header_b), b1 = load_words(header_b + 16), b2 = load_words(header_b + 32),
          b3 = load_words(header_b + 48);
  HR_BLOCK_ROUNDS_X2(a0, a1, a2, a3, b0, b1, b2, b3);
  abef_a = _mm_add_epi32(abef_a, abef_iv);
  cdgh_a = _mm_add_epi32(cdgh_a, cdgh_iv);
  abef_b = _mm_add_epi32(abef_b, abef_iv);
  cdgh_b = _mm_add_epi32(cdgh_b, cdgh_iv);
  const __m128i abef_a_mid = abef_a, cdgh_a_mid = cdgh_a, abef_b_mid = abef_b, cdgh_b_mid = cdgh_b;
  a0 = load_words(header_a + 64);
  b0 = load_words(header_b + 64);
  a1 = b1 = _mm_set_epi32(0, 0, 0, (int)0x80000000u);
  a2 = b2 = _mm_setzero_si128();
  a3 = b3 = _mm_set_epi32(640, 0, 0, 0); /* 640 bits */
  HR_BLOCK_ROUNDS_X2(a0, a1, a2, a3, b0, b1, b2, b3);
  __m128i wa0, wa1, wb0, wb1;
  to_abcd_efgh(_mm_add_epi32(abef_a, abef_a_mid), _mm_add_epi32(cdgh_a, cdgh_a_mid), &wa0, &wa1);
  to_abcd_efgh(_mm_add_epi32(abef_b, abef_b_mid), _mm_add_epi32(cdgh_b, cdgh_b_mid), &wb0, &wb1);
  second_hash_x2(&wa0, &wa1, &wb0, &wb1);
  store_words(out_a, wa0);
  store_words(out_a + 16, wa1);
  store_words(out_b, wb0);
  store_words(out_b + 16, wb1);
}
#endif
