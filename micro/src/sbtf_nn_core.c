/*
 * sbtf_nn_core.c - the signed-binary matrix product shared by conv and fully connected:
 * per-filter set-up, subset-sum tables, table lookups and requantization.
 * Three implementations of the two hot helpers (build_tables, lookup_chunk) are chosen at
 * compile time (sbtf_nn_internal.h); everything else is common.
 */
#include <string.h>

#include "sbtf_nn_internal.h"

#if defined(SBTF_PATH_DSP)
#include <arm_acle.h>
#elif defined(SBTF_PATH_MVE)
#include <arm_mve.h>
#endif

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

/* Fills *l (pointers only when buf is not NULL) and returns the end of the last part, which
   must equal SBTF_SCRATCH_BYTES(k, c_out) (checked by micro/tests/test_kernels.c). */
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

int32_t sbtf_core_buffer_size(int32_t k, int32_t c_out) { return SBTF_SCRATCH_BYTES(k, c_out); }

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

int32_t sbtf_core_layout_bytes(int32_t k, int32_t c_out) {
  layout l;
  return make_layout(k, c_out, NULL, &l);
}

static inline uint32_t load_u32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ---- requantization: TFLite's MultiplyByQuantizedMultiplier (double rounding) ---- */

static inline int32_t requantize(int32_t acc, int32_t multiplier, int32_t shift) {
  int32_t left = shift > 0 ? shift : 0;
  const int32_t right = left - shift;
#if defined(__GNUC__)
  /* Keep GCC from duplicating the multiply for the two signs of shift (it spills then). */
  __asm__("" : "+r"(left));
#endif
  /* TFLite computes acc * (1 << left) in int32; wrap the same way without signed overflow. */
  const int32_t x = (int32_t)((uint32_t)acc << left);
  /* SaturatingRoundingDoublingHighMul. TFLite's sign-dependent nudge with a truncating
     division equals floor((ab + 2^30) / 2^31) for every ab (one SMLAL), and multiplier >= 0
     rules out its saturating case. */
  const int32_t high = (int32_t)(((int64_t)x * multiplier + (1 << 30)) >> 31);
  /* RoundingDivideByPOT (round half away from zero). */
  const int32_t mask = (int32_t)((1u << right) - 1u);
  const int32_t remainder = high & mask;
  const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)high >> 31);
  return (high >> right) + (remainder > threshold);
}

/* Single rounding, one filter at a time on the 64-bit product. */
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

/* ---- subset-sum tables: T_g[n] = sum of inputs 4g+j with bit j of n set, A low / B high ---- */

#if defined(SBTF_PATH_DSP)
/* GCC neither folds a rotate into UXTB16 nor emits PKH from C; CMSIS does the same with asm. */
static inline uint32_t uxtb16_ror8(uint32_t w) {
  uint32_t r;
  __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
  return r;
}
static inline uint32_t pkhbt16(uint32_t lo, uint32_t hi) { /* lo[15:0] | hi[15:0] << 16 */
  uint32_t r;
  __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
  return r;
}
static inline uint32_t pkhtb16(uint32_t lo, uint32_t hi) { /* lo[31:16] | hi[31:16] << 16 */
  uint32_t r;
  __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
  return r;
}

/* Byte lanes of two pixels' words paired into 16-bit halves: 4 UXTB16 + 4 PKH. */
static inline void pair_lanes(uint32_t wa, uint32_t wb, uint32_t p[4]) {
  const uint32_t xa = __uxtb16(wa), xb = __uxtb16(wb);         /* bytes [0, 2] */
  const uint32_t ya = uxtb16_ror8(wa), yb = uxtb16_ror8(wb); /* bytes [1, 3] */
  p[0] = pkhbt16(xa, xb);
  p[1] = pkhbt16(ya, yb);
  p[2] = pkhtb16(xa, xb);
  p[3] = pkhtb16(ya, yb);
}
#elif !defined(SBTF_PATH_MVE)
static inline void pair_lanes(uint32_t wa, uint32_t wb, uint32_t p[4]) {
  p[0] = (wa & 0xFFu) | ((wb & 0xFFu) << 16);
  p[1] = ((wa >> 8) & 0xFFu) | ((wb << 8) & 0xFF0000u);
  p[2] = ((wa >> 16) & 0xFFu) | (wb & 0xFF0000u);
  p[3] = (wa >> 24) | ((wb >> 8) & 0xFF0000u);
}
#endif

#if defined(SBTF_PATH_MVE)
/* Four groups per step, one group per lane: widening byte gathers pick input j of each group
   for both pixels (VSLI packs B into the high halves), 11 vector adds form the subset sums and
   15 scatters store entry n of the four tables. Entry 0 stays 0 (set once per call). */
/* Inputs j of 4 groups for both pixels, offset-binary (x ^ 0x80) in the two halves. */
static inline uint32x4_t paired_inputs(const int8_t *a, const int8_t *b, uint32x4_t in_off) {
  const uint32x4_t p = vsliq_n_u32(vldrbq_gather_offset_u32((const uint8_t *)a, in_off),
                                   vldrbq_gather_offset_u32((const uint8_t *)b, in_off), 16);
  return veorq_u32(p, vdupq_n_u32(0x00800080u));
}

static void build_run(const int8_t *row_a, const int8_t *row_b, int32_t groups, uint32_t *t) {
  const uint32x4_t in_off = vidupq_n_u32(0, 4); /* 0, 4, 8, 12: group g's first input */
  /* Addresses of the 4 groups' tables (64 bytes apart); entry n is at immediate offset 4n. */
  uint32x4_t tab = vaddq_n_u32(vshlq_n_u32(in_off, 4), (uint32_t)(uintptr_t)t);
  for (int32_t g = 0; g < groups; g += 4, row_a += 16, row_b += 16) {
    /* Each entry n is stored with n + 8 (adding input 3) right away, so that few vectors are
       live at once (8 Q registers). */
    const uint32x4_t p3 = paired_inputs(row_a + 3, row_b + 3, in_off);
    const uint32x4_t p0 = paired_inputs(row_a, row_b, in_off);
    vstrwq_scatter_base_u32(tab, 4, p0);
    vstrwq_scatter_base_u32(tab, 36, vaddq_u32(p3, p0));
    const uint32x4_t p1 = paired_inputs(row_a + 1, row_b + 1, in_off);
    vstrwq_scatter_base_u32(tab, 8, p1);
    vstrwq_scatter_base_u32(tab, 40, vaddq_u32(p3, p1));
    const uint32x4_t s01 = vaddq_u32(p0, p1);
    vstrwq_scatter_base_u32(tab, 12, s01);
    vstrwq_scatter_base_u32(tab, 44, vaddq_u32(p3, s01));
    const uint32x4_t p2 = paired_inputs(row_a + 2, row_b + 2, in_off);
    vstrwq_scatter_base_u32(tab, 16, p2);
    vstrwq_scatter_base_u32(tab, 48, vaddq_u32(p3, p2));
    const uint32x4_t s02 = vaddq_u32(p2, p0);
    vstrwq_scatter_base_u32(tab, 20, s02);
    vstrwq_scatter_base_u32(tab, 52, vaddq_u32(p3, s02));
    const uint32x4_t s12 = vaddq_u32(p2, p1);
    vstrwq_scatter_base_u32(tab, 24, s12);
    vstrwq_scatter_base_u32(tab, 56, vaddq_u32(p3, s12));
    const uint32x4_t s012 = vaddq_u32(p2, s01);
    vstrwq_scatter_base_u32(tab, 28, s012);
    vstrwq_scatter_base_u32(tab, 60, vaddq_u32(p3, s012));
    vstrwq_scatter_base_u32(tab, 32, p3);
    tab = vaddq_n_u32(tab, 256);
  }
}
#else
/* Entry 0 of every table is 0 and never written here (set once per call). Inputs are flipped
   to offset binary (x ^ 0x80) on the way in; sums of 4 bytes stay below 2^10, so plain 32-bit
   adds never carry between the halves. */
static void build_run(const int8_t *row_a, const int8_t *row_b, int32_t groups, uint32_t *t) {
  for (int32_t g = 0; g < groups; ++g, row_a += 4, row_b += 4, t += 16) {
    uint32_t p[4];
    pair_lanes(load_u32(row_a) ^ 0x80808080u, load_u32(row_b) ^ 0x80808080u, p);
    const uint32_t s01 = p[0] + p[1];
    const uint32_t s02 = p[2] + p[0], s12 = p[2] + p[1], s012 = p[2] + s01;
    t[1] = p[0];
    t[2] = p[1];
    t[3] = s01;
    t[4] = p[2];
    t[5] = s02;
    t[6] = s12;
    t[7] = s012;
    t[8] = p[3];
    t[9] = p[3] + p[0];
    t[10] = p[3] + p[1];
    t[11] = p[3] + s01;
    t[12] = p[3] + p[2];
    t[13] = p[3] + s02;
    t[14] = p[3] + s12;
    t[15] = p[3] + s012;
  }
}
#endif

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

/* ---- lookups: per filter, one table load + add per group of 4 inputs (both pixels) ---- */

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

#if defined(SBTF_PATH_MVE)
/* One widening byte load gives 4 filters' offsets for a group, one gather their 4 entries. */
static void lookup_chunk(const layout *l, int32_t g0, int32_t groups, int first) {
  const int32_t gp = l->groups_padded;
  for (int32_t cq = 0; cq < l->c_pad / 4; ++cq) {
    const uint8_t *o = l->offsets + ((size_t)cq * gp + g0) * 4;
    const uint32_t *t = l->tables;
    uint32x4_t s0 = vdupq_n_u32(0), s1 = vdupq_n_u32(0);
    for (int32_t b = 0; b < groups; b += 4, o += 16, t += 64) {
      s0 = vaddq_u32(s0, vldrwq_gather_offset_u32(t, vldrbq_u32(o)));
      s1 = vaddq_u32(s1, vldrwq_gather_offset_u32(t, vldrbq_u32(o + 4)));
      s0 = vaddq_u32(s0, vldrwq_gather_offset_u32(t, vldrbq_u32(o + 8)));
      s1 = vaddq_u32(s1, vldrwq_gather_offset_u32(t, vldrbq_u32(o + 12)));
    }
    const uint32x4_t s = vaddq_u32(s0, s1);
    int32x4_t lo = vreinterpretq_s32_u32(vandq_u32(s, vdupq_n_u32(0xFFFFu)));
    int32x4_t hi = vreinterpretq_s32_u32(vshrq_n_u32(s, 16));
    int32_t *acc_a = l->acc_a + 4 * cq, *acc_b = l->acc_b + 4 * cq;
    if (!first) {
      lo = vaddq_s32(lo, vld1q_s32(acc_a));
      hi = vaddq_s32(hi, vld1q_s32(acc_b));
    }
    vst1q_s32(acc_a, lo);
    vst1q_s32(acc_b, hi);
  }
}
#else
/* Four filters per pass: 16 byte loads + 16 table loads + 16 adds per 4 groups. */
static void lookup_chunk(const layout *l, int32_t g0, int32_t groups, int first) {
  const int32_t gp = l->groups_padded;
  for (int32_t cq = 0; cq < l->c_pad / 4; ++cq) {
    const uint8_t *o = l->offsets + ((size_t)cq * gp + g0) * 4;
    const uint8_t *const end = o + 4 * groups;
    const uint8_t *t = (const uint8_t *)l->tables;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    /* Tables of 4 consecutive groups span 256 bytes; the offsets address within them. */
    for (; o < end; o += 16, t += 256) {
      s0 += table_entry(t, o[0]) + table_entry(t, o[4]) + table_entry(t, o[8]) +
            table_entry(t, o[12]);
      s1 += table_entry(t, o[1]) + table_entry(t, o[5]) + table_entry(t, o[9]) +
            table_entry(t, o[13]);
      s2 += table_entry(t, o[2]) + table_entry(t, o[6]) + table_entry(t, o[10]) +
            table_entry(t, o[14]);
      s3 += table_entry(t, o[3]) + table_entry(t, o[7]) + table_entry(t, o[11]) +
            table_entry(t, o[15]);
    }
    int32_t *acc_a = l->acc_a + 4 * cq, *acc_b = l->acc_b + 4 * cq;
    store_sums(acc_a + 0, acc_b + 0, s0, first);
    store_sums(acc_a + 1, acc_b + 1, s1, first);
    store_sums(acc_a + 2, acc_b + 2, s2, first);
    store_sums(acc_a + 3, acc_b + 3, s3, first);
  }
}
#endif

static inline uint32_t load_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }

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

/* ---- per-call set-up ---- */


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

/* Every filter's sign (+-1), multiplier (>= 0), shift (-31..30) and mask padding. */
#if defined(SBTF_PATH_MVE)
static sbtf_status check_filters(const sbtf_core_args *a, layout *l) {
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  for (int32_t c = 0; c < a->c_out; c += 16) {
    const mve_pred16_t p = vctp8q((uint32_t)(a->c_out - c));
    if (vcmpneq_m_n_s8(vabsq_s8(vldrbq_z_s8(a->sign + c, p)), 1, p)) return SBTF_ERROR_BAD_PARAM;
  }
  /* Lanes past c_out load as 0, a valid multiplier and shift: no predicate on the checks. */
  int32x4_t mult_min = vdupq_n_s32(0), shift_min = vdupq_n_s32(0);
  int32x4_t shift_max = vdupq_n_s32(INT32_MIN);
  for (int32_t c = 0; c < a->c_out; c += 4) {
    const mve_pred16_t p = vctp32q((uint32_t)(a->c_out - c));
    const int32x4_t sh = vldrwq_z_s32(shift + c, p);
    mult_min = vminq_s32(mult_min, vldrwq_z_s32(mult + c, p));
    shift_min = vminq_s32(shift_min, sh);
    shift_max = vmaxq_m_s32(shift_max, shift_max, sh, p);
  }
  l->shift_max = vmaxvq_s32(INT32_MIN, shift_max);
  if (vminvq_s32(0, mult_min) < 0 || vminvq_s32(0, shift_min) < -31 || l->shift_max > 30)
    return SBTF_ERROR_BAD_PARAM;
  return sbtf_mask_padding_ok(a->mask, a->k, a->c_out) ? SBTF_OK : SBTF_ERROR_BAD_PARAM;
}
#else
static sbtf_status check_filters(const sbtf_core_args *a, layout *l) {
  l->shift_max = INT32_MIN;
  for (int32_t c = 0; c < a->c_out; ++c) {
    const int32_t shift = a->quant->shift[c];
    if (a->sign[c] != 1 && a->sign[c] != -1) return SBTF_ERROR_BAD_PARAM;
    if (a->quant->multiplier[c] < 0 || shift < -31 || shift > 30) return SBTF_ERROR_BAD_PARAM;
    if (shift > l->shift_max) l->shift_max = shift;
  }
  return sbtf_mask_padding_ok(a->mask, a->k, a->c_out) ? SBTF_OK : SBTF_ERROR_BAD_PARAM;
}
#endif

/* Decodes one mask row (n bytes) into table offsets o[8b] (group 2b, low nibble) and o[8b + 4]
   (group 2b + 1); within a block of 4 groups the tables start at 128 * (b % 2) and
   128 * (b % 2) + 64. Returns the row's popcount. */
#if defined(SBTF_PATH_MVE)
static int32_t decode_row(const uint8_t *row, int32_t n, uint8_t *o) {
  /* 16 mask bytes per step; offsets are byte-scattered 8 apart. Sums stay below 256. */
  const uint8x16_t lanes = vidupq_n_u8(0, 1);
  const uint8x16_t scatter = vmulq_n_u8(lanes, 8);
  const uint8x16_t block = vshlq_n_u8(vandq_u8(lanes, vdupq_n_u8(1)), 7);
  const uint8x16_t block_hi = vaddq_n_u8(block, 64);
  uint32_t popcount = 0;
  for (int32_t b = 0; b < n; b += 16, o += 128) {
    const mve_pred16_t p = vctp8q((uint32_t)(n - b));
    const uint8x16_t m = vldrbq_z_u8(row + b, p); /* inactive lanes 0: no bits counted */
    const uint8x16_t lo = vaddq_u8(vshlq_n_u8(vandq_u8(m, vdupq_n_u8(15)), 2), block);
    const uint8x16_t hi = vaddq_u8(vshlq_n_u8(vshrq_n_u8(m, 4), 2), block_hi);
    vstrbq_scatter_offset_p_u8(o, scatter, lo, p);
    vstrbq_scatter_offset_p_u8(o + 4, scatter, hi, p);
    /* SWAR popcount per byte (MVE has no VCNT). */
    uint8x16_t v = vsubq_u8(m, vandq_u8(vshrq_n_u8(m, 1), vdupq_n_u8(0x55)));
    v = vaddq_u8(vandq_u8(v, vdupq_n_u8(0x33)), vandq_u8(vshrq_n_u8(v, 2), vdupq_n_u8(0x33)));
    popcount = vaddvaq_u8(popcount, vandq_u8(vaddq_u8(v, vshrq_n_u8(v, 4)), vdupq_n_u8(0x0F)));
  }
  return (int32_t)popcount;
}
#else
#define B2(n) n, n + 1, n + 1, n + 2
#define B4(n) B2(n), B2(n + 1), B2(n + 1), B2(n + 2)
#define B6(n) B4(n), B4(n + 1), B4(n + 1), B4(n + 2)
static const uint8_t popcount8[256] = {B6(0), B6(1), B6(1), B6(2)};

static int32_t decode_row(const uint8_t *row, int32_t n, uint8_t *o) {
  int32_t popcount = 0;
  for (int32_t b = 0; b < n; ++b, o += 8) {
    const uint32_t m = row[b], block = 128u * (uint32_t)(b & 1);
    popcount += popcount8[m];
    o[0] = (uint8_t)(4u * (m & 0xFu) + block);
    o[4] = (uint8_t)(4u * (m >> 4) + block + 64u);
  }
  return popcount;
}
#endif

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

/* Entry 0 of every table (the empty subset) is 0; the builders never write it. */
static void clear_tables(const layout *l) {
  for (int32_t g = 0; g < l->chunk_groups; ++g) l->tables[16 * g] = 0;
}

#if defined(SBTF_PATH_MVE)
/* Single rounding four filters at a time. For shift <= -1, with P = v * m and t = 31 - shift,
   (P + 2^(t-1)) >> t = (floor(P / 2^31) + 2^(t-32)) >> (t-31) (2^(t-1) is a multiple of 2^31):
   VQDMULH gives floor(P / 2^31) (m >= 0 rules out its saturation) and VRSHL by shift the
   rounding right shift. A row with any shift >= 0 (rare) takes the 64-bit scalar form. */
static void finish_row_single_mve(const sbtf_core_args *a, const layout *l, const int32_t *acc,
                                  int8_t *out) {
  const int32_t *base = l->base;
  const int8_t *sign = a->sign;
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  const int32_t c_out = a->c_out, offset = a->output_offset;
  if (l->shift_max >= 0) {
    finish_row_single(a, base, acc, out);
    return;
  }
  const int32x4_t lo = vdupq_n_s32(a->act_min), hi = vdupq_n_s32(a->act_max);
  for (int32_t c = 0; c < c_out; c += 4) {
    const mve_pred16_t p = vctp32q((uint32_t)(c_out - c));
    const int32x4_t sign127 = vmulq_n_s32(vldrbq_z_s32(sign + c, p), 127);
    int32x4_t v = vaddq_s32(vld1q_s32(base + c), vmulq_s32(sign127, vld1q_s32(acc + c)));
    v = vqdmulhq_s32(v, vldrwq_z_s32(mult + c, p));
    v = vaddq_n_s32(vrshlq_s32(v, vldrwq_z_s32(shift + c, p)), offset);
    vstrbq_p_s32(out + c, vminq_s32(vmaxq_s32(v, lo), hi), p);
  }
}

/* TFLite's double rounding on 4 lanes, shift <= 0 (right = shift). */
static inline int32x4_t requantize_right(int32x4_t v, int32x4_t m, int32x4_t right) {
  v = vqrdmulhq_s32(v, m);
  return vrshlq_s32(vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, right), 31)), right);
}

/* Double rounding for one or two pixels' accumulators (out_b NULL: one); each step's parameters
   are loaded once (into locals: stores to int8 outputs may alias anything). Rows without a
   positive shift (the usual case) skip the left shift. */
static void finish_rows(const sbtf_core_args *a, const layout *l, const int32_t *acc_a,
                        const int32_t *acc_b, int8_t *out_a, int8_t *out_b) {
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift, *base = l->base;
  const int8_t *sign = a->sign;
  const int32_t c_out = a->c_out, offset = a->output_offset;
  const int32x4_t lo = vdupq_n_s32(a->act_min), hi = vdupq_n_s32(a->act_max);
  const int any_left = l->shift_max > 0;
  for (int32_t c = 0; c < c_out; c += 4) {
    const mve_pred16_t p = vctp32q((uint32_t)(c_out - c));
    const int32x4_t sign127 = vmulq_n_s32(vldrbq_z_s32(sign + c, p), 127);
    const int32x4_t b = vld1q_s32(base + c), m = vldrwq_z_s32(mult + c, p);
    int32x4_t right = vldrwq_z_s32(shift + c, p);
    int32x4_t va = vaddq_s32(b, vmulq_s32(sign127, vld1q_s32(acc_a + c)));
    int32x4_t vb = vaddq_s32(b, vmulq_s32(sign127, vld1q_s32(acc_b + c)));
    if (any_left) {
      const int32x4_t left = vmaxq_s32(right, vdupq_n_s32(0));
      right = vminq_s32(right, vdupq_n_s32(0));
      va = vshlq_s32(va, left);
      vb = vshlq_s32(vb, left);
    }
    va = vaddq_n_s32(requantize_right(va, m, right), offset);
    vstrbq_p_s32(out_a + c, vminq_s32(vmaxq_s32(va, lo), hi), p);
    if (out_b != NULL) {
      vb = vaddq_n_s32(requantize_right(vb, m, right), offset);
      vstrbq_p_s32(out_b + c, vminq_s32(vmaxq_s32(vb, lo), hi), p);
    }
  }
}

static void finish_row(const sbtf_core_args *a, const layout *l, const int32_t *acc,
                       int8_t *out) {
  if (a->single_rounding)
    finish_row_single_mve(a, l, acc, out);
  else
    finish_rows(a, l, acc, acc, out, NULL);
}

static void finish_pair(const sbtf_core_args *a, const layout *l, const int32_t *acc_a,
                        const int32_t *acc_b, int8_t *out_a, int8_t *out_b) {
  if (a->single_rounding) {
    finish_row_single_mve(a, l, acc_a, out_a);
    finish_row_single_mve(a, l, acc_b, out_b);
  } else {
    finish_rows(a, l, acc_a, acc_b, out_a, out_b);
  }
}
#else
static inline int8_t clamp_out(int32_t v, int32_t lo, int32_t hi) {
  v = v > lo ? v : lo; /* max/min form: conditional moves, no branches */
  v = v < hi ? v : hi;
  return (int8_t)v;
}

static void finish_row(const sbtf_core_args *a, const layout *l, const int32_t *acc,
                       int8_t *out) {
  const int32_t *base = l->base;
  if (a->single_rounding) {
    finish_row_single(a, base, acc, out);
    return;
  }
  const int32_t c_out = a->c_out, offset = a->output_offset;
  const int32_t lo = a->act_min, hi = a->act_max;
  const int8_t *sign = a->sign;
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  for (int32_t c = 0; c < c_out; ++c) {
    const int32_t v = (int32_t)((uint32_t)base[c] + (uint32_t)(127 * sign[c] * acc[c]));
    out[c] = clamp_out(requantize(v, mult[c], shift[c]) + offset, lo, hi);
  }
}

/* Clamp to [lo, hi]; full: lo, hi are the int8 range (one SSAT on the DSP path). */
static inline int8_t clamp_or_saturate(int32_t v, int32_t lo, int32_t hi, int full) {
#if defined(SBTF_PATH_DSP)
  if (full) return (int8_t)__ssat(v, 8);
#else
  (void)full;
#endif
  return clamp_out(v, lo, hi);
}

/* finish_pair for shifts <= -1; full (a constant at each call): no activation clamp. */
static inline __attribute__((always_inline)) void finish_pair_right(
    const sbtf_core_args *a, const int32_t *base, const int32_t *acc_a, const int32_t *acc_b,
    int8_t *out_a, int8_t *out_b, int32_t lo, int32_t hi, int full) {
  const int32_t c_out = a->c_out, offset = a->output_offset;
  const int8_t *sign = a->sign;
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  for (int32_t c = 0; c < c_out; ++c) {
    const uint32_t b = (uint32_t)base[c];
    const int32_t s = 127 * sign[c], m = mult[c], n1 = -shift[c] - 1;
    const int32_t va = (int32_t)(b + (uint32_t)(s * acc_a[c]));
    const int32_t vb = (int32_t)(b + (uint32_t)(s * acc_b[c]));
    out_a[c] = clamp_or_saturate(sbtf_requantize_right(va, m, n1) + offset, lo, hi, full);
    out_b[c] = clamp_or_saturate(sbtf_requantize_right(vb, m, n1) + offset, lo, hi, full);
  }
}

/* Both pixels of a pair: each filter's parameters are loaded once. */
static void finish_pair(const sbtf_core_args *a, const layout *l, const int32_t *acc_a,
                        const int32_t *acc_b, int8_t *out_a, int8_t *out_b) {
  const int32_t *base = l->base;
  if (a->single_rounding) {
    finish_row_single(a, base, acc_a, out_a);
    finish_row_single(a, base, acc_b, out_b);
    return;
  }
  const int32_t c_out = a->c_out, offset = a->output_offset;
  const int32_t lo = a->act_min, hi = a->act_max;
  const int8_t *sign = a->sign;
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  if (l->shift_max < 0) { /* the usual case: every shift right, no left shift to apply */
    if (lo == -128 && hi == 127) /* no activation clamp: the narrowing saturation alone */
      finish_pair_right(a, base, acc_a, acc_b, out_a, out_b, lo, hi, 1);
    else
      finish_pair_right(a, base, acc_a, acc_b, out_a, out_b, lo, hi, 0);
    return;
  }
  for (int32_t c = 0; c < c_out; ++c) {
    const uint32_t b = (uint32_t)base[c];
    const int32_t s = 127 * sign[c], m = mult[c], sh = shift[c];
    const int32_t va = (int32_t)(b + (uint32_t)(s * acc_a[c]));
    const int32_t vb = (int32_t)(b + (uint32_t)(s * acc_b[c]));
    const int32_t ra = requantize(va, m, sh) + offset, rb = requantize(vb, m, sh) + offset;
    out_a[c] = clamp_out(ra, lo, hi);
    out_b[c] = clamp_out(rb, lo, hi);
  }
}
#endif

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

#if defined(SBTF_PATH_MVE)
static inline mve_pred16_t mask16(const uint8_t *m) {
  uint16_t v;
  memcpy(&v, m, 2); /* LDRH: mask rows are only byte aligned */
  return (mve_pred16_t)v;
}

/* acc + sum of (x + offset) over the lanes set in p. */
static inline uint32_t add_masked_s8(uint32_t acc, int8x16_t x, int8x16_t offset, mve_pred16_t p) {
  return (uint32_t)vaddvaq_p_s8(vaddvaq_p_s8((int32_t)acc, x, p), offset, p);
}

/* Filters 0 .. quads * 4 - 1, four per pass (mask rows m, m + row_bytes, ...) over `steps`
   blocks of 16 inputs: each input vector is loaded once for the four. x holds offset-binary bytes (x ^ 0x80) when `flipped`,
   else raw inputs, and `offset` is added at every set bit. Kept out of line so that GCC gives
   the loop all the registers (no spills). */
__attribute__((noinline)) static void sums4(const int8_t *row, const uint8_t *mask,
                                            int32_t row_bytes, int32_t steps, int flipped,
                                            int8_t offset, int32_t quads, int32_t *acc) {
  for (int32_t q = 0; q < quads; ++q, acc += 4) {
    const int8_t *x = row;
    const uint8_t *m = mask + (size_t)q * 4 * row_bytes;
    const uint8_t *m1 = m + row_bytes, *m2 = m1 + row_bytes, *m3 = m2 + row_bytes;
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    if (flipped) {
      for (int32_t j = 0; j < steps; ++j, x += 16, m += 2, m1 += 2, m2 += 2, m3 += 2) {
        const uint8x16_t u = vld1q_u8((const uint8_t *)x);
        s0 = vaddvaq_p_u8(s0, u, mask16(m));
        s1 = vaddvaq_p_u8(s1, u, mask16(m1));
        s2 = vaddvaq_p_u8(s2, u, mask16(m2));
        s3 = vaddvaq_p_u8(s3, u, mask16(m3));
      }
    } else {
      const int8x16_t o = vdupq_n_s8(offset);
      for (int32_t j = 0; j < steps; ++j, x += 16, m += 2, m1 += 2, m2 += 2, m3 += 2) {
        const int8x16_t v = vld1q_s8(x);
        s0 = add_masked_s8(s0, v, o, mask16(m));
        s1 = add_masked_s8(s1, v, o, mask16(m1));
        s2 = add_masked_s8(s2, v, o, mask16(m2));
        s3 = add_masked_s8(s3, v, o, mask16(m3));
      }
    }
    acc[0] = (int32_t)s0;
    acc[1] = (int32_t)s1;
    acc[2] = (int32_t)s2;
    acc[3] = (int32_t)s3;
  }
}

/* One pixel: each filter's 16 mask bits are the predicate of an add-across-vector (VADDVA) over
   16 inputs, so acc = sum of (x + input_offset) at the set bits comes out directly, no popcount:
   input_offset = 128 (zero point -128, the usual case) adds the offset-binary bytes x ^ 0x80
   (flipped once into row_a); any other offset (then in int8 range) adds x and, under the same
   predicate, a vector of the offset. base = bias. */
static void single_pixel_sums(const sbtf_core_args *a, const layout *l, const int8_t *const *seg) {
  const int32_t row_bytes = sbtf_mask_row_bytes(a->k), steps = l->groups_padded / 4;
  const int32_t run = 4 * a->segment_groups;
  const int flip = a->input_offset == 128;
  const int8_t *row = seg[0];
  if (flip || a->segments > 1) { /* row_a: the row contiguous, flipped if so */
    const uint8x16_t bits = vdupq_n_u8(flip ? 0x80u : 0u);
    for (int32_t i = 0; i < a->segments; ++i)
      for (int32_t b = 0; b < run; b += 16)
        vst1q_u8((uint8_t *)l->row_a + i * run + b,
                 veorq_u8(vld1q_u8((const uint8_t *)seg[i] + b), bits));
    row = l->row_a;
  }
  const int8_t offset = (int8_t)(flip ? 0 : a->input_offset);
  const int8x16_t o = vdupq_n_s8(offset);
  int32_t c = a->c_out / 4 * 4;
  sums4(row, a->mask, row_bytes, steps, flip, offset, c / 4, l->acc_a);
  for (; c < a->c_out; ++c) {
    const uint8_t *m = a->mask + (size_t)c * row_bytes;
    uint32_t s = 0;
    for (int32_t j = 0; j < steps; ++j, m += 2) {
      const int8x16_t v = vld1q_s8(row + 16 * j);
      if (flip)
        s = vaddvaq_p_u8(s, vreinterpretq_u8_s8(v), mask16(m));
      else
        s = add_masked_s8(s, v, o, mask16(m));
    }
    l->acc_a[c] = (int32_t)s;
  }
  for (c = 0; c < a->c_out; c += 4) {
    const mve_pred16_t p = vctp32q((uint32_t)(a->c_out - c));
    vst1q_s32(l->base + c, a->bias ? vldrwq_z_s32(a->bias + c, p) : vdupq_n_s32(0));
  }
}
#else
/* One pixel: tables with pixel B a row of ones (0x81 = 1 in offset binary), so B's half of
   each sum is the popcount, folded into base[] here. Like the Helium version, leaves
   base + 127 * sign * acc_a as the accumulator. */
static void single_pixel_sums(const sbtf_core_args *a, const layout *l, const int8_t *const *seg) {
  const int8_t *ones[SBTF_MAX_SEGMENTS];
  memset(l->row_b, 0x81, (size_t)(4 * l->groups_padded));
  for (int32_t i = 0; i < a->segments; ++i) ones[i] = l->row_b + i * 4 * a->segment_groups;
  run_chunks(a, l, seg, ones, 1);
  for (int32_t c = 0; c < a->c_out; ++c) { /* acc_a = S, acc_b = P */
    const int32_t bias = a->bias ? a->bias[c] : 0;
    l->base[c] = (int32_t)((uint32_t)bias +
                           (uint32_t)(127 * a->sign[c] * (a->input_offset - 128) * l->acc_b[c]));
  }
}
#endif

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
#if !defined(SBTF_PATH_MVE)
    clear_tables(&l);
#endif
    const int8_t *seg[SBTF_MAX_SEGMENTS];
    a->fill_row(a->row_self, 0, l.row_a, seg);
    single_pixel_sums(a, &l, seg);
    finish_row(a, &l, l.acc_a, a->output);
    return SBTF_OK;
  }

  const sbtf_status status = check_filters(a, &l);
  if (status != SBTF_OK) return status;
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
