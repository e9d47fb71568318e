/* Double SHA-256 over a compression function: plain messages and the Stratum share hash. */
#include <string.h>

#include "sha256.h"

/* A message hashed block by block from a given state; whole blocks go straight from the input. */
typedef struct {
  hr_compress_fn compress;
  uint32_t state[8];
  uint8_t block[64];
  size_t fill;
  uint64_t length;
} hr_stream;

static inline uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void stream_update(hr_stream *s, const uint8_t *p, size_t n) {
  s->length += n;
  if (s->fill > 0) {
    size_t take = 64 - s->fill;
    if (take > n) take = n;
    memcpy(s->block + s->fill, p, take);
    s->fill += take;
    p += take;
    n -= take;
    if (s->fill < 64) return;
    s->compress(s->state, s->block, 1);
    s->fill = 0;
  }
  if (n >= 64) {
    size_t whole = n / 64;
    s->compress(s->state, p, whole);
    p += whole * 64;
    n -= whole * 64;
  }
  if (n > 0) {
    memcpy(s->block, p, n);
    s->fill = n;
  }
}

/* Pads and finishes the message; the first digest stays in `state`. */
static void stream_finish(hr_stream *s) {
  uint64_t bits = s->length * 8;
  s->block[s->fill++] = 0x80;
  if (s->fill > 56) {
    memset(s->block + s->fill, 0, 64 - s->fill);
    s->compress(s->state, s->block, 1);
    s->fill = 0;
  }
  memset(s->block + s->fill, 0, 56 - s->fill);
  store_be32(s->block + 56, (uint32_t)(bits >> 32));
  store_be32(s->block + 60, (uint32_t)bits);
  s->compress(s->state, s->block, 1);
}

/* sha256 of the 32-byte digest held as words in `first`: the second half of sha256d. */
static void second_hash(hr_compress_fn compress, const uint32_t first[8], uint8_t out[32]) {
  uint8_t block[64] = {0};
  for (int i = 0; i < 8; i++) store_be32(block + 4 * i, first[i]);
  block[32] = 0x80;
  block[62] = 0x01; /* 256 bits */
  uint32_t state[8];
  memcpy(state, HR_SHA256_IV, sizeof state);
  compress(state, block, 1);
  for (int i = 0; i < 8; i++) store_be32(out + 4 * i, state[i]);
}

void hr_sha256d(hr_compress_fn compress, const uint8_t *message, size_t length, uint8_t out[32]) {
  hr_stream s = {.compress = compress, .fill = 0, .length = 0};
  memcpy(s.state, HR_SHA256_IV, sizeof s.state);
  stream_update(&s, message, length);
  stream_finish(&s);
  second_hash(compress, s.state, out);
}

/* sha256d of a message that is exactly `blocks` 64-byte blocks, padding included, in `buffer`. */
static void sha256d_padded(hr_compress_fn compress, const uint8_t *buffer, size_t blocks, uint8_t out[32]) {
  uint32_t state[8];
  memcpy(state, HR_SHA256_IV, sizeof state);
  compress(state, buffer, blocks);
  second_hash(compress, state, out);
}

const char *hr_share_job_parse(const uint8_t *bytes, size_t length, hr_share_job *job) {
  if (length < HR_JOB_FIXED_BYTES) return "the job layout is shorter than its fixed part (80 bytes)";
  for (int i = 0; i < 8; i++) job->prefix_state[i] = load_be32(bytes + 4 * i);
  job->prefix_length = load_le32(bytes + 32);
  job->coinb2_length = load_le32(bytes + 36);
  job->branch_count = load_le32(bytes + 40);
  job->nbits_le = bytes + 44;
  job->prevhash = bytes + 48;
  job->tail_length = (size_t)(job->prefix_length % 64);
  /* All terms are below 2^38: no overflow in 64-bit size_t. */
  uint64_t expected = (uint64_t)HR_JOB_FIXED_BYTES + job->tail_length + job->coinb2_length + 32 * (uint64_t)job->branch_count;
  if (expected != (uint64_t)length) return "the job layout's length does not match its prefix, coinb2 and branch counts";
  job->prefix_tail = bytes + HR_JOB_FIXED_BYTES;
  job->coinb2 = job->prefix_tail + job->tail_length;
  job->branches = job->coinb2 + job->coinb2_length;
  return NULL;
}

void hr_merkle_root_generic(hr_compress_fn compress, const uint8_t txid[32], const uint8_t *branches, size_t count,
                            uint8_t root[32]) {
  /* root || branch, then the fixed padding block of a 64-byte message: one call per step. */
  uint8_t pair[128] = {0};
  pair[64] = 0x80;
  pair[126] = 0x02; /* 512 bits */
  memcpy(pair, txid, 32);
  for (size_t i = 0; i < count; i++) {
    memcpy(pair + 32, branches + 32 * i, 32);
    sha256d_padded(compress, pair, 2, pair);
  }
  memcpy(root, pair, 32);
}

void hr_sha256d_header_generic(hr_compress_fn compress, const uint8_t header[80], uint8_t out[32]) {
  uint8_t padded[128] = {0};
  memcpy(padded, header, 80);
  padded[80] = 0x80;
  padded[126] = 0x02; /* 640 bits */
  padded[127] = 0x80;
  sha256d_padded(compress, padded, 2, out);
}

static size_t record_extranonce2_length(const uint8_t *record) {
  return (size_t)record[12] | ((size_t)record[13] << 8) | ((size_t)record[14] << 16) | ((size_t)record[15] << 24);
}

/* The coinbase: the job's midstate, then tail || extranonce2 || coinb2; its txid into out. */
static void coinbase_txid(const hr_sha256_impl *impl, const hr_share_job *job, const uint8_t *record,
                          uint8_t out[HR_SHARE_OUT_BYTES]) {
  hr_stream s = {.compress = impl->compress, .fill = 0, .length = job->prefix_length - job->tail_length};
  memcpy(s.state, job->prefix_state, sizeof s.state);
  stream_update(&s, job->prefix_tail, job->tail_length);
  stream_update(&s, record + HR_SHARE_FIXED_BYTES, record_extranonce2_length(record));
  stream_update(&s, job->coinb2, job->coinb2_length);
  stream_finish(&s);
  second_hash(impl->compress, s.state, out + 112);
}

/* The header around the root (written into out by the merkle step): version, prevhash, ntime, nbits, nonce. */
static void header_fields(const hr_share_job *job, const uint8_t *record, uint8_t out[HR_SHARE_OUT_BYTES]) {
  memcpy(out + 0, record, 4);
  memcpy(out + 4, job->prevhash, 32);
  memcpy(out + 68, record + 4, 4);
  memcpy(out + 72, job->nbits_le, 4);
  memcpy(out + 76, record + 8, 4);
}

void hr_share_hash(const hr_sha256_impl *impl, const hr_share_job *job, const uint8_t *record,
                   uint8_t out[HR_SHARE_OUT_BYTES]) {
  coinbase_txid(impl, job, record, out);
  header_fields(job, record, out);
  impl->merkle_root(out + 112, job->branches, job->branch_count, out + 36);
  impl->sha256d_header(out, out + 80);
}

void hr_share_hash_pair(const hr_sha256_impl *impl, const hr_share_job *job, const uint8_t *record_a,
                        const uint8_t *record_b, uint8_t out_a[HR_SHARE_OUT_BYTES], uint8_t out_b[HR_SHARE_OUT_BYTES]) {
  if (impl->merkle_root_x2 == NULL || impl->sha256d_header_x2 == NULL) {
    hr_share_hash(impl, job, record_a, out_a);
    hr_share_hash(impl, job, record_b, out_b);
    return;
  }
  coinbase_txid(impl, job, record_a, out_a);
  coinbase_txid(impl, job, record_b, out_b);
  header_fields(job, record_a, out_a);
  header_fields(job, record_b, out_b);
  impl->merkle_root_x2(out_a + 112, out_b + 112, job->branches, job->branch_count, out_a + 36, out_b + 36);
  impl->sha256d_header_x2(out_a, out_b, out_a + 80, out_b + 80);
}
