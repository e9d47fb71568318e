/*
 * The N-API face of the native sha256d (loaded by src/work/sha256d-native.ts). Bytes in,
 * bytes out: callers pass Uint8Arrays and an output array, nothing is allocated per call.
 */
#include <node_api.h>
#include <stdio.h>
#include <string.h>

#include "sha256.h"

/* Bumped when a function's arguments or a layout change; the loader refuses another value. */
#define HR_ADDON_ABI 1

static const hr_sha256_impl *selected = NULL;

static napi_value nothing(napi_env env) {
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

/* Throws (TypeError or RangeError) naming the argument and returns 0 unless `value` is a Uint8Array. */
static int get_bytes(napi_env env, napi_value value, const char *name, uint8_t **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Uint8Array", name);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  napi_typedarray_type type;
  void *bytes = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &bytes, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Uint8Array", name);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  *data = (uint8_t *)bytes;
  return 1;
}

static int get_u32(napi_env env, napi_value value, const char *name, uint32_t *out) {
  if (napi_get_value_uint32(env, value, out) != napi_ok) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a number", name);
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

static napi_value range_error(napi_env env, const char *message) {
  napi_throw_range_error(env, NULL, message);
  return NULL;
}

/* sha256d(message, out): out (32 bytes) = sha256(sha256(message)). */
static napi_value js_sha256d(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *message, *out;
  size_t message_length, out_length;
  if (!get_bytes(env, argv[0], "message", &message, &message_length)) return NULL;
  if (!get_bytes(env, argv[1], "out", &out, &out_length)) return NULL;
  if (out_length != 32) return range_error(env, "out must be 32 bytes");
  hr_sha256d(selected->compress, message, message_length, out);
  return nothing(env);
}

/* sha256dEach(messages, messageLength, out): each messageLength-byte message's sha256d, 32 bytes apart. */
static napi_value js_sha256d_each(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *messages, *out;
  size_t messages_length, out_length;
  uint32_t message_length;
  if (!get_bytes(env, argv[0], "messages", &messages, &messages_length)) return NULL;
  if (!get_u32(env, argv[1], "messageLength", &message_length)) return NULL;
  if (!get_bytes(env, argv[2], "out", &out, &out_length)) return NULL;
  if (message_length == 0) return range_error(env, "messageLength must be positive");
  if (messages_length % message_length != 0)
    return range_error(env, "messages must be a whole number of messageLength-byte messages");
  size_t count = messages_length / message_length;
  if (out_length != 32 * count) return range_error(env, "out must be 32 bytes per message");
  for (size_t i = 0; i < count; i++) {
    const uint8_t *message = messages + i * message_length;
    /* Merkle nodes and headers take the fixed-size paths (in registers with SHA-NI). */
    if (message_length == 64)
      selected->merkle_root(message, message + 32, 1, out + 32 * i);
    else if (message_length == 80)
      selected->sha256d_header(message, out + 32 * i);
    else
      hr_sha256d(selected->compress, message, message_length, out + 32 * i);
  }
  return nothing(env);
}

/* hashShares(job, shares, stride, out): every share record's header and hashes (sha256.h has the layouts). */
static napi_value js_hash_shares(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *job_bytes, *shares, *out;
  size_t job_length, shares_length, out_length;
  uint32_t stride;
  if (!get_bytes(env, argv[0], "job", &job_bytes, &job_length)) return NULL;
  if (!get_bytes(env, argv[1], "shares", &shares, &shares_length)) return NULL;
  if (!get_u32(env, argv[2], "stride", &stride)) return NULL;
  if (!get_bytes(env, argv[3], "out", &out, &out_length)) return NULL;
  hr_share_job job;
  const char *problem = hr_share_job_parse(job_bytes, job_length, &job);
  if (problem != NULL) return range_error(env, problem);
  if (stride < HR_SHARE_FIXED_BYTES) return range_error(env, "stride must be at least 16 bytes");
  if (shares_length % stride != 0) return range_error(env, "shares must be a whole number of stride-byte records");
  size_t count = shares_length / stride;
  if (out_length != HR_SHARE_OUT_BYTES * count) return range_error(env, "out must be 144 bytes per share");
  for (size_t i = 0; i < count; i++) {
    const uint8_t *record = shares + i * stride;
    size_t extranonce2_length = (size_t)record[12] | ((size_t)record[13] << 8) | ((size_t)record[14] << 16) |
                                ((size_t)record[15] << 24);
    if (extranonce2_length > stride - HR_SHARE_FIXED_BYTES)
      return range_error(env, "a share record's extranonce2 runs past its stride");
  }
  /* In pairs: two shares' merkle steps and headers interleave (hr_share_hash_pair). */
  size_t i = 0;
  for (; i + 1 < count; i += 2) {
    hr_share_hash_pair(selected, &job, shares + i * stride, shares + (i + 1) * stride, out + HR_SHARE_OUT_BYTES * i,
                       out + HR_SHARE_OUT_BYTES * (i + 1));
  }
  if (i < count) hr_share_hash(selected, &job, shares + i * stride, out + HR_SHARE_OUT_BYTES * i);
  return nothing(env);
}

/* implementation(): the compression in use ("sha-ni", "armv8-sha2" or "portable"). */
static napi_value js_implementation(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value name;
  napi_create_string_utf8(env, selected->name, NAPI_AUTO_LENGTH, &name);
  return name;
}

/* select(name): "best" or an implementation's name; false (and no change) if this CPU lacks it. */
static napi_value js_select(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[32];
  size_t length = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "name must be a string");
    return NULL;
  }
  const hr_sha256_impl *wanted = strcmp(name, "best") == 0 ? hr_sha256_best() : hr_sha256_named(name);
  if (wanted != NULL) selected = wanted;
  napi_value result;
  napi_get_boolean(env, wanted != NULL, &result);
  return result;
}

NAPI_MODULE_INIT() {
  if (!hr_sha256_portable_known_answer()) {
    /* The loader reports this and falls back to the JavaScript SHA-256. */
    napi_throw_error(env, NULL, "the native sha256d failed its known-answer self-test (sha256 of \"abc\")");
    return NULL;
  }
  if (selected == NULL) selected = hr_sha256_best();
  napi_value abi;
  napi_create_uint32(env, HR_ADDON_ABI, &abi);
  napi_property_descriptor properties[] = {
      {"abi", NULL, NULL, NULL, NULL, abi, napi_enumerable, NULL},
      {"sha256d", NULL, js_sha256d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256dEach", NULL, js_sha256d_each, NULL, NULL, NULL, napi_enumerable, NULL},
      {"hashShares", NULL, js_hash_shares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"implementation", NULL, js_implementation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"select", NULL, js_select, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}
