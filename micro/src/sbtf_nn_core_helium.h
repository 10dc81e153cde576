/*
 * sbtf_nn_core_helium.h - the Cortex-M55 Helium (MVE) bodies of sbtf_nn_core.c; included only
 * there, once, when SBTF_PATH_MVE is defined (sbtf_arith.h).
 *
 * Interface with the common code (sbtf_nn_core.c), the same for sbtf_nn_core_scalar.h. This file
 * defines, all static:
 *   build_run(row_a, row_b, groups, t)     subset-sum tables of `groups` groups of 4 inputs,
 *                                          pixel A in the low, B in the high 16 bits; entry 0
 *                                          of each table is not written (clear_tables sets it)
 *   lookup_chunk(l, g0, groups, first)     acc_a / acc_b of every filter += its table entries
 *                                          for groups g0.. (first: = instead of +=), from the
 *                                          decoded offsets l->offsets
 *   check_filters(a, l)                    sign +-1, multiplier >= 0, shift -31..30, mask
 *                                          padding; sets l->shift_max
 *   decode_row(row, n, o)                  one mask row -> table offsets; returns its popcount
 *   finish_row(a, l, acc, out)             base + 127 * sign * acc requantized to int8 (one
 *   finish_pair(a, l, acc_a, acc_b, ...)   pixel / two pixels)
 *   single_pixel_sums(a, l, seg)           one pixel (FC): acc_a and base such that finish_row
 *                                          gives the output; may use any scratch
 *   single_pixel_uses_tables               (enum constant) 1: sbtf_core_run clears entry 0 of
 *                                          the tables before single_pixel_sums
 *   short_filter_pixels(a, l)              the whole convolution another way when K <= 32
 *                                          (returns 1; 0: not taken); Helium only, in
 *                                          sbtf_nn_core_helium_short.h
 *   conv_pixels(a, scratch, budget, shift_max)  the whole convolution a->conv another way, when
 *                                          it suits (returns 1; 0: not taken, nothing written
 *                                          but scratch); Helium only, the scalar one returns 0
 * and may use: layout, make_layout's pointers, load_u32/load_u16, store_sums, table_entry,
 * clamp_out, finish_row_single, clear_tables, run_chunks (sbtf_nn_core.c) and the arithmetic
 * of sbtf_arith.h (the _x4 requantization forms). A new Helium variant of one of these
 * functions replaces it here; a Helium body for a new stage adds a function here and a
 * matching one to sbtf_nn_core_scalar.h, called from the common code. Adding a file-level
 * static helper needs nothing else: this file is compiled only inside sbtf_nn_core.c.
 */

/* ==== what depends only on the inputs ==== */

/* single_pixel_sums adds masked vectors, no tables. */
enum { single_pixel_uses_tables = 0 };

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
  int32_t c = 0;
  for (; c + 4 <= c_out; c += 4) { /* whole quads without predicates */
    const int32x4_t sign127 = vmulq_n_s32(vldrbq_s32(sign + c), 127);
    int32x4_t v = vaddq_s32(vld1q_s32(base + c), vmulq_s32(sign127, vld1q_s32(acc + c)));
    v = vaddq_n_s32(sbtf_mbqm_single_right_x4(v, vld1q_s32(mult + c), vld1q_s32(shift + c)),
                    offset);
    vstrbq_s32(out + c, vminq_s32(vmaxq_s32(v, lo), hi));
  }
  if (c < c_out) {
    const mve_pred16_t p = vctp32q((uint32_t)(c_out - c));
    const int32x4_t sign127 = vmulq_n_s32(vldrbq_z_s32(sign + c, p), 127);
    int32x4_t v = vaddq_s32(vld1q_s32(base + c), vmulq_s32(sign127, vld1q_s32(acc + c)));
    const int32x4_t m = vldrwq_z_s32(mult + c, p);
    v = vaddq_n_s32(sbtf_mbqm_single_right_x4(v, m, vldrwq_z_s32(shift + c, p)), offset);
    vstrbq_p_s32(out + c, vminq_s32(vmaxq_s32(v, lo), hi), p);
  }
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
    va = vaddq_n_s32(sbtf_mbqm_right_x4(va, m, right), offset);
    vstrbq_p_s32(out_a + c, vminq_s32(vmaxq_s32(va, lo), hi), p);
    if (out_b != NULL) {
      vb = vaddq_n_s32(sbtf_mbqm_right_x4(vb, m, right), offset);
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

/* ==== what depends on the weight format ==== */

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

/* Every filter's sign (+-1), multiplier (>= 0), shift (-31..30) and mask padding. */
static sbtf_status check_filters(const sbtf_core_args *a, layout *l) {
  const int32_t *mult = a->quant->multiplier, *shift = a->quant->shift;
  for (int32_t c = 0; c < a->c_out; c += 16) {
    const mve_pred16_t p = vctp8q((uint32_t)(a->c_out - c));
    if (vcmpneq_m_n_s8(vabsq_s8(vldrbq_z_s8(a->sign + c, p)), 1, p)) return SBTF_ERROR_BAD_PARAM;
  }
  /* Lanes past c_out load as 0, a valid multiplier and shift: no predicate on the checks. */
  int32x4_t mult_min = vdupq_n_s32(0), shift_min = vdupq_n_s32(0);
  int32x4_t shift_max = vdupq_n_s32(INT32_MIN);
  int32_t c = 0;
  for (; c + 4 <= a->c_out; c += 4) { /* whole quads without predicates */
    const int32x4_t sh = vld1q_s32(shift + c);
    mult_min = vminq_s32(mult_min, vld1q_s32(mult + c));
    shift_min = vminq_s32(shift_min, sh);
    shift_max = vmaxq_s32(shift_max, sh);
  }
  if (c < a->c_out) {
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

/* Decodes one mask row (n bytes) into table offsets o[8b] (group 2b, low nibble) and o[8b + 4]
   (group 2b + 1); within a block of 4 groups the tables start at 128 * (b % 2) and
   128 * (b % 2) + 64. Returns the row's popcount. */
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

/* ==== the convolution vectorized across output pixels (conv_pixels) ====
 *
 * For one filter and one group of 4 inputs the table index (the mask nibble) is the same for
 * every output pixel, so each group's 16 subset sums are laid out T[entry][group][pixel]
 * (int16, 8 pixels per vector): a lookup is one scalar nibble extraction plus a contiguous
 * vector load and add per vector of 8 pixels, with no gather (QEMU counts a gather as one
 * instruction, a Cortex-M55 moves one element per beat). With the raw int8 inputs x,
 *     acc_c = bias_c + 127 * sign_c * (sum_set x + input_offset * P_c)
 * (padded taps hold the zero point, x + input_offset = 0, so P_c is per filter).
 * Per block of V vectors (8 output pixels of one output row each), kernel row by kernel row,
 * the input columns the vectors read are copied channel-major into strips (one scatter per 16
 * channels; padding = the zero point; stride-s columns phase-major so that every tap's 8 pixels
 * are contiguous), so that a group's table is built from 4 contiguous loads, 11 adds and 15
 * stores, shared by all filters. Tables hold CH groups at a time; the int16 sums stay in
 * scratch between chunks. They are exact whenever every filter has at most 256 set bits:
 * S_c lies in [-128 P_c, 127 P_c], inside int16, and int16 adds are exact modulo 2^16. Filters
 * with more widen their sums into int32 every 64 groups (64 * 4 * 128 fits int16).
 * Requantization (TFLite's double rounding, right shifts only) is vectorized over the pixels and
 * each filter's 8 outputs are stored with one scatter. The scratch is SBTF_SCRATCH_BYTES (at
 * least 4096 + 68 * C4 + 32 * G on Helium, sbtf_nn.h): the row tables (pr_conv) when they
 * apply and fit, else the first of (V vectors, CH groups) = (4, 4), (2, 8), (2, 4), (1, 4) that
 * fits ((4, 8) would need 512-byte entries, past VSTRW's post-increment range), else the
 * tables above. docs/kernels.md has the profile.
 */

#define PX_LANES 8
#define PX_SUPER 64  /* groups per int16 accumulation when some filter has > 256 set bits */
#define PX_MAX_POP16 256 /* set bits per filter whose sum S always fits int16 */
#define PX_MAX_V 4   /* vectors per block */
#define PX_MAX_KW 16 /* kernel width and strip columns this path takes */
#define PX_MAX_SPAN 256
/* sbtf_nn.h sizes the scratch for this path exactly when this file is compiled. */
typedef char px_scratch_has_helium_room[SBTF_SCRATCH_HELIUM_(4, 4) > 0 ? 1 : -1];

typedef struct {
  const int8_t *input;
  int32_t in_h, in_w, in_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, out_h, out_w;
  int32_t groups, c_out, row_bytes;
  const uint8_t *mask;
  int16_t zp;
  int32_t span, strip_bytes;       /* input columns one vector reads; bytes of one strip */
  int fast_fill;                   /* C_in multiple of 16 and 15 * span < 256 */
  int share_rows;                  /* blocks of two rows, s_h == d_h: strips passed upwards */
  int16_t col_pos[PX_MAX_SPAN];    /* strip position of column j (phase-major for stride s_w) */
  int16_t tap_pos[PX_MAX_KW];      /* strip position of tap kx's pixel 0 */
  uint16x8_t span_offs;            /* lane c: c * span */
  uint8x16_t span_offs8;           /* lane c: c * span (fast_fill) */
  uint16x8_t out_offs;             /* lane p: p * C_out */
} px_geom;

typedef struct {
  int32_t pixel; /* first output pixel (raster index) */
  int32_t count; /* 0..8 pixels */
  int32_t iy0, ix0;
  const int8_t *image;
  int8_t *strip; /* [C_in][span]: the input columns of the current kernel row */
} px_vec;

typedef struct {
  int32_t v, ch; /* vectors per block, groups per table chunk */
  int wide;      /* int32 sums: some filter has more than PX_MAX_POP16 set bits */
  int32_t *base; /* bias + 127 * sign * input_offset * popcount, per filter */
  int16_t *tables;
  int16_t *acc16; /* [c_out][v][8] when groups > ch */
  int32_t *acc32; /* [c_out][v][8] (even lanes, odd lanes) when wide */
  int8_t *strips;
} px_layout;

static int32_t px_strip_bytes(int32_t c_in, int32_t span) { return (c_in * span + 3) / 4 * 4; }

static int32_t px_make_layout(int32_t v, int32_t ch, int32_t groups, int32_t c_out, int32_t strip,
                              int32_t n_strips, int wide, uint8_t *buf, px_layout *l) {
  const int32_t at_acc32 = 4 * c_out;
  const int32_t at_tables = at_acc32 + (wide ? 32 * v * c_out : 0);
  const int32_t at_acc16 = at_tables + 256 * v * ch;
  const int32_t at_strips = at_acc16 + (groups > ch ? 16 * v * c_out : 0);
  if (buf != NULL) {
    l->v = v;
    l->ch = ch;
    l->wide = wide;
    l->base = (int32_t *)(void *)buf;
    l->acc32 = (int32_t *)(void *)(buf + at_acc32);
    l->tables = (int16_t *)(void *)(buf + at_tables);
    l->acc16 = (int16_t *)(void *)(buf + at_acc16);
    l->strips = (int8_t *)(buf + at_strips);
  }
  return at_strips + n_strips * strip;
}

/* Vector v: 8 pixels from (n, oy, 8 xs) on (fewer at the row's end); empty when oy is past the
   last row (no lanes; its strips hold zero points). */
static void px_make_vec(const px_geom *g, int32_t n, int32_t oy, int32_t xs, int8_t *strip,
                        px_vec *v) {
  memset(v, 0, sizeof(*v));
  v->strip = strip;
  v->image = g->input;
  if (oy >= g->out_h) return;
  const int32_t ox0 = xs * PX_LANES;
  v->count = g->out_w - ox0 < PX_LANES ? g->out_w - ox0 : PX_LANES;
  v->pixel = (n * g->out_h + oy) * g->out_w + ox0;
  v->iy0 = oy * g->s_h - g->pad_h;
  v->ix0 = ox0 * g->s_w - g->pad_w;
  v->image = g->input + (size_t)n * g->in_h * g->in_w * g->in_c;
}

/* Kernel row ky of vector v into its strip: channel c of column j at c * span + col_pos[j];
   columns and rows outside the image hold the zero point. */
static void px_fill_strip(const px_geom *g, const px_vec *v, int32_t ky) {
  const int32_t iy = v->iy0 + ky * g->d_h, c_in = g->in_c, span = g->span;
  if (v->count == 0 || iy < 0 || iy >= g->in_h) {
    memset(v->strip, (int8_t)g->zp, (size_t)(c_in * span));
    return;
  }
  /* Columns j_lo .. j_hi - 1 lie inside the image. */
  int32_t j_lo = -v->ix0, j_hi = g->in_w - v->ix0;
  j_lo = j_lo < 0 ? 0 : j_lo > span ? span : j_lo;
  j_hi = j_hi > span ? span : j_hi < j_lo ? j_lo : j_hi;
  const int8_t *src = v->image + ((size_t)iy * g->in_w + (size_t)(v->ix0 + j_lo)) * c_in;
  const int16_t *pos = g->col_pos + j_lo;
  if (g->fast_fill) { /* 16 channels per scatter */
    const int8x16_t zp = vdupq_n_s8((int8_t)g->zp);
    for (int32_t j = 0; j < span; ++j) {
      if (j == j_lo) j = j_hi;
      if (j == span) break;
      for (int32_t c = 0; c < c_in; c += 16)
        vstrbq_scatter_offset_s8(v->strip + g->col_pos[j] + c * span, g->span_offs8, zp);
    }
    const uint8x16_t offs = g->span_offs8; /* a local: the scatters may alias *g */
    if (c_in == 16 && g->s_w == 1) { /* the common small cases: one scatter per column */
      int8_t *dst = v->strip + j_lo;
      for (int32_t j = j_lo; j < j_hi; ++j, src += 16, ++dst)
        vstrbq_scatter_offset_s8(dst, offs, vld1q_s8(src));
      return;
    }
    if (c_in == 16) {
      for (int32_t j = j_lo; j < j_hi; ++j, src += 16, ++pos)
        vstrbq_scatter_offset_s8(v->strip + *pos, offs, vld1q_s8(src));
      return;
    }
    for (int32_t j = j_lo; j < j_hi; ++j, ++pos) {
      int8_t *dst = v->strip + *pos;
      for (int32_t c = 0; c < c_in; c += 16, src += 16, dst += 16 * span)
        vstrbq_scatter_offset_s8(dst, offs, vld1q_s8(src));
    }
    return;
  }
  const int16x8_t zp = vdupq_n_s16(g->zp);
  for (int32_t j = 0; j < span; ++j) {
    if (j == j_lo) j = j_hi;
    if (j == span) break;
    int8_t *dst = v->strip + g->col_pos[j];
    for (int32_t c = 0; c < c_in; c += 8, dst += 8 * span)
      vstrbq_scatter_offset_p_s16(dst, g->span_offs, zp, vctp16q((uint32_t)(c_in - c)));
  }
  for (int32_t j = j_lo; j < j_hi; ++j, ++pos, src += c_in) {
    int8_t *dst = v->strip + *pos;
    for (int32_t c = 0; c < c_in; c += 8, dst += 8 * span) {
      const mve_pred16_t pr = vctp16q((uint32_t)(c_in - c));
      vstrbq_scatter_offset_p_s16(dst, g->span_offs, vldrbq_z_s16(src + c, pr), pr);
    }
  }
}

/* Subset sums of channels c..c+3 (strip rows src, src + span, ..; 8 pixels contiguous) into
   t: entry n at t + n * STRIDE int16s; entry 0 stays 0. Stores post-increment two pointers
   (entries 1..7 and 8..15): GCC spends an add per store otherwise. */
static inline __attribute__((always_inline)) void px_build_group(const int8_t *src, int32_t span,
                                                              int16_t *t, const int32_t STRIDE) {
  const int16x8_t p0 = vldrbq_s16(src), p1 = vldrbq_s16(src + span);
  const int16x8_t p2 = vldrbq_s16(src + 2 * span), p3 = vldrbq_s16(src + 3 * span);
  int16_t *lo = t + STRIDE, *hi = t + 8 * STRIDE;
#define PX_PUT1(ptr, x) \
  __asm__ volatile("vstrw.32 %q1, [%0], #%c2" : "+r"(ptr) : "w"(x), "i"(2 * STRIDE) : "memory")
#define PX_PUT(x, y) \
  do {               \
    PX_PUT1(lo, x);  \
    PX_PUT1(hi, y);  \
  } while (0)
  PX_PUT1(hi, p3);
  PX_PUT(p0, vaddq_s16(p0, p3));
  PX_PUT(p1, vaddq_s16(p1, p3));
  const int16x8_t s01 = vaddq_s16(p0, p1);
  PX_PUT(s01, vaddq_s16(s01, p3));
  PX_PUT(p2, vaddq_s16(p2, p3));
  const int16x8_t s02 = vaddq_s16(p0, p2);
  PX_PUT(s02, vaddq_s16(s02, p3));
  const int16x8_t s12 = vaddq_s16(p1, p2);
  PX_PUT(s12, vaddq_s16(s12, p3));
  const int16x8_t s012 = vaddq_s16(s01, p2);
  PX_PUT(s012, vaddq_s16(s012, p3));
#undef PX_PUT1
#undef PX_PUT
}

/* Where the next group's inputs are: kernel tap (ky, kx), channel c. */
typedef struct {
  int32_t ky, kx, c;
} px_walk;

/* Tables of the next gn groups (the kernel row's strips are refilled when ky advances). */
static inline __attribute__((always_inline)) void px_build_chunk(const px_geom *g, px_vec *vec,
                                                              const px_layout *l, int32_t gn,
                                                              px_walk *st, const int V,
                                                              const int CH) {
  int16_t *t = l->tables;
  const int32_t span = g->span, c_in = g->in_c;
  int32_t c = st->c, at = c * span + g->tap_pos[st->kx];
  for (int32_t gi = 0; gi < gn; ++gi, t += V * PX_LANES) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v)
      px_build_group(vec[v].strip + at, span, t + v * PX_LANES, CH * V * PX_LANES);
    c += 4;
    at += 4 * span;
    if (c == c_in) {
      c = 0;
      if (++st->kx == g->k_w) {
        st->kx = 0;
        if (++st->ky < g->k_h) {
          if (V > 1 && g->share_rows) {
            /* Vector v's next kernel row is vector v + 1's current row: pass the strips up,
               refill only the last vector's. */
            int8_t *const top = vec[0].strip;
            for (int v = 0; v + 1 < V; ++v) vec[v].strip = vec[v + 1].strip;
            vec[V - 1].strip = top;
            px_fill_strip(g, &vec[V - 1], st->ky);
          } else {
            for (int32_t v = 0; v < V; ++v) px_fill_strip(g, &vec[v], st->ky);
          }
        }
      }
      at = g->tap_pos[st->kx];
    }
  }
  st->c = c;
}

/* One filter's sums of one vector to outputs: base + 127 * sign * acc, TFLite's double
   rounding for a right shift (sbtf_arith.h), offset, clamp, one scatter. */
static inline __attribute__((always_inline)) void px_finish(int16x8_t a, const int32_t *acc32,
                                                         int32_t base, int32_t s127, int32x4_t mult,
                                                         int32x4_t shift, int32_t offset,
                                                         int16x8_t lo_v, int16x8_t hi_v,
                                                         int8_t *out, uint16x8_t out_offs,
                                                         mve_pred16_t pr) {
  int32x4_t e = vmovlbq_s16(a), o = vmovltq_s16(a);
  if (acc32 != NULL) {
    e = vaddq_s32(e, vld1q_s32(acc32));
    o = vaddq_s32(o, vld1q_s32(acc32 + 4));
  }
  e = vmlaq_n_s32(vdupq_n_s32(base), e, s127);
  o = vmlaq_n_s32(vdupq_n_s32(base), o, s127);
  e = sbtf_mbqm_neg_right_x4(e, mult, shift); /* conv_pixels takes right shifts only */
  o = sbtf_mbqm_neg_right_x4(o, mult, shift);
  /* Saturating to int16 before the offset and clamp to int8 changes no result. */
  int16x8_t r = vqmovntq_s32(vqmovnbq_s32(vdupq_n_s16(0), e), o);
  r = vminq_s16(vmaxq_s16(vqaddq_n_s16(r, (int16_t)offset), lo_v), hi_v);
  vstrbq_scatter_offset_p_s16(out, out_offs, r, pr);
}

/* The CH nibbles at m (nib = nibbles the mask row still has there, a multiple of 4): one
   LDRH or LDR, never past the row; missing nibbles are 0 (the empty sum). */
static inline uint32_t px_mask_bits(const uint8_t *m, int32_t nib) {
  if (nib >= 8) {
    uint32_t w;
    memcpy(&w, m, 4);
    return w;
  }
  uint16_t h;
  memcpy(&h, m, 2);
  return h;
}

typedef struct {
  const px_geom *g;
  const px_layout *l;
  const sbtf_conv_params *p;
  const sbtf_quant_params *q;
  const int8_t *sign;
  px_vec *vec;
  int8_t *output;
} px_run;

#define PX_MID 0   /* int16 sums in and out */
#define PX_LAST 1  /* px_finish: requantize and store */
#define PX_FLUSH 2 /* end of a 64-group span: add the sums into the int32 sums */
#define PX_ONLY 3  /* the only chunk: sums from 0, then as PX_LAST */

/* ---- row tables: 3x3 kernels, s_h == d_h, blocks of 4 output rows ----
 * Vector v's kernel row ky reads input row slot v + ky (input row iy0 + (v + ky) * s_h), so a
 * block's 4 vectors x 3 kernel rows read only PR_ROWS = 6 rows: each row's tables are built
 * once per block (6 builds per group instead of 12). A chunk is 2 consecutive groups (kx, c) of
 * a kernel row, for all 3 kernel rows: tables T[entry][slot][group][pixel] (entry stride 256
 * bytes), a filter's lookups for (ky, v) at slot ky + v by immediate offsets, one mask byte
 * (the 2 nibbles) per kernel row. Int16 sums only (no filter with > 256 set bits). */

#define PR_ROWS 6  /* row slots: 4 vectors + 3 kernel rows - 1 */
#define PR_SLOTS 8 /* slots in the table layout (a power of two: entry stride 256 bytes) */
#define PR_ENTRY (PR_SLOTS * 2 * PX_LANES) /* int16s per entry */

/* Tables of groups j0, j0 + 1 of a kernel row (column groups: tap kx, channels c..c+3) for the
   6 row slots. */
static inline __attribute__((always_inline)) void pr_build_chunk(const px_geom *g,
                                                              int8_t *const *strips,
                                                              int16_t *t, int32_t j0) {
  const int32_t quads = g->in_c / 4, span = g->span;
  for (int32_t gi = 0; gi < 2; ++gi) {
    const int32_t j = j0 + gi, kx = j / quads, at = 4 * (j - kx * quads) * span + g->tap_pos[kx];
#pragma GCC unroll 6
    for (int32_t r = 0; r < PR_ROWS; ++r)
      px_build_group(strips[r] + at, span, t + (r * 2 + gi) * PX_LANES, PR_ENTRY);
  }
}

/* acc += the table entries of nibbles n0 (group 0) and n1 (group 1) for the 4 vectors, slot
   base tk (kernel row ky: slots ky + v). */
#define PR_LOOKUP(a0, a1, a2, a3, tk, n0, n1)                                                  \
  do {                                                                                         \
    int16x8_t x_;                                                                              \
    __asm__ volatile(                                                                          \
        "vldrw.u32 %q4, [%5]\n\tvadd.i16 %q0, %q0, %q4\n\t"                                    \
        "vldrw.u32 %q4, [%5, #32]\n\tvadd.i16 %q1, %q1, %q4\n\t"                               \
        "vldrw.u32 %q4, [%5, #64]\n\tvadd.i16 %q2, %q2, %q4\n\t"                               \
        "vldrw.u32 %q4, [%5, #96]\n\tvadd.i16 %q3, %q3, %q4\n\t"                               \
        "vldrw.u32 %q4, [%6, #16]\n\tvadd.i16 %q0, %q0, %q4\n\t"                               \
        "vldrw.u32 %q4, [%6, #48]\n\tvadd.i16 %q1, %q1, %q4\n\t"                               \
        "vldrw.u32 %q4, [%6, #80]\n\tvadd.i16 %q2, %q2, %q4\n\t"                               \
        "vldrw.u32 %q4, [%6, #112]\n\tvadd.i16 %q3, %q3, %q4"                                  \
        : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "=&w"(x_)                                    \
        : "r"((tk) + (n0) * PR_ENTRY), "r"((tk) + (n1) * PR_ENTRY));                           \
  } while (0)

/* Lookups of chunk g0 .. g0 + CH - 1 for every filter (tables T[entry][group][vector]: a
   filter's chunk is addressed from one base per entry, with immediate offsets; the nibble
   extraction is shared by the V vectors). The int16 sums start from acc16 (zeroed at the
   start of every 64-group span) but for PX_ONLY. ROWS: the row tables instead (pr_conv; V = 4,
   CH = 2, no PX_FLUSH): chunk g0 is groups g0, g0 + 1 of each kernel row. */
static inline __attribute__((always_inline)) void px_lookups(const px_run *r, int32_t g0,
                                                          const int V, const int CH,
                                                          const int MODE, const int ROWS) {
  const px_geom *g = r->g;
  const px_layout *l = r->l;
  const int32_t c_out = g->c_out, groups = g->groups, row_bytes = g->row_bytes;
  const int32_t krow = g->k_w * g->in_c / 8; /* ROWS: mask bytes per kernel row */
  const int finishing = MODE == PX_LAST || MODE == PX_ONLY;
  const int32_t nib = (finishing && CH == 8) ? 4 * ((groups + 3) / 4) - g0 : CH;
  const uint8_t *m = g->mask + g0 / 2;
  int16_t *acc16 = l->acc16;
  int32_t *acc32 = l->acc32;
  const int16_t *t = l->tables;
  /* Per-call constants of the finishing pass, hoisted out of the filter loop. */
  const int32_t *mult = r->q->multiplier, *shift = r->q->shift, *base = l->base;
  const int8_t *sign = r->sign;
  const int32_t offset = r->p->output_offset;
  const int16x8_t lo_v = vdupq_n_s16((int16_t)r->p->activation_min),
                  hi_v = vdupq_n_s16((int16_t)r->p->activation_max);
  const int wide = !ROWS && l->wide;
  int8_t *out[PX_MAX_V];
  mve_pred16_t pred[PX_MAX_V];
  for (int v = 0; v < V; ++v) {
    out[v] = r->output + (size_t)r->vec[v].pixel * c_out;
    pred[v] = vctp16q((uint32_t)r->vec[v].count);
  }
  for (int32_t f = 0; f < c_out; ++f, m += row_bytes, acc16 += 8 * V, acc32 += 8 * V) {
    const uint32_t w = px_mask_bits(m, nib);
    int16x8_t a0, a1 = vdupq_n_s16(0), a2 = vdupq_n_s16(0), a3 = vdupq_n_s16(0);
    if (MODE == PX_ONLY) {
      a0 = vdupq_n_s16(0);
    } else if (V == 4) { /* immediate offsets from one pointer (GCC spends 3 MOVs otherwise) */
      __asm__ volatile(
          "vldrw.u32 %q0, [%4]\n\tvldrw.u32 %q1, [%4, #16]\n\t"
          "vldrw.u32 %q2, [%4, #32]\n\tvldrw.u32 %q3, [%4, #48]"
          : "=w"(a0), "=w"(a1), "=w"(a2), "=w"(a3)
          : "r"(acc16)
          : "memory");
    } else {
      a0 = vld1q_s16(acc16);
      if (V == 2) a1 = vld1q_s16(acc16 + 8);
    }
    if (ROWS) {
      const uint32_t b0 = m[0], b1 = m[krow], b2 = m[2 * krow];
      PR_LOOKUP(a0, a1, a2, a3, t, b0 & 15u, b0 >> 4);
      PR_LOOKUP(a0, a1, a2, a3, t + 2 * PX_LANES, b1 & 15u, b1 >> 4);
      PR_LOOKUP(a0, a1, a2, a3, t + 4 * PX_LANES, b2 & 15u, b2 >> 4);
    } else {
#pragma GCC unroll 8
      for (int32_t gi = 0; gi < CH; ++gi) {
        const int16_t *e = t + ((w >> (4 * gi)) & 15u) * (CH * V * PX_LANES);
        int16x8_t x;
        /* Load and add kept together (GCC otherwise hoists the loads and spills). */
        if (V == 4)
          __asm__ volatile(
              "vldrw.u32 %q4, [%5, #%c6]\n\tvadd.i16 %q0, %q0, %q4\n\t"
              "vldrw.u32 %q4, [%5, #%c7]\n\tvadd.i16 %q1, %q1, %q4\n\t"
              "vldrw.u32 %q4, [%5, #%c8]\n\tvadd.i16 %q2, %q2, %q4\n\t"
              "vldrw.u32 %q4, [%5, #%c9]\n\tvadd.i16 %q3, %q3, %q4"
              : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "=&w"(x)
              : "r"(e), "i"(gi * 64), "i"(gi * 64 + 16), "i"(gi * 64 + 32), "i"(gi * 64 + 48));
        else if (V == 2)
          __asm__ volatile(
              "vldrw.u32 %q2, [%3, #%c4]\n\tvadd.i16 %q0, %q0, %q2\n\t"
              "vldrw.u32 %q2, [%3, #%c5]\n\tvadd.i16 %q1, %q1, %q2"
              : "+w"(a0), "+w"(a1), "=&w"(x)
              : "r"(e), "i"(gi * 32), "i"(gi * 32 + 16));
        else
          __asm__ volatile("vldrw.u32 %q1, [%2, #%c3]\n\tvadd.i16 %q0, %q0, %q1"
                           : "+w"(a0), "=&w"(x)
                           : "r"(e), "i"(gi * 16));
      }
    }
    const int16x8_t sums[4] = {a0, a1, a2, a3};
    if (finishing) {
      const int32_t b = base[f], s127 = 127 * sign[f];
      const int32x4_t mu = vdupq_n_s32(mult[f]), sh = vdupq_n_s32(shift[f]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v)
        if (pred[v])
          px_finish(sums[v], wide ? acc32 + 8 * v : NULL, b, s127, mu, sh, offset, lo_v, hi_v,
                    out[v] + f, g->out_offs, pred[v]);
    } else if (MODE == PX_FLUSH) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        int32x4_t e = vmovlbq_s16(sums[v]), o = vmovltq_s16(sums[v]);
        if (g0 >= PX_SUPER) {
          e = vaddq_s32(e, vld1q_s32(acc32 + 8 * v));
          o = vaddq_s32(o, vld1q_s32(acc32 + 8 * v + 4));
        }
        vst1q_s32(acc32 + 8 * v, e);
        vst1q_s32(acc32 + 8 * v + 4, o);
      }
    } else if (V == 4) {
      __asm__ volatile(
          "vstrw.32 %q0, [%4]\n\tvstrw.32 %q1, [%4, #16]\n\t"
          "vstrw.32 %q2, [%4, #32]\n\tvstrw.32 %q3, [%4, #48]"
          :
          : "w"(a0), "w"(a1), "w"(a2), "w"(a3), "r"(acc16)
          : "memory");
    } else {
      vst1q_s16(acc16, a0);
      if (V == 2) vst1q_s16(acc16 + 8, a1);
    }
  }
}

typedef void (*px_step_fn)(const px_run *r, px_walk *st, int32_t g0, int32_t gn, int mode);

/* Builds one chunk's tables, then its px_lookups (V, CH constants). */
#define PX_STEP(name, V, CH)                                                            \
  static void name(const px_run *r, px_walk *st, int32_t g0, int32_t gn, int mode) {    \
    px_build_chunk(r->g, r->vec, r->l, gn, st, V, CH);                                     \
    if (mode == PX_MID)                                                                 \
      px_lookups(r, g0, V, CH, PX_MID, 0);                                              \
    else if (mode == PX_LAST)                                                           \
      px_lookups(r, g0, V, CH, PX_LAST, 0);                                             \
    else if (mode == PX_ONLY)                                                           \
      px_lookups(r, g0, V, CH, PX_ONLY, 0);                                             \
    else                                                                                \
      px_lookups(r, g0, V, CH, PX_FLUSH, 0);                                            \
  }
PX_STEP(px_step_v4_ch4, 4, 4)
PX_STEP(px_step_v2_ch8, 2, 8)
PX_STEP(px_step_v2_ch4, 2, 4)
PX_STEP(px_step_v1_ch4, 1, 4)

static void pr_step(const px_run *r, int8_t *const *strips, int32_t j0, int mode) {
  pr_build_chunk(r->g, strips, r->l->tables, j0);
  if (mode == PX_MID)
    px_lookups(r, j0, 4, 2, PX_MID, 1);
  else if (mode == PX_LAST)
    px_lookups(r, j0, 4, 2, PX_LAST, 1);
  else
    px_lookups(r, j0, 4, 2, PX_ONLY, 1);
}

/* Every block of 4 output rows x 8 columns: the 6 input rows' strips once, then the chunks. */
static void pr_conv(const px_run *r, int32_t per_row, int32_t segs) {
  const px_geom *g = r->g;
  const px_layout *l = r->l;
  px_vec *vec = r->vec;
  const int32_t krow = g->k_w * g->in_c / 4; /* groups per kernel row (even) */
  int8_t *strips[PR_ROWS];
  for (int32_t s0 = 0; s0 < segs; s0 += 4) {
    const int32_t rows = s0 / 4 / per_row, n = rows / (g->out_h / 4);
    const int32_t oy = 4 * (rows - n * (g->out_h / 4)), xs = s0 / 4 - rows * per_row;
    for (int32_t v = 0; v < 4; ++v)
      px_make_vec(g, n, oy + v, xs, l->strips + v * g->strip_bytes, &vec[v]);
    for (int32_t k = 0; k < PR_ROWS; ++k) { /* slot k: vector 0's kernel row k */
      px_vec row = vec[0];
      row.strip = strips[k] = l->strips + k * g->strip_bytes;
      px_fill_strip(g, &row, k);
    }
    if (krow == 2) {
      pr_step(r, strips, 0, PX_ONLY);
      continue;
    }
    for (int16_t *z = l->acc16, *end = z + g->c_out * 32; z < end; z += 8)
      vst1q_s16(z, vdupq_n_s16(0));
    for (int32_t j0 = 0; j0 < krow; j0 += 2)
      pr_step(r, strips, j0, j0 + 2 == krow ? PX_LAST : PX_MID);
  }
}

/* The convolution a->conv describes, when it suits this path (returns 0 otherwise, having
   written nothing but scratch): arguments and filters already checked (check_filters set
   shift_max); budget = the scratch bytes (SBTF_SCRATCH_BYTES, whatever the caller passed). */
static int conv_pixels(const sbtf_core_args *a, void *scratch, int32_t budget, int32_t shift_max) {
  if (a->conv == NULL) return 0;
  const sbtf_conv_params *p = a->conv->params;
  const sbtf_quant_params *q = a->quant;
  const sbtf_dims *in = a->conv->input_dims, *fd = a->conv->filter_dims, *od = a->conv->output_dims;
  const int8_t *input = a->conv->input, *sign = a->sign;
  const uint8_t *mask = a->mask;
  const int32_t *bias = a->bias;
  int8_t *output = a->output;
  const int32_t k = fd->h * fd->w * fd->c, groups = k / 4, c_out = fd->n;
  const int32_t s_w = p->stride_w;
  const int32_t span = (PX_LANES - 1) * s_w + (fd->w - 1) * p->dilation_w + 1;
  /* Taken for: channels in whole groups, right shifts only, >= 8 output pixels, output
     offsets within 16 bits, narrow kernels, and a layout that fits the budget. */
  if (in->c % 4 != 0 || shift_max >= 0 || od->n * od->h * od->w < PX_LANES ||
      7 * c_out > 65535 || fd->w > PX_MAX_KW || span > PX_MAX_SPAN)
    return 0;
  const int32_t strip = px_strip_bytes(in->c, span), row_bytes = sbtf_mask_row_bytes(k);
  if (4 * c_out > budget) return 0;
  /* Popcounts first (into base[], at the start of every layout): they decide whether the int16
     sums need widening. */
  int32_t *pops = (int32_t *)scratch, max_pop = 0;
  for (int32_t f = 0; f < c_out; ++f) {
    uint32_t pop = 0;
    const uint8_t *mr = mask + (size_t)f * row_bytes;
    for (int32_t i = 0; i < row_bytes; i += 16) { /* SWAR popcount, 16 bytes per step */
      uint8x16_t x = vldrbq_z_u8(mr + i, vctp8q((uint32_t)(row_bytes - i)));
      x = vsubq_u8(x, vandq_u8(vshrq_n_u8(x, 1), vdupq_n_u8(0x55)));
      x = vaddq_u8(vandq_u8(x, vdupq_n_u8(0x33)), vandq_u8(vshrq_n_u8(x, 2), vdupq_n_u8(0x33)));
      x = vandq_u8(vaddq_u8(x, vshrq_n_u8(x, 4)), vdupq_n_u8(0x0F));
      pop = vaddvaq_u8(pop, x);
    }
    pops[f] = (int32_t)pop;
    max_pop = (int32_t)pop > max_pop ? (int32_t)pop : max_pop;
  }
  const int wide = max_pop > PX_MAX_POP16 && groups > PX_SUPER;
  static const struct {
    int32_t v, ch;
    px_step_fn step;
  } configs[] = {{4, 4, px_step_v4_ch4}, {2, 8, px_step_v2_ch8}, {2, 4, px_step_v2_ch4},
                 {1, 4, px_step_v1_ch4}};
  const int32_t n_configs = (int32_t)(sizeof(configs) / sizeof(configs[0]));
  /* Row tables (below) for 3x3 kernels with s_h == d_h, 4 rows per block, K_W * C_in a
     multiple of 8 and int16 sums: 4 vectors, tables as (4, 4), PR_ROWS strips. */
  const int rows = fd->h == 3 && p->stride_h == p->dilation_h && od->h % 4 == 0 && !wide &&
                   (fd->w * in->c) % 8 == 0 &&
                   px_make_layout(4, 4, groups, c_out, strip, PR_ROWS, 0, NULL, NULL) <= budget;
  int32_t cfg = 0;
  while (!rows && cfg < n_configs &&
         px_make_layout(configs[cfg].v, configs[cfg].ch, groups, c_out, strip, configs[cfg].v,
                        wide, NULL, NULL) > budget)
    ++cfg;
  if (cfg == n_configs) return 0;
  px_layout l = {0};
  if (rows)
    px_make_layout(4, 4, groups, c_out, strip, PR_ROWS, 0, (uint8_t *)scratch, &l);
  else
    px_make_layout(configs[cfg].v, configs[cfg].ch, groups, c_out, strip, configs[cfg].v, wide,
                   (uint8_t *)scratch, &l);
  const int32_t V = l.v;
  px_geom g = {
      .input = input, .in_h = in->h, .in_w = in->w, .in_c = in->c, .k_h = fd->h, .k_w = fd->w,
      .s_h = p->stride_h, .s_w = s_w, .d_h = p->dilation_h, .d_w = p->dilation_w,
      .pad_h = p->pad_h, .pad_w = p->pad_w, .out_h = od->h, .out_w = od->w,
      .groups = groups, .c_out = c_out, .row_bytes = row_bytes, .mask = mask,
      .zp = (int16_t)(-p->input_offset), .span = span, .strip_bytes = strip,
      .fast_fill = in->c % 16 == 0 && 15 * span < 256,
      .span_offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)span),
      .span_offs8 = vmulq_n_u8(vidupq_n_u8(0, 1), (uint8_t)span),
      .out_offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)c_out),
  };
  /* Phase-major columns: column j at (columns of the phases before j % s_w) + j / s_w, so
     that tap kx's 8 pixels (columns kx * d_w + p * s_w) are contiguous. */
  for (int32_t ph = 0, at = 0; ph < s_w; at += (span - ph + s_w - 1) / s_w, ++ph)
    for (int32_t j = ph; j < span; j += s_w) g.col_pos[j] = (int16_t)(at + j / s_w);
  for (int32_t kx = 0; kx < fd->w; ++kx) g.tap_pos[kx] = g.col_pos[kx * p->dilation_w];
  for (int32_t f = 0; f < c_out; ++f) /* base[f] replaces pops[f] */
    l.base[f] = (int32_t)((uint32_t)(bias ? bias[f] : 0) +
                          (uint32_t)(127 * sign[f] * p->input_offset * pops[f]));
  /* Entry 0 of every table (the empty sum) is 0 and never written. */
  for (int32_t i = 0; i < l.ch * V * PX_LANES; i += 8) vst1q_s16(l.tables + i, vdupq_n_s16(0));
  /* Blocks: the same 8 columns of V consecutive rows when the rows divide into such blocks
     (then, with s_h == d_h, vector v's kernel row ky + 1 is vector v + 1's row ky: one strip
     fill per kernel row instead of V); else V consecutive segments in raster order. */
  const int32_t per_row = (od->w + PX_LANES - 1) / PX_LANES, segs = per_row * od->h * od->n;
  const int vertical = V > 1 && od->h % V == 0;
  g.share_rows = vertical && p->stride_h == p->dilation_h;
  px_vec vec[PX_MAX_V];
  const px_run run = {&g, &l, p, q, sign, vec, output};
  if (rows) {
    pr_conv(&run, per_row, segs);
    return 1;
  }
  for (int32_t s0 = 0; s0 < segs; s0 += V) {
    for (int32_t v = 0; v < V; ++v) {
      int32_t seg = s0 + v, n, oy, xs;
      if (vertical) { /* s0 = V * (block row * per_row + xs) */
        const int32_t rows = s0 / V / per_row;
        n = rows / (od->h / V);
        oy = V * (rows - n * (od->h / V)) + v;
        xs = s0 / V - rows * per_row;
      } else {
        n = seg / (per_row * od->h);
        oy = seg < segs ? seg / per_row - n * od->h : od->h;
        xs = seg - (seg / per_row) * per_row;
      }
      px_make_vec(&g, n, oy, xs, l.strips + v * strip, &vec[v]);
      px_fill_strip(&g, &vec[v], 0);
    }
    px_walk st = {0, 0, 0};
    for (int32_t g0 = 0; g0 < groups; g0 += l.ch) {
      const int32_t gn = groups - g0 < l.ch ? groups - g0 : l.ch;
      const int last = g0 + gn == groups, flush = wide && !last && (g0 + gn) % PX_SUPER == 0;
      if (gn == groups) {
        configs[cfg].step(&run, &st, g0, gn, PX_ONLY);
        continue;
      }
      if (g0 == 0 || (wide && g0 % PX_SUPER == 0))
        for (int16_t *z = l.acc16, *end = z + c_out * V * PX_LANES; z < end; z += 8)
          vst1q_s16(z, vdupq_n_s16(0));
      configs[cfg].step(&run, &st, g0, gn, last ? PX_LAST : flush ? PX_FLUSH : PX_MID);
    }
  }
  return 1;
}

