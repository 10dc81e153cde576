/*
 * sbtf_nn_core_helium_short.h - Helium (MVE) convolutions with a short filter, K <= 32 inputs
 * (a 3x3x3 RGB first layer, 3x3 on 1..3 channels): one output pixel at a time, no tables, no
 * gathers. Included only by sbtf_nn_core.c, after sbtf_nn_core_helium.h (it uses its layout).
 *
 * With few input channels the two-pixel tables cost more than they save (their build and
 * gathers are per pixel pair whatever C_out), and the pixel-vectorized path needs C_in a
 * multiple of 4. Here a pixel's K inputs are two vectors x0, x1 (lanes past K zero) and filter
 * c's sum over its set bits, S_c = sum_set x, is two predicated add-across-vector instructions
 * (VMSR P0 + VPST + VADDVAT.S8 under 16 mask bits each), so
 *     acc_c = base_c + 127 * sign_c * S_c,   base_c = bias_c + 127 * sign_c * input_offset * P_c
 * (padded taps hold the zero point, x + input_offset = 0). Four filters' sums are one vector for
 * TFLite's double rounding (right shifts only, sbtf_mbqm_right_x4), offset, clamp and one 4-byte
 * store. An interior pixel copies its kernel rows (< 16 bytes each: one predicated load and
 * store per row) into a 32-byte row; other pixels use the convolution's row builder.
 * Scratch: base and 127 * sign per filter, one row (inside SBTF_SCRATCH_BYTES).
 */

/* S for one filter: its mask bits m (LSB = input 0), over x1 too when TWO (K > 16). */
static inline __attribute__((always_inline)) int32_t short_sum(uint32_t m, int8x16_t x0,
                                                               int8x16_t x1, const int TWO) {
  const int32_t s = vaddvq_p_s8(x0, (mve_pred16_t)m);
  return TWO ? vaddvaq_p_s8(s, x1, (mve_pred16_t)(m >> 16)) : s;
}

/* Mask row bits: 4 bytes when TWO, else 2 (sbtf_mask_row_bytes: never past the row). */
static inline __attribute__((always_inline)) uint32_t short_mask(const uint8_t *row,
                                                                 const int TWO) {
  return TWO ? load_u32(row) : load_u16(row);
}

/* Per-call constants of the filter loop. */
typedef struct {
  const uint8_t *mask;
  const int32_t *base, *s127, *mult, *shift;
  int32_t c_out, offset;
  int32x4_t lo, hi;
} short_filters;

/* Filters c .. c + 3 (n of them) of one pixel from their sums s: requantized and stored. */
static inline __attribute__((always_inline)) void short_finish(const short_filters *f,
                                                               int32x4_t s, int32_t c,
                                                               int32_t n, int8_t *out) {
  const mve_pred16_t pr = vctp32q((uint32_t)n);
  int32x4_t v = vaddq_s32(vld1q_s32(f->base + c), vmulq_s32(s, vld1q_s32(f->s127 + c)));
  v = sbtf_mbqm_right_x4(v, vldrwq_z_s32(f->mult + c, pr), vldrwq_z_s32(f->shift + c, pr));
  v = vminq_s32(vmaxq_s32(vaddq_n_s32(v, f->offset), f->lo), f->hi);
  vstrbq_p_s32(out + c, v, pr);
}

/* Every filter of one pixel (inputs x0, x1) into out[0 .. c_out - 1]. */
static inline __attribute__((always_inline)) void short_pixel(const short_filters *f,
                                                              int8x16_t x0, int8x16_t x1,
                                                              int8_t *out, const int TWO) {
  const int32_t rb = TWO ? 4 : 2, c_out = f->c_out;
  const uint8_t *m = f->mask;
  int32_t c = 0;
  for (; c + 4 <= c_out; c += 4, m += 4 * rb) {
    int32x4_t s = vdupq_n_s32(0);
    s = vsetq_lane_s32(short_sum(short_mask(m, TWO), x0, x1, TWO), s, 0);
    s = vsetq_lane_s32(short_sum(short_mask(m + rb, TWO), x0, x1, TWO), s, 1);
    s = vsetq_lane_s32(short_sum(short_mask(m + 2 * rb, TWO), x0, x1, TWO), s, 2);
    s = vsetq_lane_s32(short_sum(short_mask(m + 3 * rb, TWO), x0, x1, TWO), s, 3);
    short_finish(f, s, c, 4, out);
  }
  if (c < c_out) { /* the last 1..3 filters */
    int32_t s[4] = {0, 0, 0, 0};
    for (int32_t j = 0; j < c_out - c; ++j) s[j] = short_sum(short_mask(m + j * rb, TWO), x0, x1, TWO);
    short_finish(f, vld1q_s32(s), c, c_out - c, out);
  }
}

/* The convolution a->conv, when K <= 32, every shift is a right shift and the inputs come as one
   run (returns 1; 0: not taken, nothing written but scratch). Filters already checked. */
static int short_filter_pixels(const sbtf_core_args *a, const layout *l) {
  const sbtf_conv_view *cv = a->conv;
  if (cv == NULL || a->k > 32 || a->single_rounding || l->shift_max >= 0 || a->segments != 1)
    return 0;
  const sbtf_dims *in = cv->input_dims, *fd = cv->filter_dims, *od = cv->output_dims;
  const sbtf_conv_params *p = cv->params;
  const int32_t k = a->k, c_out = a->c_out, row_bytes = sbtf_mask_row_bytes(k);
  int32_t *base = l->base, *s127 = l->acc_b; /* c_pad entries each */
  for (int32_t c = 0; c < c_out; ++c) {
    const uint8_t *row = a->mask + (size_t)c * row_bytes;
    const int32_t pop = __builtin_popcount(row_bytes == 4 ? load_u32(row) : load_u16(row));
    s127[c] = 127 * a->sign[c];
    base[c] = (int32_t)((uint32_t)(a->bias ? a->bias[c] : 0) +
                        (uint32_t)(s127[c] * a->input_offset * pop));
  }
  for (int32_t c = c_out; c < l->c_pad; ++c) base[c] = s127[c] = 0; /* lanes never stored */
  const short_filters f = {a->mask, base, s127, a->quant->multiplier, a->quant->shift, c_out,
                           a->output_offset, vdupq_n_s32(a->act_min), vdupq_n_s32(a->act_max)};
  const int32_t c_in = in->c, run = fd->w * c_in;
  const size_t row_step = (size_t)p->dilation_h * in->w * c_in;
  const int short_runs = p->dilation_w == 1 && run <= 16;
  const mve_pred16_t run_p = vctp8q((uint32_t)run), p0 = vctp8q((uint32_t)k);
  const mve_pred16_t p1 = vctp8q((uint32_t)(k > 16 ? k - 16 : 0));
  int8_t *buf = l->row_a; /* 4 * groups_padded >= K bytes */
  int8_t *out = a->output;
  int32_t pixel = 0;
  for (int32_t n = 0; n < od->n; ++n) {
    const int8_t *image = cv->input + (size_t)n * in->h * in->w * c_in;
    for (int32_t oy = 0; oy < od->h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_h;
      const int rows_in = iy0 >= 0 && iy0 + (fd->h - 1) * p->dilation_h < in->h;
      for (int32_t ox = 0; ox < od->w; ++ox, ++pixel, out += c_out) {
        const int32_t ix0 = ox * p->stride_w - p->pad_w;
        const int8_t *row = buf;
        if (short_runs && rows_in && ix0 >= 0 && ix0 + fd->w <= in->w) {
          const int8_t *src = image + ((size_t)iy0 * in->w + ix0) * c_in;
          for (int32_t ky = 0; ky < fd->h; ++ky, src += row_step)
            vstrbq_p_s8(buf + ky * run, vldrbq_z_s8(src, run_p), run_p);
        } else {
          const int8_t *seg[SBTF_MAX_SEGMENTS];
          a->fill_row(a->row_self, pixel, buf, seg); /* one run, in buf or in place */
          row = seg[0];
        }
        const int8x16_t x0 = vldrbq_z_s8(row, p0), x1 = vldrbq_z_s8(row + 16, p1);
        if (k > 16)
          short_pixel(&f, x0, x1, out, 1);
        else
          short_pixel(&f, x0, x1, out, 0);
      }
    }
  }
  return 1;
}
