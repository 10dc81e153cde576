/*
 * sbtf_fully_connected_prepared.c - SBTF_FULLY_CONNECTED with the masks decoded once, at prepare
 * time, into persistent memory the caller owns (sbtf_nn.h: sbtf_fully_connected_s8_prepare).
 *
 * Inputs go in groups of 6: per call and batch row, each group's 64 subset sums of
 * u = x + 128 are tabulated as uint16 (128 bytes per group, at most 6 * 255) in the scratch
 * table area, a chunk of groups at a time; prepare stores, per filter and group, the byte
 * offset (within its chunk) of the entry its 6 mask bits select, and the per-filter constant
 * base_c = bias_c + 127 * sign_c * (input_offset - 128) * popcount_c. A filter then costs one
 * offset load, one table load and one add per 6 inputs (the per-call path decodes 4-bit
 * nibbles: about 4 instructions per 4 inputs on Cortex-M4). Helium keeps its predicated
 * add-across-vector path, which is faster there: no prepared data (size 0).
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_nn_internal.h"

#define GROUP 6
#define TABLE_BYTES 128  /* 64 uint16 entries */
#define MAGIC 0x53424650 /* "SBFP" */

typedef struct {
  int32_t magic, k, c_out, input_offset, groups /* padded */, chunk;
} prepared_header;

static int32_t groups_of(int32_t k) { return (k + GROUP - 1) / GROUP; }

/* Groups padded to whole steps of 4 (padding offsets 0: entry 0 of a table, the empty sum). */
static int32_t padded(int32_t groups) { return (groups + 3) / 4 * 4; }

/* Groups per table chunk: as many as the scratch area holds (one chunk for FC 256 -> 64),
   a multiple of 4 when at least 4, and at most 512 so that offsets fit uint16. */
static int32_t chunk_groups(int32_t k, int32_t c_out) {
  int32_t *acc;
  uint8_t *area;
  int32_t area_bytes;
  sbtf_core_scratch(NULL, k, c_out, &acc, &area, &area_bytes);
  const int32_t n = area_bytes / TABLE_BYTES;
  return n > 512 ? 512 : n >= 4 ? n / 4 * 4 : n;
}

/* Filters per lookup pass: their offsets are interleaved [c / 4][group][c % 4], so that one
   pointer with immediate offsets serves 4 filters x 4 groups per loop step. */
#define LANES 4
static int32_t lanes_padded(int32_t c_out) { return (c_out + LANES - 1) / LANES * LANES; }

/* Header, int32 base[c_out], uint16 offsets[C4 / 4][padded groups][4] (C4 = c_out rounded up
   to 4; the padding filters select entry 0, the empty sum). */
static int64_t prepared_bytes(int32_t k, int32_t c_out) {
  return (int64_t)sizeof(prepared_header) + 4 * (int64_t)c_out +
         2 * (int64_t)lanes_padded(c_out) * padded(groups_of(k));
}

static int sizes_ok(int32_t k, int32_t c_out) {
  return k >= 1 && c_out >= 1 && k <= SBTF_MAX_FILTER_SIZE && c_out <= SBTF_MAX_OUTPUT_CHANNELS;
}

int32_t sbtf_fully_connected_s8_prepared_size(int32_t input_channels, int32_t output_channels) {
  if (!sizes_ok(input_channels, output_channels)) return SBTF_ERROR_BAD_SHAPE;
  const int64_t n = prepared_bytes(input_channels, output_channels);
#if defined(SBTF_PATH_MVE)
  (void)n;
  return 0;
#else
  return n > INT32_MAX ? SBTF_ERROR_BAD_SHAPE : (int32_t)n;
#endif
}

static int32_t mask_bit(const uint8_t *row, int32_t i) { return (row[i / 8] >> (i % 8)) & 1; }

sbtf_status sbtf_fully_connected_s8_prepare(void *prepared, int32_t size,
                                            const sbtf_fc_params *params, int32_t input_channels,
                                            int32_t output_channels, const uint8_t *mask,
                                            const int8_t *sign, const int32_t *bias) {
  const int32_t need = sbtf_fully_connected_s8_prepared_size(input_channels, output_channels);
  if (need < 0) return (sbtf_status)need;
  if (params == NULL || mask == NULL || sign == NULL || (prepared == NULL && need > 0))
    return SBTF_ERROR_NULL_ARGUMENT;
  if (size < need) return SBTF_ERROR_BUFFER_SIZE;
  if (((uintptr_t)prepared & 3u) != 0) return SBTF_ERROR_BAD_PARAM;
  if (!sbtf_int8_args_ok(params->input_offset, params->output_offset, params->activation_min,
                         params->activation_max) ||
      !sbtf_mask_padding_ok(mask, input_channels, output_channels))
    return SBTF_ERROR_BAD_PARAM;
  for (int32_t c = 0; c < output_channels; ++c)
    if (sign[c] != 1 && sign[c] != -1) return SBTF_ERROR_BAD_PARAM;
  if (need == 0) return SBTF_OK;
  const int32_t k = input_channels, groups = groups_of(k), row_bytes = sbtf_mask_row_bytes(k);
  const int32_t gp = padded(groups), chunk = chunk_groups(k, output_channels);
  prepared_header *h = (prepared_header *)prepared;
  int32_t *base = (int32_t *)(h + 1);
  uint16_t *offsets = (uint16_t *)(base + output_channels);
  memset(offsets, 0, (size_t)(2 * lanes_padded(output_channels) * gp)); /* padding filters */
  for (int32_t c = 0; c < output_channels; ++c) {
    const uint8_t *row = mask + (size_t)c * row_bytes;
    uint16_t *o = offsets + (size_t)(c / LANES) * gp * LANES + c % LANES;
    int32_t popcount = 0;
    for (int32_t g = 0; g < groups; ++g) {
      int32_t index = 0;
      for (int32_t j = 0; j < GROUP && GROUP * g + j < k; ++j) /* none past K */
        index |= mask_bit(row, GROUP * g + j) << j;
      for (int32_t j = 0; j < GROUP; ++j) popcount += (index >> j) & 1;
      o[LANES * g] = (uint16_t)(TABLE_BYTES * (g % chunk) + 2 * index);
    }
    const int32_t b = bias ? bias[c] : 0;
    base[c] = (int32_t)((uint32_t)b +
                        (uint32_t)(127 * sign[c] * (params->input_offset - 128) * popcount));
  }
  *h = (prepared_header){MAGIC, k, output_channels, params->input_offset, gp, chunk};
  return SBTF_OK;
}

#if !defined(SBTF_PATH_MVE)
/* Two table words t[i], t[i + 1]: one STRD on the DSP path (GCC pairs few of these stores). */
#if defined(SBTF_PATH_DSP)
#define PUT2(t, i, a, b) \
  __asm__("strd %1, %2, [%0, #%c3]" : : "r"(t), "r"(a), "r"(b), "i"(4 * (i)) : "memory")
#else
#define PUT2(t, i, a, b) ((t)[i] = (a), (t)[(i) + 1] = (b))
#endif

/* One group's table from its inputs u = x + 128: word w holds entries 2w (low half) and
   2w + 1 (high half: plus u0); sums stay below 2^11, so halves never carry. */
static inline void table6(uint32_t *t, uint32_t u0, uint32_t u1, uint32_t u2, uint32_t u3,
                          uint32_t u4, uint32_t u5) {
  const uint32_t d1 = u1 * 0x10001u, d2 = u2 * 0x10001u, d3 = u3 * 0x10001u;
  const uint32_t d4 = u4 * 0x10001u, d5 = u5 * 0x10001u;
  const uint32_t w0 = u0 << 16, w1 = w0 + d1, w2 = w0 + d2, w3 = w1 + d2;
  const uint32_t w4 = w0 + d3, w5 = w1 + d3, w6 = w2 + d3, w7 = w3 + d3;
  /* Each word stored as soon as it is formed: few live registers (no spills on Cortex-M4). */
  PUT2(t, 0, w0, w1);
  PUT2(t, 2, w2, w3);
  PUT2(t, 4, w4, w5);
  PUT2(t, 6, w6, w7);
  PUT2(t, 16, w0 + d5, w1 + d5);
  PUT2(t, 18, w2 + d5, w3 + d5);
  PUT2(t, 20, w4 + d5, w5 + d5);
  PUT2(t, 22, w6 + d5, w7 + d5);
  const uint32_t x0 = w0 + d4, x1 = w1 + d4;
  PUT2(t, 8, x0, x1);
  PUT2(t, 24, x0 + d5, x1 + d5);
  const uint32_t x2 = w2 + d4, x3 = w3 + d4;
  PUT2(t, 10, x2, x3);
  PUT2(t, 26, x2 + d5, x3 + d5);
  const uint32_t x4 = w4 + d4, x5 = w5 + d4;
  PUT2(t, 12, x4, x5);
  PUT2(t, 28, x4 + d5, x5 + d5);
  const uint32_t x6 = w6 + d4, x7 = w7 + d4;
  PUT2(t, 14, x6, x7);
  PUT2(t, 30, x6 + d5, x7 + d5);
}
#undef PUT2

/* Tables of groups g0 .. g0 + n - 1 from one batch row x (K inputs; inputs past K count 0).
   This and lookups are out of line: inside the kernel GCC spills their registers. */
__attribute__((noinline)) static void build_tables(const int8_t *x, int32_t k, int32_t g0,
                                                   int32_t n, uint32_t *t) {
  const uint8_t *p = (const uint8_t *)x + GROUP * g0;
  int32_t g = g0;
  for (; g < g0 + n && GROUP * g + GROUP <= k; ++g, p += GROUP, t += TABLE_BYTES / 4)
    table6(t, p[0] ^ 0x80u, p[1] ^ 0x80u, p[2] ^ 0x80u, p[3] ^ 0x80u, p[4] ^ 0x80u, p[5] ^ 0x80u);
  for (; g < g0 + n; ++g, p += GROUP, t += TABLE_BYTES / 4) { /* the last inputs, padding */
    uint32_t u[GROUP];
    for (int32_t j = 0; j < GROUP; ++j) u[j] = GROUP * g + j < k ? p[j] ^ 0x80u : 0u;
    table6(t, u[0], u[1], u[2], u[3], u[4], u[5]);
  }
}

static inline uint32_t entry(const uint8_t *t, uint32_t offset) {
  return *(const uint16_t *)(const void *)(t + offset);
}

static inline void store(int32_t *acc, uint32_t s, int first) {
  *acc = first ? (int32_t)s : *acc + (int32_t)s;
}

/* acc[c] (+)= sum over groups g0 .. g0 + n - 1 of filter c's table entries: per group and
   filter one offset load, one table load and one add; 4 filters x 4 groups per loop step (one
   offset pointer, immediate offsets). n is a multiple of 4 except for the last chunk of a tiny
   scratch area (one group per step then). acc has room for C4 filters. */
__attribute__((noinline)) static void lookups(const uint16_t *offsets, int32_t groups,
                                              int32_t c_out, int32_t g0, int32_t n,
                                              const uint8_t *t, int32_t *acc, int first) {
  for (int32_t c = 0; c < c_out; c += LANES, acc += LANES) {
    const uint16_t *o = offsets + ((size_t)c * groups + (size_t)g0 * LANES);
    const uint16_t *const end = o + LANES * n;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    if (n % 4 == 0) {
      for (; o < end; o += 4 * LANES) {
        s0 += entry(t, o[0]) + entry(t, o[4]) + entry(t, o[8]) + entry(t, o[12]);
        s1 += entry(t, o[1]) + entry(t, o[5]) + entry(t, o[9]) + entry(t, o[13]);
        s2 += entry(t, o[2]) + entry(t, o[6]) + entry(t, o[10]) + entry(t, o[14]);
        s3 += entry(t, o[3]) + entry(t, o[7]) + entry(t, o[11]) + entry(t, o[15]);
      }
    } else {
      for (; o < end; o += LANES) {
        s0 += entry(t, o[0]);
        s1 += entry(t, o[1]);
        s2 += entry(t, o[2]);
        s3 += entry(t, o[3]);
      }
    }
    store(acc + 0, s0, first);
    store(acc + 1, s1, first);
    store(acc + 2, s2, first);
    store(acc + 3, s3, first);
  }
}
#endif

#if !defined(SBTF_PATH_MVE)
/* Every multiplier >= 0 and shift in -31..30 (returns 0 otherwise); *right: every shift <= -1.
   Bit 31 of bad: a multiplier < 0, or u = shift + 31 outside [0, 61] (u itself negative, or
   u + 2^31 - 62 carrying into bit 31). Out of line: in the kernel's body GCC spills the loop's
   pointers. */
__attribute__((noinline)) static int quant_ok(const int32_t *mult, const int32_t *shift,
                                              int32_t n, int *right) {
  uint32_t bad = 0, any_left = 0;
  for (int32_t c = 0; c < n; ++c) {
    const uint32_t u = (uint32_t)shift[c] + 31u;
    bad |= (uint32_t)mult[c] | u | (u + 0x7FFFFFC2u);
    any_left |= ~(uint32_t)shift[c]; /* bit 31 set when shift >= 0 */
  }
  *right = (any_left >> 31) == 0;
  return (bad >> 31) == 0;
}

/* One batch row's outputs: base + 127 * sign * acc, single rounding. RIGHT (every shift <= -1):
   the 64-bit form compiled out, one SMULL per output. */
static inline __attribute__((always_inline)) void finish_row(
    const int32_t *base, const int8_t *sign, const int32_t *acc, const int32_t *mult,
    const int32_t *shift, int32_t n, int32_t offset, int32_t lo, int32_t hi, int8_t *out,
    const int RIGHT) {
  for (int32_t c = 0; c < n; ++c) {
    const int32_t v = (int32_t)((uint32_t)base[c] + (uint32_t)(127 * sign[c] * acc[c]));
    const int32_t sh = shift[c];
    if (RIGHT && sh >= 0) __builtin_unreachable();
    out[c] = sbtf_requantize_single(v, mult[c], sh, offset, lo, hi);
  }
}

/* Out of line for the same reason. */
__attribute__((noinline)) static void finish(const int32_t *base, const int8_t *sign,
                                             const int32_t *acc, const sbtf_quant_params *q,
                                             const sbtf_fc_params *p, int32_t n, int right,
                                             int8_t *out) {
  const int32_t offset = p->output_offset, lo = p->activation_min, hi = p->activation_max;
  if (right)
    finish_row(base, sign, acc, q->multiplier, q->shift, n, offset, lo, hi, out, 1);
  else
    finish_row(base, sign, acc, q->multiplier, q->shift, n, offset, lo, hi, out, 0);
}
#endif

sbtf_status sbtf_fully_connected_s8_prepared(const sbtf_context *ctx, const void *prepared,
                                             const sbtf_fc_params *params,
                                             const sbtf_quant_params *quant, int32_t batches,
                                             int32_t input_channels, const int8_t *input,
                                             int32_t output_channels, const uint8_t *mask,
                                             const int8_t *sign, const int32_t *bias,
                                             int8_t *output) {
#if defined(SBTF_PATH_MVE)
  (void)prepared;
#else
  if (prepared != NULL) {
    const prepared_header *h = (const prepared_header *)prepared;
    if (ctx == NULL || params == NULL || quant == NULL || quant->multiplier == NULL ||
        quant->shift == NULL || input == NULL || sign == NULL || output == NULL)
      return SBTF_ERROR_NULL_ARGUMENT;
    if (batches < 1 || !sizes_ok(input_channels, output_channels) ||
        (int64_t)batches * input_channels > INT32_MAX ||
        (int64_t)batches * output_channels > INT32_MAX)
      return SBTF_ERROR_BAD_SHAPE;
    if (((uintptr_t)prepared & 3u) != 0 || h->magic != MAGIC || h->k != input_channels ||
        h->c_out != output_channels || h->input_offset != params->input_offset ||
        !sbtf_int8_args_ok(params->input_offset, params->output_offset, params->activation_min,
                           params->activation_max))
      return SBTF_ERROR_BAD_PARAM;
    const int32_t need = sbtf_fully_connected_s8_get_buffer_size(input_channels, output_channels);
    if (ctx->size < need) return SBTF_ERROR_BUFFER_SIZE;
    if (ctx->buf == NULL) return SBTF_ERROR_NULL_ARGUMENT;
    if (((uintptr_t)ctx->buf & 3u) != 0) return SBTF_ERROR_BAD_PARAM;
    const int32_t *mult = quant->multiplier, *shift = quant->shift;
    int right;
    if (!quant_ok(mult, shift, output_channels, &right)) return SBTF_ERROR_BAD_PARAM;
    const int32_t k = input_channels, groups = h->groups;
    const int32_t *base = (const int32_t *)(h + 1);
    const uint16_t *offsets = (const uint16_t *)(base + output_channels);
    int32_t *acc;
    uint8_t *area;
    int32_t area_bytes;
    sbtf_core_scratch(ctx->buf, k, output_channels, &acc, &area, &area_bytes);
    uint32_t *tables = (uint32_t *)(void *)area;
    const int32_t chunk = h->chunk; /* the offsets are relative to it */
    if (chunk < 1 || chunk * TABLE_BYTES > area_bytes || h->groups != padded(groups_of(k)))
      return SBTF_ERROR_BAD_PARAM;
    for (int32_t b = 0; b < batches; ++b) {
      const int8_t *x = input + (size_t)b * k;
      int8_t *out = output + (size_t)b * output_channels;
      for (int32_t g0 = 0; g0 < groups; g0 += chunk) {
        const int32_t n = groups - g0 < chunk ? groups - g0 : chunk;
        build_tables(x, k, g0, n, tables);
        lookups(offsets, groups, output_channels, g0, n, (const uint8_t *)tables, acc, g0 == 0);
      }
      finish(base, sign, acc, quant, params, output_channels, right, out);
    }
    (void)mask;
    (void)bias;
    return SBTF_OK;
  }
#endif
  return sbtf_fully_connected_s8(ctx, params, quant, batches, input_channels, input,
                                 output_channels, mask, sign, bias, output);
}
