/* SHA-256 compression and the Stratum share hash for hashrelay's native addon. */
#ifndef HASHRELAY_SHA256_H
#define HASHRELAY_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Compresses `blocks` consecutive 64-byte blocks of `data` into `state` (8 host-order words). */
typedef void (*hr_compress_fn)(uint32_t state[8], const uint8_t *data, size_t blocks);

extern const uint32_t HR_SHA256_K[64];
extern const uint32_t HR_SHA256_IV[8];

void hr_compress_portable(uint32_t state[8], const uint8_t *data, size_t blocks);
#if defined(__x86_64__) || defined(__i386__)
void hr_compress_shani(uint32_t state[8], const uint8_t *data, size_t blocks);
void hr_merkle_root_shani(const uint8_t txid[32], const uint8_t *branches, size_t count, uint8_t root[32]);
void hr_sha256d_header_shani(const uint8_t header[80], uint8_t out[32]);
void hr_merkle_root_x2_shani(const uint8_t txid_a[32], const uint8_t txid_b[32], const uint8_t *branches,
                             size_t count, uint8_t root_a[32], uint8_t root_b[32]);
void hr_sha256d_header_x2_shani(const uint8_t header_a[80], const uint8_t header_b[80], uint8_t out_a[32],
                                uint8_t out_b[32]);
#endif
/* GCC reaches the SHA2 intrinsics through a target attribute on any aarch64 baseline; clang
 * (before 16) only when the baseline has them (Apple's does), so elsewhere it builds portable C. */
#if defined(__aarch64__) && (defined(__ARM_FEATURE_SHA2) || !defined(__clang__))
#define HR_HAVE_ARMV8_SHA2 1
void hr_compress_armv8(uint32_t state[8], const uint8_t *data, size_t blocks);
#endif

/* root = txid; for each of `count` 32-byte branches: root = sha256d(root || branch). */
typedef void (*hr_merkle_fn)(const uint8_t txid[32], const uint8_t *branches, size_t count, uint8_t root[32]);
/* sha256d of an 80-byte block header. */
typedef void (*hr_header_fn)(const uint8_t header[80], uint8_t out[32]);

/* The same for two independent shares of one job at once (NULL where not worth it). */
typedef void (*hr_merkle_x2_fn)(const uint8_t txid_a[32], const uint8_t txid_b[32], const uint8_t *branches,
                                size_t count, uint8_t root_a[32], uint8_t root_b[32]);
typedef void (*hr_header_x2_fn)(const uint8_t header_a[80], const uint8_t header_b[80], uint8_t out_a[32],
                                uint8_t out_b[32]);

/* One SHA-256 implementation and the name operators see in metrics and the bench. The merkle
 * and header functions are the share check's fixed-size hot path; SHA-NI keeps them in registers. */
typedef struct {
  const char *name;
  hr_compress_fn compress;
  hr_merkle_fn merkle_root;
  hr_header_fn sha256d_header;
  hr_merkle_x2_fn merkle_root_x2;
  hr_header_x2_fn sha256d_header_x2;
} hr_sha256_impl;

/* The fixed-size hashes over any compression function (portable C and ARMv8 use these). */
void hr_merkle_root_generic(hr_compress_fn compress, const uint8_t txid[32], const uint8_t *branches, size_t count,
                            uint8_t root[32]);
void hr_sha256d_header_generic(hr_compress_fn compress, const uint8_t header[80], uint8_t out[32]);
/* W[t] + K[t] for the block that pads a message of exactly 64 bytes: it is the same block every time. */
void hr_padding_schedule_64(uint32_t wk[64]);

/* FIPS 180-4's "abc" through the portable compression: 1 when right. */
int hr_sha256_portable_known_answer(void);
/* The fastest implementation this CPU runs (cpuid / getauxval) that agrees with the portable C on
 * a self-test, else the portable one. */
const hr_sha256_impl *hr_sha256_best(void);
/* The named implementation ("sha-ni", "armv8-sha2", "portable") if this CPU runs it, else NULL. */
const hr_sha256_impl *hr_sha256_named(const char *name);

/* sha256d(message) into out (32 bytes, digest byte order). */
void hr_sha256d(hr_compress_fn compress, const uint8_t *message, size_t length, uint8_t out[32]);

/*
 * A prepared Stratum job, the layout TypeScript writes once per job (src/work/share-hash-job.ts):
 *   [0,32)   SHA-256 state after the whole blocks of coinb1 || extranonce1, 8 big-endian words
 *   [32,36)  prefix length (coinb1 || extranonce1), u32 LE
 *   [36,40)  coinb2 length, u32 LE
 *   [40,44)  branch count, u32 LE
 *   [44,48)  nbits as in the header (LE32)
 *   [48,80)  prevhash in header byte order
 *   then the prefix's tail (prefix length % 64 bytes), coinb2, and the branches (32 bytes each).
 */
typedef struct {
  uint32_t prefix_state[8];
  uint64_t prefix_length;
  const uint8_t *prefix_tail;
  size_t tail_length;
  const uint8_t *coinb2;
  size_t coinb2_length;
  const uint8_t *branches;
  size_t branch_count;
  const uint8_t *nbits_le;
  const uint8_t *prevhash;
} hr_share_job;

#define HR_JOB_FIXED_BYTES 80
/* A share record: version, ntime, nonce (each LE32, as in the header), extranonce2 length
 * (u32 LE), then the extranonce2 bytes; records sit `stride` bytes apart. */
#define HR_SHARE_FIXED_BYTES 16
/* What one share yields: header (80) || sha256d(header) (32) || coinbase txid (32). */
#define HR_SHARE_OUT_BYTES 144

/* Parses the job layout; returns NULL on success or a message naming what is wrong. */
const char *hr_share_job_parse(const uint8_t *bytes, size_t length, hr_share_job *job);

/* All the sha256d work of one share record (see HR_SHARE_FIXED_BYTES): coinbase txid, merkle
 * root, header and its hash. The record's extranonce2 length must fit its stride (checked by the caller). */
void hr_share_hash(const hr_sha256_impl *impl, const hr_share_job *job, const uint8_t *record,
                   uint8_t out[HR_SHARE_OUT_BYTES]);
/* Two records at once where the implementation has two-message functions; else one by one. */
void hr_share_hash_pair(const hr_sha256_impl *impl, const hr_share_job *job, const uint8_t *record_a,
                        const uint8_t *record_b, uint8_t out_a[HR_SHARE_OUT_BYTES], uint8_t out_b[HR_SHARE_OUT_BYTES]);

#endif
