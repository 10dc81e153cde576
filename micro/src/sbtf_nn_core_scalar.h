/*
 * sbtf_nn_core_scalar.h - the bodies of sbtf_nn_core.c for portable C and the Cortex-M DSP
 * extension; included only there, once, when SBTF_PATH_MVE is not defined, after
 * sbtf_nn_core_portable.h or sbtf_nn_core_dsp.h, which define the two primitives that differ:
 *   pair_lanes(wa, wb, p)                  byte lanes of two pixels' words paired into halves
 *   clamp_or_saturate(v, lo, hi, full)     clamp to [lo, hi]; full: [lo, hi] is the int8 range
 * Its interface with the common code is described at the top of sbtf_nn_core_helium.h.
 */

/* ==== what depends only on the inputs ==== */

/* single_pixel_sums builds tables (with the direct lookups), so entry 0 must be cleared. */
enum { single_pixel_uses_tables = 1 };

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
    out[c] = clamp_out(sbtf_mbqm_nonneg(v, mult[c], shift[c]) + offset, lo, hi);
  }
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
    out_a[c] = clamp_or_saturate(sbtf_mbqm_right(va, m, n1) + offset, lo, hi, full);
    out_b[c] = clamp_or_saturate(sbtf_mbqm_right(vb, m, n1) + offset, lo, hi, full);
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
    const int32_t ra = sbtf_mbqm_nonneg(va, m, sh) + offset,
                  rb = sbtf_mbqm_nonneg(vb, m, sh) + offset;
    out_a[c] = clamp_out(ra, lo, hi);
    out_b[c] = clamp_out(rb, lo, hi);
  }
}

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

/* ==== what depends on the weight format ==== */

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

/* Every filter's sign (+-1), multiplier (>= 0), shift (-31..30) and mask padding. */
static sbtf_status check_filters(const sbtf_core_args *a, layout *l) {
  l->shift_max = INT32_MIN;
  for (int32_t c = 0; c < a->c_out; ++c) {
    const int32_t shift = a->quant->shift[c];
    if (a->sign[c] != 1 && a->sign[c] != -1) return SBTF_ERROR_BAD_PARAM;
    if (SBTF_QUANT_CHANNEL_BAD(a->quant->multiplier[c], shift)) return SBTF_ERROR_BAD_PARAM;
    if (shift > l->shift_max) l->shift_max = shift;
  }
  return sbtf_mask_padding_ok(a->mask, a->k, a->c_out) ? SBTF_OK : SBTF_ERROR_BAD_PARAM;
}

/* Decodes one mask row (n bytes) into table offsets o[8b] (group 2b, low nibble) and o[8b + 4]
   (group 2b + 1); within a block of 4 groups the tables start at 128 * (b % 2) and
   128 * (b % 2) + 64. Returns the row's popcount. */
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

/* Short filters share the two-pixel tables here (sbtf_nn_core_helium_short.h on Helium). */
static int short_filter_pixels(const sbtf_core_args *a, const layout *l) {
  (void)a, (void)l;
  return 0;
}

/* No pixel-vectorized convolution on these paths (sbtf_nn_core_helium.h). */
static int conv_pixels(const sbtf_core_args *a, void *scratch, int32_t budget, int32_t shift_max) {
  (void)a, (void)scratch, (void)budget, (void)shift_max;
  return 0;
}
