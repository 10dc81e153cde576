/*
 * sbtf_depthwise_conv2d_s8.c - SBTF_DEPTHWISE_CONV_2D: signed-binary depthwise convolution.
 *
 * Output channel c reads input channel c / M (M = depth multiplier) at KH * KW taps; its mask row
 * has one bit per tap (bit ky * KW + kx). Per call the masks are decoded into byte masks
 * (0x00 / 0xFF) laid out [channel / 8][tap][channel % 8], so the 8 channels a pass handles read
 * their masks tap after tap from one pointer:
 *     S_c = sum over taps of (x_tap[c / M] & m_tap[c])       (raw int8, taps outside = zero point)
 *     acc_c = bias_c + 127 * sign_c * (S_c + input_offset * P_c),   P_c = popcount of row c
 * Taps in the padding read a row of zero points (x + input_offset = 0 there, as TFLite skips
 * them), so P_c is a per-channel constant folded into base_c once per call, next to the
 * channel's other constants (one record per channel, read with two LDRDs). With M = 1 and
 * K <= 255 the sums fit 16 bits: on the DSP path two ANDs and four SXTAB16 add 8 channels of a
 * tap into 16-bit halves; on Helium a widening load, VAND and VADD add 8 channels, and 4 channels
 * at a time are requantized. Otherwise (and portable builds) one channel at a time.
 */
#include <stddef.h>
#include <string.h>

#include "sbtf_nn_internal.h"

#if defined(SBTF_PATH_DSP)
#include <arm_acle.h>
#elif defined(SBTF_PATH_MVE)
#include <arm_mve.h>
#endif

/* Taps summed in 16-bit halves before |S| could leave int16: 255 * 128 < 2^15. */
#define DW_MAX_HALF_TAPS 255

/* Channels per pass and per group of decoded masks. */
#define DW_LANES 8

static inline int32_t round_lanes(int32_t v) { return (v + DW_LANES - 1) / DW_LANES * DW_LANES; }

/* Per output channel: acc = base + scale * S, then requantization by multiplier and shift. */
typedef struct {
  int32_t base;  /* bias + 127 * sign * input_offset * popcount */
  int32_t scale; /* 127 * sign */
  int32_t multiplier;
  int32_t shift;
} dw_channel;

/* Scratch layout for K taps and C_out channels (c_pad = C_out rounded up to 8), whose size is
 * SBTF_DEPTHWISE_SCRATCH_BYTES (checked here in 64 bits first):
 *   dw_channel ch[c_pad]       16 bytes per channel
 *   int8  zero_points[c_pad]   what taps in the padding read
 *   uint8 masks[c_pad / 8][K][8]   0xFF where tap t of channel c is set
 *   const int8_t *taps[K]      one output pixel's tap addresses (pointer-aligned, so one
 *                              pointer of slack) */
static int64_t layout_bytes(int32_t k, int32_t c_out) {
  const int64_t c_pad = round_lanes(c_out);
  return (17 + (int64_t)k) * c_pad + ((int64_t)k + 1) * (int64_t)sizeof(const int8_t *);
}

static sbtf_status check_shapes(const sbtf_dims *in, const sbtf_dims *filter, const sbtf_dims *out,
                                int32_t depth_multiplier) {
  if (in == NULL || filter == NULL || out == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (!sbtf_dims_ok(in) || !sbtf_dims_ok(filter) || !sbtf_dims_ok(out)) return SBTF_ERROR_BAD_SHAPE;
  if (depth_multiplier < 1 || filter->n != 1 || out->n != in->n || out->c != filter->c ||
      (int64_t)in->c * depth_multiplier != filter->c)
    return SBTF_ERROR_BAD_SHAPE;
  if ((int64_t)filter->h * filter->w > SBTF_MAX_K || filter->c > SBTF_MAX_OUTPUT_CHANNELS ||
      layout_bytes(filter->h * filter->w, filter->c) > INT32_MAX)
    return SBTF_ERROR_BAD_SHAPE;
  return SBTF_OK;
}

int32_t sbtf_depthwise_conv2d_s8_get_buffer_size(const sbtf_dims *input_dims,
                                                 const sbtf_dims *filter_dims,
                                                 const sbtf_dims *output_dims,
                                                 int32_t depth_multiplier) {
  const sbtf_status status = check_shapes(input_dims, filter_dims, output_dims, depth_multiplier);
  if (status != SBTF_OK) return status;
  return SBTF_DEPTHWISE_SCRATCH_BYTES(filter_dims->h * filter_dims->w, filter_dims->c);
}

typedef struct {
  int32_t k, c_out, mult;
  int right_only; /* every shift <= -1 (the usual case): no left shift, no branch */
  int32_t output_offset, act_min, act_max;
  const dw_channel *ch;
  const uint8_t *masks;
  const int8_t *const *taps;
} dw_run;

static inline __attribute__((always_inline)) int8_t finish(const dw_channel *ch, int32_t sum,
                                                           int32_t offset, int32_t lo, int32_t hi,
                                                           int right_only) {
  const int32_t acc = (int32_t)((uint32_t)ch->base + (uint32_t)(ch->scale * sum));
  int32_t v = (right_only ? sbtf_mbqm_right(acc, ch->multiplier, -ch->shift - 1)
                          : sbtf_mbqm_nonneg(acc, ch->multiplier, ch->shift)) + offset;
  v = v > lo ? v : lo;
  return (int8_t)(v < hi ? v : hi);
}

/* Channels [c0, C_out) of one pixel, one at a time (any depth multiplier). */
static void channels_scalar(const dw_run *r, int32_t c0, int8_t *out) {
  for (int32_t c = c0; c < r->c_out; ++c) {
    const int32_t ic = c / r->mult;
    const uint8_t *m = r->masks + (size_t)(c / DW_LANES) * DW_LANES * r->k + c % DW_LANES;
    int32_t s = 0;
    for (int32_t t = 0; t < r->k; ++t, m += DW_LANES) s += (int8_t)((uint8_t)r->taps[t][ic] & *m);
    out[c] = finish(&r->ch[c], s, r->output_offset, r->act_min, r->act_max, 0);
  }
}

#if defined(SBTF_PATH_DSP)
static inline uint32_t load_u32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* acc + sign-extended bytes 1 and 3 of v into its two halves (GCC does not fold the rotation). */
static inline uint32_t sxtab16_ror8(uint32_t acc, uint32_t v) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(v));
  return r;
}

/* Channels 0 .. C_out / 8 * 8 - 1 of one pixel, 8 per pass (M = 1, K <= DW_MAX_HALF_TAPS).
   k is a constant in the 3x3 instance (the tap loop unrolls). Parameters are read into locals
   once: stores to the int8 output may alias anything, so fields would be reloaded per store. */
static inline __attribute__((always_inline)) int32_t channels_dsp_k(const dw_run *r, int8_t *out,
                                                                    int32_t k, int right_only) {
  const int8_t *const *taps = r->taps;
  const uint32_t *m = (const uint32_t *)(const void *)r->masks;
  const dw_channel *ch = r->ch;
  const int32_t c_end = r->c_out / DW_LANES * DW_LANES;
  const int32_t offset = r->output_offset, lo = r->act_min, hi = r->act_max;
  for (int32_t c = 0; c < c_end; c += DW_LANES) {
    /* channels c + {0, 2}, c + {1, 3}, c + {4, 6}, c + {5, 7} in 16-bit halves */
    uint32_t even = 0, odd = 0, even4 = 0, odd4 = 0;
#pragma GCC unroll 9
    for (int32_t t = 0; t < k; ++t, m += 2) {
      const int8_t *x = taps[t] + c;
      const uint32_t v = load_u32(x) & m[0], v4 = load_u32(x + 4) & m[1];
      even = __sxtab16(even, v);
      odd = sxtab16_ror8(odd, v);
      even4 = __sxtab16(even4, v4);
      odd4 = sxtab16_ror8(odd4, v4);
    }
    const dw_channel *q = ch + c;
    out[c] = finish(q, (int16_t)even, offset, lo, hi, right_only);
    out[c + 1] = finish(q + 1, (int16_t)odd, offset, lo, hi, right_only);
    out[c + 2] = finish(q + 2, (int16_t)(even >> 16), offset, lo, hi, right_only);
    out[c + 3] = finish(q + 3, (int16_t)(odd >> 16), offset, lo, hi, right_only);
    out[c + 4] = finish(q + 4, (int16_t)even4, offset, lo, hi, right_only);
    out[c + 5] = finish(q + 5, (int16_t)odd4, offset, lo, hi, right_only);
    out[c + 6] = finish(q + 6, (int16_t)(even4 >> 16), offset, lo, hi, right_only);
    out[c + 7] = finish(q + 7, (int16_t)(odd4 >> 16), offset, lo, hi, right_only);
  }
  return c_end;
}

static int32_t channels_dsp(const dw_run *r, int8_t *out) {
  if (r->right_only)
    return r->k == 9 ? channels_dsp_k(r, out, 9, 1) : channels_dsp_k(r, out, r->k, 1);
  return channels_dsp_k(r, out, r->k, 0);
}
#elif defined(SBTF_PATH_MVE)
/* Sums of channels c .. c + 7; `tail`: only the first n lanes are loaded (the rest stay 0). */
static inline __attribute__((always_inline)) int16x8_t sums8(const int8_t *const *taps,
                                                             const int8_t *m, int32_t c,
                                                             int32_t k, int tail, int32_t n) {
  int16x8_t acc = vdupq_n_s16(0);
  const mve_pred16_t p = vctp16q((uint32_t)n);
  for (int32_t t = 0; t < k; ++t, m += DW_LANES) { /* not unrolled: GCC would spill Q registers */
    const int16x8_t x = tail ? vldrbq_z_s16(taps[t] + c, p) : vldrbq_s16(taps[t] + c);
    acc = vaddq_s16(acc, vandq_s16(x, vldrbq_s16(m)));
  }
  return acc;
}

/* All channels of one pixel, 8 per pass (M = 1, K <= DW_MAX_HALF_TAPS): the input loads are
   predicated only in the last, partial pass (it must not read past the pixel). */
static inline __attribute__((always_inline)) int32_t channels_mve_k(const dw_run *r, int8_t *out,
                                                                    int32_t k) {
  const int8_t *const *taps = r->taps;
  const int8_t *m = (const int8_t *)r->masks;
  const int32_t c_out = r->c_out;
  const int32x4_t lo = vdupq_n_s32(r->act_min), hi = vdupq_n_s32(r->act_max);
  int16_t sums[DW_LANES];
  for (int32_t c = 0; c < c_out; c += DW_LANES, m += DW_LANES * k) {
    const int16x8_t acc = c + DW_LANES <= c_out ? sums8(taps, m, c, k, 0, DW_LANES)
                                                : sums8(taps, m, c, k, 1, c_out - c);
    vst1q_s16(sums, acc);
    for (int32_t h = 0; h < DW_LANES && c + h < c_out; h += 4) {
      /* 4 records {base, scale, multiplier, shift} de-interleaved (c_pad records exist). */
      const int32x4x4_t ch = vld4q_s32((const int32_t *)(const void *)&r->ch[c + h]);
      int32x4_t v = vaddq_s32(ch.val[0], vmulq_s32(ch.val[1], vldrhq_s32(sums + h)));
      v = vaddq_n_s32(sbtf_mbqm_x4(v, ch.val[2], ch.val[3]), r->output_offset);
      const mve_pred16_t p = vctp32q((uint32_t)(c_out - c - h));
      vstrbq_p_s32(out + c + h, vminq_s32(vmaxq_s32(v, lo), hi), p);
    }
  }
  return c_out;
}

static int32_t channels_mve(const dw_run *r, int8_t *out) { return channels_mve_k(r, out, r->k); }
#endif

sbtf_status sbtf_depthwise_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *params,
                                     int32_t depth_multiplier,
                                     const sbtf_quant_params *quant, const sbtf_dims *input_dims,
                                     const int8_t *input, const sbtf_dims *filter_dims,
                                     const uint8_t *mask, const int8_t *sign, const int32_t *bias,
                                     const sbtf_dims *output_dims, int8_t *output) {
  if (ctx == NULL || params == NULL || quant == NULL || quant->multiplier == NULL ||
      quant->shift == NULL || input == NULL || mask == NULL || sign == NULL || output == NULL)
    return SBTF_ERROR_NULL_ARGUMENT;
  sbtf_status status = check_shapes(input_dims, filter_dims, output_dims, depth_multiplier);
  if (status != SBTF_OK) return status;
  const sbtf_conv_params *p = params;
  SBTF_RETURN_IF_BAD_CONV_WINDOW(status, p, input_dims, filter_dims, output_dims);

  const int32_t k = filter_dims->h * filter_dims->w, c_out = filter_dims->c;
  const int32_t need = SBTF_DEPTHWISE_SCRATCH_BYTES(k, c_out);
  if (ctx->size < need) return SBTF_ERROR_BUFFER_SIZE;
  if (ctx->buf == NULL) return SBTF_ERROR_NULL_ARGUMENT;
  if (((uintptr_t)ctx->buf & 3u) != 0) return SBTF_ERROR_BAD_PARAM;
  int right_only = 1;
  for (int32_t c = 0; c < c_out; ++c) {
    if ((sign[c] != 1 && sign[c] != -1) ||
        SBTF_QUANT_CHANNEL_BAD(quant->multiplier[c], quant->shift[c]))
      return SBTF_ERROR_BAD_PARAM;
    right_only &= quant->shift[c] < 0;
  }
  if (!sbtf_mask_padding_ok(mask, k, c_out)) return SBTF_ERROR_BAD_PARAM;

  const int32_t c_pad = round_lanes(c_out), row_bytes = sbtf_mask_row_bytes(k);
  uint8_t *buf = (uint8_t *)ctx->buf;
  dw_channel *ch = (dw_channel *)(void *)buf;
  int8_t *zero_points = (int8_t *)(buf + 16 * c_pad);
  uint8_t *masks = buf + 17 * c_pad;
  const uintptr_t taps_at = (uintptr_t)(masks + (size_t)k * c_pad);
  const size_t ptr = sizeof(const int8_t *);
  const int8_t **taps = (const int8_t **)(void *)((taps_at + ptr - 1) / ptr * ptr);
  memset(zero_points, -p->input_offset, (size_t)c_pad);
  for (int32_t c = 0; c < c_pad; ++c) {
    int32_t popcount = 0;
    for (int32_t t = 0; t < k; ++t) {
      const int set = c < c_out && ((mask[(size_t)c * row_bytes + t / 8] >> (t % 8)) & 1);
      masks[((size_t)(c / DW_LANES) * k + t) * DW_LANES + c % DW_LANES] = set ? 0xFF : 0x00;
      popcount += set;
    }
    if (c < c_out) {
      ch[c].scale = 127 * sign[c];
      ch[c].base = (int32_t)((uint32_t)(bias ? bias[c] : 0) +
                             (uint32_t)(ch[c].scale * p->input_offset * popcount));
      ch[c].multiplier = quant->multiplier[c];
      ch[c].shift = quant->shift[c];
    }
  }

  const dw_run r = {k, c_out, depth_multiplier, right_only, p->output_offset,
                    p->activation_min, p->activation_max, ch, masks, taps};
  const int32_t in_h = input_dims->h, in_w = input_dims->w, in_c = input_dims->c;
  const int32_t k_h = filter_dims->h, k_w = filter_dims->w;
  const size_t row_step = (size_t)p->dilation_h * in_w * in_c;
  const size_t col_step = (size_t)p->dilation_w * in_c;
  for (int32_t n = 0; n < output_dims->n; ++n) {
    const int8_t *image = input + (size_t)n * in_h * in_w * in_c;
    for (int32_t oy = 0; oy < output_dims->h; ++oy)
      for (int32_t ox = 0; ox < output_dims->w; ++ox) {
        const int32_t iy0 = oy * p->stride_h - p->pad_h, ix0 = ox * p->stride_w - p->pad_w;
        if (iy0 >= 0 && iy0 + (k_h - 1) * p->dilation_h < in_h && ix0 >= 0 &&
            ix0 + (k_w - 1) * p->dilation_w < in_w) { /* every tap inside (most pixels) */
          const int8_t *row = image + ((size_t)iy0 * in_w + ix0) * in_c;
          for (int32_t ky = 0, t = 0; ky < k_h; ++ky, row += row_step) {
            const int8_t *tap = row;
            for (int32_t kx = 0; kx < k_w; ++kx, ++t, tap += col_step) taps[t] = tap;
          }
        } else {
          for (int32_t ky = 0, t = 0; ky < k_h; ++ky) {
            const int32_t iy = iy0 + ky * p->dilation_h;
            for (int32_t kx = 0; kx < k_w; ++kx, ++t) {
              const int32_t ix = ix0 + kx * p->dilation_w;
              taps[t] = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w
                            ? image + ((size_t)iy * in_w + ix) * in_c
                            : zero_points;
            }
          }
        }
        int8_t *out = output + (((size_t)n * output_dims->h + oy) * output_dims->w + ox) * c_out;
        int32_t c0 = 0;
#if defined(SBTF_PATH_DSP)
        if (r.mult == 1 && k <= DW_MAX_HALF_TAPS) c0 = channels_dsp(&r, out);
#elif defined(SBTF_PATH_MVE)
        if (r.mult == 1 && k <= DW_MAX_HALF_TAPS) c0 = channels_mve(&r, out);
#endif
        channels_scalar(&r, c0, out);
      }
  }
  return SBTF_OK;
}
