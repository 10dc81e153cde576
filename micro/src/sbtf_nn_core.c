/*
 * sbtf_nn_core.c - the signed-binary matrix product shared by conv and fully connected
 * (algorithm: sbtf_nn_internal.h, docs/kernels.md): scratch layout, the walk over input runs and
 * table chunks, per-filter set-up and the driver, sbtf_core_run. The bodies that differ per
 * instruction set are in one file per path, included below (as LCE's kernels_*.h):
 *   sbtf_nn_core_helium.h   Cortex-M55 Helium (MVE); sbtf_nn_core_helium_short.h: K <= 32
 *   sbtf_nn_core_scalar.h   portable C and the Cortex-M DSP extension, whose only differences
 *                           are two primitives in sbtf_nn_core_portable.h / sbtf_nn_core_dsp.h
 * chosen by the target's macros (SBTF_PATH_*, sbtf_arith.h). Each part is split the same way:
 * what depends only on the inputs (tables, requantization, output rows) and what depends on
 * the weight format (mask checks and decoding, lookups).
 */
#include <string.h>

#include "sbtf_nn_internal.h"

/* Decoded offsets are laid out [c/4][g][c%4] so that one pass serves 4 filters (4 scalar
   accumulators, or one Helium gather); c_out is padded to a multiple of 4 with empty filters. */
#define FILTER_LANES 4

static inline int32_t round_up(int32_t v, int32_t m) { return (v + m - 1) / m * m; }
static inline int32_t align4(int32_t v) { return round_up(v, 4); }

/* Scratch layout, every part 4-byte aligned:
 *   int32 base[c_pad]   bias + 127*sign*(input_offset-128)*popcount
 *   int32 acc_a[c_pad], acc_b[c_pad]   sums S for pixels A, B
 *   uint32 tables[min(Gp, 64) * 16]    subset sums of the current chunk
 *   int8 rows[2][Kp]                   the two pixels' inputs where they must be copied
 *   uint8 offsets[c_pad * Gp]          per filter and group: 4*nibble + 64*(g % 4)
 * with G = ceil(K/4) groups, Gp = G rounded up to 4, Kp = 4*Gp, c_pad = c_out rounded up to
 * FILTER_LANES. */
typedef struct {
  int32_t groups_padded;
  int32_t chunk_groups;
  int32_t c_pad;
  int32_t *base;
  int32_t *acc_a;
  int32_t *acc_b;
  uint32_t *tables;
  int8_t *row_a;
  int8_t *row_b;
  uint8_t *offsets;
  int32_t shift_max; /* largest requantization shift, set by check_filters */
} layout;

/* Fills *l (pointers only when buf is not NULL) and returns the end of the last part. */
static int32_t make_layout(int32_t k, int32_t c_out, uint8_t *buf, layout *l) {
  const int32_t groups_padded = round_up((k + 3) / 4, 4);
  const int32_t chunk = groups_padded < SBTF_CHUNK_GROUPS ? groups_padded : SBTF_CHUNK_GROUPS;
  const int32_t c_pad = round_up(c_out, FILTER_LANES);
  const int32_t at_acc_a = 4 * c_pad, at_acc_b = at_acc_a + 4 * c_pad;
  const int32_t at_tables = at_acc_b + 4 * c_pad, at_row_a = at_tables + 64 * chunk;
  const int32_t at_row_b = at_row_a + 4 * groups_padded, at_offsets = at_row_b + 4 * groups_padded;
  l->groups_padded = groups_padded;
  l->chunk_groups = chunk;
  l->c_pad = c_pad;
  if (buf != NULL) {
    l->base = (int32_t *)(void *)buf;
    l->acc_a = (int32_t *)(void *)(buf + at_acc_a);
    l->acc_b = (int32_t *)(void *)(buf + at_acc_b);
    l->tables = (uint32_t *)(void *)(buf + at_tables);
    l->row_a = (int8_t *)(buf + at_row_a);
    l->row_b = (int8_t *)(buf + at_row_b);
    l->offsets = buf + at_offsets;
  }
  return at_offsets + align4(c_pad * groups_padded);
}

int32_t sbtf_core_buffer_size(int32_t k, int32_t c_out) {
  /* SBTF_SCRATCH_BYTES(k, c_out), each term once */
  const int32_t tables = SBTF_SCRATCH_TABLES_(k, c_out), helium = SBTF_SCRATCH_HELIUM_(k, c_out);
  return tables > helium ? tables : helium;
}

void sbtf_core_scratch(void *buf, int32_t k, int32_t c_out, int32_t **acc, uint8_t **area,
                       int32_t *area_bytes) {
  layout l;
  const int32_t end = make_layout(k, c_out, (uint8_t *)buf, &l);
  if (buf != NULL) {
    *acc = l.acc_a;
    *area = (uint8_t *)l.tables;
  }
  *area_bytes = end - 12 * l.c_pad; /* tables, rows and offsets: everything after acc_b */
}

/* The scratch size from the layouts: the table layout's end, or on Helium conv_pixels' room if
   larger; must equal SBTF_SCRATCH_BYTES(k, c_out) (checked by micro/tests/test_kernels.c). */
int32_t sbtf_core_layout_bytes(int32_t k, int32_t c_out) {
  layout l;
  const int32_t end = make_layout(k, c_out, NULL, &l), helium = SBTF_SCRATCH_HELIUM_(k, c_out);
  return end > helium ? end : helium;
}

static inline uint32_t load_u32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ==== what depends only on the inputs ==== */

/* Single rounding, one filter at a time on the 64-bit product (the scalar paths, and Helium's
   fallback for positive shifts). */
static void finish_row_single(const sbtf_core_args *a, const int32_t *base, const int32_t *acc,
                              int8_t *out) {
  const int8_t *sign = a->sign;
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  for (int32_t c = 0; c < a->c_out; ++c) {
    const int32_t v = (int32_t)((uint32_t)base[c] + (uint32_t)(127 * sign[c] * acc[c]));
    out[c] = sbtf_requantize_single(v, mult[c], shift[c], a->output_offset, a->act_min,
                                    a->act_max);
  }
}

static inline void store_sums(int32_t *acc_a, int32_t *acc_b, uint32_t packed, int first) {
  if (first) {
    *acc_a = (int32_t)(packed & 0xFFFFu);
    *acc_b = (int32_t)(packed >> 16);
  } else {
    *acc_a += (int32_t)(packed & 0xFFFFu);
    *acc_b += (int32_t)(packed >> 16);
  }
}

static inline uint32_t table_entry(const uint8_t *t, uint32_t offset) {
  return *(const uint32_t *)(const void *)(t + offset);
}

static inline uint32_t load_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

static inline int8_t clamp_out(int32_t v, int32_t lo, int32_t hi) {
  v = v > lo ? v : lo; /* max/min form: conditional moves, no branches */
  v = v < hi ? v : hi;
  return (int8_t)v;
}

/* Entry 0 of every table (the empty subset) is 0; the builders never write it. */
static void clear_tables(const layout *l) {
  for (int32_t g = 0; g < l->chunk_groups; ++g) l->tables[16 * g] = 0;
}

/* ==== what depends on the weight format ==== */

int sbtf_mask_padding_ok(const uint8_t *mask, int32_t k, int32_t c_out) {
  const int32_t row_bytes = sbtf_mask_row_bytes(k);
  if (k % 16 == 0) return 1;
  for (int32_t c = 0; c < c_out; ++c) {
    const uint8_t *row = mask + (size_t)c * row_bytes;
    for (int32_t byte = k / 8; byte < row_bytes; ++byte) {
      const uint32_t allowed = byte == k / 8 ? (1u << (k % 8)) - 1u : 0u;
      if (row[byte] & ~allowed) return 0;
    }
  }
  return 1;
}

/* Defined below, after the instruction-set file (the scalar single-pixel path runs it). */
static void run_chunks(const sbtf_core_args *a, const layout *l, const int8_t *const *seg_a,
                       const int8_t *const *seg_b, int direct);

#if defined(SBTF_PATH_MVE)
#include "sbtf_nn_core_helium.h"
#include "sbtf_nn_core_helium_short.h"
#else
#if defined(SBTF_PATH_DSP)
#include "sbtf_nn_core_dsp.h"
#else
#include "sbtf_nn_core_portable.h"
#endif
#include "sbtf_nn_core_scalar.h"
#endif

/* ==== common to every path ==== */

/* Tables for groups g0 .. g0 + groups - 1, walking the pixels' input runs. */
static void build_tables(const int8_t *const *seg_a, const int8_t *const *seg_b,
                         int32_t segment_groups, int32_t g0, int32_t groups, uint32_t *t) {
  int32_t s = g0 / segment_groups, j = g0 - s * segment_groups;
  while (groups > 0) {
    const int32_t n = segment_groups - j < groups ? segment_groups - j : groups;
    build_run(seg_a[s] + 4 * j, seg_b[s] + 4 * j, n, t);
    t += 16 * n;
    groups -= n;
    ++s;
    j = 0;
  }
}

/* One output pixel: no per-call decoding; the mask nibbles index the tables directly, two
   filters per pass (more spill registers on Cortex-M) so each group's table base is shared. */
static void lookup_chunk_direct(const sbtf_core_args *a, const layout *l, int32_t g0,
                                int32_t groups, int first) {
  const int32_t row_bytes = sbtf_mask_row_bytes(a->k);
  int32_t c = 0;
#define SBTF_GROUP(j)                         \
  do {                                        \
    const uint32_t *tj = t + 16 * (j);        \
    s0 += tj[(w0 >> (4 * (j))) & 0xFu];       \
    s1 += tj[(w1 >> (4 * (j))) & 0xFu];       \
  } while (0)
  for (; c + 2 <= a->c_out; c += 2) {
    const uint8_t *m = a->mask + (size_t)c * row_bytes + g0 / 2;
    const uint32_t *t = l->tables;
    uint32_t s0 = 0, s1 = 0;
    int32_t g = 0;
    for (; g + 8 <= groups; g += 8, m += 4, t += 128) {
      const uint32_t w0 = load_u32(m), w1 = load_u32(m + row_bytes);
      SBTF_GROUP(0);
      SBTF_GROUP(1);
      SBTF_GROUP(2);
      SBTF_GROUP(3);
      SBTF_GROUP(4);
      SBTF_GROUP(5);
      SBTF_GROUP(6);
      SBTF_GROUP(7);
    }
    if (g < groups) { /* groups is a multiple of 4 */
      const uint32_t w0 = load_u16(m), w1 = load_u16(m + row_bytes);
      SBTF_GROUP(0);
      SBTF_GROUP(1);
      SBTF_GROUP(2);
      SBTF_GROUP(3);
    }
    store_sums(l->acc_a + c, l->acc_b + c, s0, first);
    store_sums(l->acc_a + c + 1, l->acc_b + c + 1, s1, first);
  }
#undef SBTF_GROUP
  for (; c < a->c_out; ++c) {
    const uint8_t *m = a->mask + (size_t)c * row_bytes + g0 / 2;
    const uint32_t *t = l->tables;
    uint32_t s = 0;
    for (int32_t g = 0; g < groups; g += 2, ++m, t += 32) {
      const uint32_t byte = *m;
      s += t[byte & 0xFu] + t[16 + (byte >> 4)];
    }
    store_sums(l->acc_a + c, l->acc_b + c, s, first);
  }
}

/* Folds the popcount into base[] and decodes the mask nibbles into table offsets (filters
   already checked). */
static void decode_filters(const sbtf_core_args *a, const layout *l) {
  const int32_t row_bytes = sbtf_mask_row_bytes(a->k);
  const int32_t gp = l->groups_padded;
  for (int32_t c = 0; c < l->c_pad; ++c) {
    uint8_t *o = l->offsets + ((size_t)(c / 4) * gp) * 4 + (c % 4);
    if (c >= a->c_out) { /* lane padding: an empty filter, never stored */
      l->base[c] = 0;
      for (int32_t g = 0; g < gp; ++g) o[4 * g] = (uint8_t)(64 * (g % 4));
      continue;
    }
    const int32_t popcount = decode_row(a->mask + (size_t)c * row_bytes, row_bytes, o);
    const int32_t bias = a->bias ? a->bias[c] : 0;
    l->base[c] = (int32_t)((uint32_t)bias +
                           (uint32_t)(127 * a->sign[c] * (a->input_offset - 128) * popcount));
  }
}

static void run_chunks(const sbtf_core_args *a, const layout *l, const int8_t *const *seg_a,
                       const int8_t *const *seg_b, int direct) {
  for (int32_t g0 = 0; g0 < l->groups_padded; g0 += l->chunk_groups) {
    const int32_t rest = l->groups_padded - g0;
    const int32_t groups = rest < l->chunk_groups ? rest : l->chunk_groups;
    build_tables(seg_a, seg_b, a->segment_groups, g0, groups, l->tables);
    if (direct)
      lookup_chunk_direct(a, l, g0, groups, g0 == 0);
    else
      lookup_chunk(l, g0, groups, g0 == 0);
  }
}

sbtf_status sbtf_core_run(const sbtf_context *ctx, const sbtf_core_args *a) {
  const int32_t need = sbtf_core_buffer_size(a->k, a->c_out);
  if (ctx->size < need) return SBTF_ERROR_BUFFER_SIZE;
  if (ctx->buf == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (((uintptr_t)ctx->buf & 3u) != 0) return SBTF_ERROR_BAD_PARAM; /* documented: 4-aligned */
  layout l;
  make_layout(a->k, a->c_out, (uint8_t *)ctx->buf, &l);
  const int32_t c_out = a->c_out;

  if (a->pixels == 1) {
    /* Decoding the masks would cost more than it saves: sums straight from the masks. */
    const sbtf_status status = check_filters(a, &l);
    if (status != SBTF_OK) return status;
    if (single_pixel_uses_tables) clear_tables(&l);
    const int8_t *seg[SBTF_MAX_SEGMENTS];
    a->fill_row(a->row_self, 0, l.row_a, seg);
    single_pixel_sums(a, &l, seg);
    finish_row(a, &l, l.acc_a, a->output);
    return SBTF_OK;
  }

  const sbtf_status status = check_filters(a, &l);
  if (status != SBTF_OK) return status;
  if (conv_pixels(a, ctx->buf, need, l.shift_max)) return SBTF_OK; /* Helium, when it suits */
  if (short_filter_pixels(a, &l)) return SBTF_OK;                  /* Helium, K <= 32 */
  decode_filters(a, &l);
  clear_tables(&l);
  for (int32_t p = 0; p < a->pixels; p += 2) {
    const int two = p + 1 < a->pixels;
    const int8_t *seg_a[SBTF_MAX_SEGMENTS], *seg_b[SBTF_MAX_SEGMENTS];
    a->fill_row(a->row_self, p, l.row_a, seg_a);
    if (two) a->fill_row(a->row_self, p + 1, l.row_b, seg_b);
    run_chunks(a, &l, seg_a, two ? seg_b : seg_a, 0);
    int8_t *out_a = a->output + (size_t)p * c_out;
    if (two)
      finish_pair(a, &l, l.acc_a, l.acc_b, out_a, out_a + c_out);
    else
      finish_row(a, &l, l.acc_a, out_a);
  }
  return SBTF_OK;
}

const char *sbtf_kernel_path(void) { return SBTF_PATH_NAME; }
