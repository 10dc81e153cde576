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
  for (int32_t c = 0; c < c_out; c += 4) {
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
