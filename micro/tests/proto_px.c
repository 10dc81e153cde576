/*
 * proto_px.c - PROTOTYPE: Helium signed-binary conv vectorized across output pixels.
 *
 * For one filter and one group of 4 inputs the table index (mask nibble) is the same for every
 * output pixel, so per group the 16 subset sums are laid out T[entry][pixel] (int16, 8 pixels
 * per vector): a lookup is a contiguous vector load + add, no gather. Inputs are the raw int8
 * x (no offset binary): acc = bias + 127 * sign * (sum_set x + input_offset * P).
 */
#include <arm_mve.h>
#include <stddef.h>
#include <string.h>

#include "sbtf_nn.h"

#define PX_LANES 8
#define PX_SUPER 64 /* groups per int16 accumulation (64 * 4 * 128 fits int16) */
#define PX_MAX_KW 16
#define PX_MAX_KH 32

typedef struct {
  int32_t pixel; /* first output pixel (raster index) */
  int32_t count; /* 0..8 pixels */
  int32_t iy0, ix0;
  const int8_t *image;
  int8_t *strip; /* [C_in][sp]: the input columns of the current kernel row, channel-major */
} px_vec;

typedef struct {
  const int8_t *input;
  int32_t in_h, in_w, in_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_h, pad_w, out_h, out_w;
  int32_t k, groups, c_out, row_bytes;
  const uint8_t *mask;
  int16_t zp;
  int32_t span, sp;   /* input columns one vector reads; strip bytes per channel */
  int16_t col_pos[2 * PX_MAX_KW * 8]; /* strip position of column j (phase-major: stride s_w) */
  int16_t tap_pos[PX_MAX_KW];         /* strip position of tap kx's pixel 0 */
  uint16x8_t sp_offs;  /* lane c: c * sp */
  uint8x16_t sp_offs8; /* lane c: c * sp (fast_fill) */
  int fast_fill;
  uint16x8_t out_offs; /* lane p: p * C_out */
} px_geom;

static void make_vec(const px_geom *g, int32_t seg, int8_t *strip, px_vec *v) {
  const int32_t segs_per_row = (g->out_w + PX_LANES - 1) / PX_LANES;
  const int32_t segs_total = segs_per_row * g->out_h; /* per image */
  memset(v, 0, sizeof(*v));
  v->strip = strip;
  v->image = g->input;
  if (seg < 0) return; /* an empty vector (odd block): no lanes, tables of zero points */
  const int32_t n = seg / segs_total, r = seg - n * segs_total;
  const int32_t oy = r / segs_per_row, ox0 = (r - oy * segs_per_row) * PX_LANES;
  v->count = g->out_w - ox0 < PX_LANES ? g->out_w - ox0 : PX_LANES;
  v->pixel = (n * g->out_h + oy) * g->out_w + ox0;
  v->iy0 = oy * g->s_h - g->pad_h;
  v->ix0 = ox0 * g->s_w - g->pad_w;
  v->image = g->input + (size_t)n * g->in_h * g->in_w * g->in_c;
}

/* Kernel row ky of vector v into its strip: channel c of column j at c * sp + col_pos[j];
   columns and rows outside the image hold the zero point. */
static void fill_strip(const px_geom *g, const px_vec *v, int32_t ky) {
  const int32_t iy = v->iy0 + ky * g->d_h, c_in = g->in_c;
  if (v->count == 0 || iy < 0 || iy >= g->in_h) {
    memset(v->strip, (int8_t)g->zp, (size_t)(c_in * g->sp));
    return;
  }
  const int8_t *row = v->image + (size_t)iy * g->in_w * c_in;
  /* Columns j_lo .. j_hi - 1 lie inside the image. */
  int32_t j_lo = -v->ix0, j_hi = g->in_w - v->ix0;
  j_lo = j_lo < 0 ? 0 : j_lo > g->span ? g->span : j_lo;
  j_hi = j_hi > g->span ? g->span : j_hi < j_lo ? j_lo : j_hi;
  const int8_t *src = row + (ptrdiff_t)(v->ix0 + j_lo) * c_in;
  const int16_t *pos = g->col_pos + j_lo;
  if (g->fast_fill) { /* C_in a multiple of 16, 15 * sp < 256: 16 channels per scatter */
    const int8x16_t zp8 = vdupq_n_s8((int8_t)g->zp);
    for (int32_t j = 0; j < j_lo; ++j)
      for (int32_t c = 0; c < c_in; c += 16)
        vstrbq_scatter_offset_s8(v->strip + g->col_pos[j] + c * g->sp, g->sp_offs8, zp8);
    for (int32_t j = j_hi; j < g->span; ++j)
      for (int32_t c = 0; c < c_in; c += 16)
        vstrbq_scatter_offset_s8(v->strip + g->col_pos[j] + c * g->sp, g->sp_offs8, zp8);
    if (c_in == 16 && g->s_w == 1) { /* the common small case: one scatter per column */
      int8_t *dst = v->strip + j_lo;
      for (int32_t j = j_lo; j < j_hi; ++j, src += 16, ++dst)
        vstrbq_scatter_offset_s8(dst, g->sp_offs8, vld1q_s8(src));
      return;
    }
    for (int32_t j = j_lo; j < j_hi; ++j, ++pos) {
      int8_t *dst = v->strip + *pos;
      for (int32_t c = 0; c < c_in; c += 16, src += 16, dst += 16 * g->sp)
        vstrbq_scatter_offset_s8(dst, g->sp_offs8, vld1q_s8(src));
    }
    return;
  }
  for (int32_t j = 0; j < g->span; ++j) {
    if (j == j_lo) j = j_hi;
    if (j == g->span) break;
    int8_t *dst = v->strip + g->col_pos[j];
    for (int32_t c = 0; c < c_in; ++c) dst[c * g->sp] = (int8_t)g->zp;
  }
  for (int32_t j = j_lo; j < j_hi; ++j, ++pos) {
    int8_t *dst = v->strip + *pos;
    for (int32_t c = 0; c < c_in; c += 8, src += 8, dst += 8 * g->sp) {
      const mve_pred16_t pr = vctp16q((uint32_t)(c_in - c));
      vstrbq_scatter_offset_p_s16(dst, g->sp_offs, vldrbq_z_s16(src, pr), pr);
    }
  }
}

/* Subset sums of channels c..c+3 (rows src, src + sp, ..; 8 pixels contiguous) into t:
   entries 1..7 through lo, 8..15 through hi, both advancing by `stride` int16s (entry 0
   stays 0). */
static inline __attribute__((always_inline)) void build_group(const int8_t *src, int32_t sp,
                                                              int16_t *t, const int32_t stride) {
  const int16x8_t p0 = vldrbq_s16(src), p1 = vldrbq_s16(src + sp);
  const int16x8_t p2 = vldrbq_s16(src + 2 * sp), p3 = vldrbq_s16(src + 3 * sp);
  int16_t *lo = t + stride, *hi = t + 8 * stride;
  /* Post-increment stores (GCC spends an add per store otherwise). */
#define PX_PUT1(ptr, x) \
  __asm__ volatile("vstrw.32 %q1, [%0], #%c2" : "+r"(ptr) : "w"(x), "i"(2 * stride) : "memory")
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

typedef struct {
  int32_t v, ch; /* vectors per block, groups per table chunk */
  int32_t *base;
  int16_t *tables;
  int16_t *acc16; /* [c_out][v][8] when groups > ch */
  int32_t *acc32; /* [c_out][v][8] (even lanes, odd lanes) when groups > PX_SUPER */
} px_layout;

static int32_t px_layout_bytes(int32_t v, int32_t ch, int32_t groups, int32_t c_out,
                               int32_t strip) {
  return 4 * c_out + 256 * v * ch + (groups > ch ? 16 * v * c_out : 0) +
         (groups > PX_SUPER ? 32 * v * c_out : 0) + v * ((strip + 3) / 4 * 4);
}

/* One filter's V accumulators to outputs: base + 127 * sign * acc, TFLite's double rounding
   for a right shift (see sbtf_requantize_right), offset, clamp, 8 outputs per scatter. */
static inline __attribute__((always_inline)) void finish(int16x8_t a, const int32_t *acc32,
                                                         int32_t base, int32_t s127, int32_t mult,
                                                         int32_t shift, int32_t offset,
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
  e = vqrdmulhq_n_s32(e, mult);
  o = vqrdmulhq_n_s32(o, mult);
  e = vaddq_s32(e, vshrq_n_s32(e, 31));
  o = vaddq_s32(o, vshrq_n_s32(o, 31));
  e = vaddq_n_s32(vrshlq_n_s32(e, shift), offset);
  o = vaddq_n_s32(vrshlq_n_s32(o, shift), offset);
  int16x8_t r = vqmovntq_s32(vqmovnbq_s32(vdupq_n_s16(0), e), o);
  r = vminq_s16(vmaxq_s16(r, lo_v), hi_v);
  vstrbq_scatter_offset_p_s16(out, out_offs, r, pr);
}

/* The nibbles of groups g0 .. g0 + 7 of a mask row (nib = nibbles the row still has there,
   a multiple of 4): one LDRH or LDR, never past the row. */
static inline uint32_t mask_bits(const uint8_t *m, int32_t nib) {
  if (nib >= 8) {
    uint32_t w;
    memcpy(&w, m, 4);
    return w;
  }
  uint16_t h;
  memcpy(&h, m, 2);
  return h;
}

#define PX_V 2

/* Lookups of chunk groups g0 .. g0 + CH - 1 for every filter (tables T[entry][group][vector]:
   a filter's whole chunk is addressed from one base per entry with immediate offsets); the
   accumulators stay in memory between chunks (int16) and between 64-group spans (int32);
   after the last chunk each filter is requantized straight from its registers. MODE (a
   constant): PX_FIRST starts the sums at 0, PX_LAST finishes them, PX_FLUSH adds them into
   the int32 sums (end of a 64-group span), none of these: int16 sums in and out. */
#define PX_FIRST 1
#define PX_LAST 2
#define PX_FLUSH 4
static inline __attribute__((always_inline)) void lookups_ch(
    const px_geom *g, const px_layout *l, const sbtf_conv_params *p, const sbtf_quant_params *q,
    const int8_t *sign, const px_vec *vec, int32_t g0, int8_t *output, const int CH,
    const int MODE) {
  const int32_t c_out = g->c_out, groups = g->groups;
  const int32_t nib = 4 * ((groups + 3) / 4) - g0;
  const int16x8_t lo_v = vdupq_n_s16((int16_t)p->activation_min),
                  hi_v = vdupq_n_s16((int16_t)p->activation_max);
  const mve_pred16_t pr0 = vctp16q((uint32_t)vec[0].count), pr1 = vctp16q((uint32_t)vec[1].count);
  const uint8_t *m = g->mask + g0 / 2;
  const int32_t row_bytes = g->row_bytes;
  int16_t *acc16 = l->acc16;
  int32_t *acc32 = l->acc32;
  const int16_t *t = l->tables;
  const int wide = groups > PX_SUPER;
  for (int32_t f = 0; f < c_out; ++f, m += row_bytes, acc16 += 16, acc32 += 16) {
    const uint32_t w = mask_bits(m, CH == 8 && (MODE & PX_LAST) ? nib : CH);
    int16x8_t a0, a1;
    if (MODE & PX_FIRST) {
      a0 = vdupq_n_s16(0);
      a1 = vdupq_n_s16(0);
    } else {
      a0 = vld1q_s16(acc16);
      a1 = vld1q_s16(acc16 + 8);
    }
#pragma GCC unroll 8
    for (int32_t gi = 0; gi < CH; ++gi) {
      const int16_t *e = t + ((w >> (4 * gi)) & 15u) * (CH * 16);
      int16x8_t x;
      __asm__ volatile(
          "vldrw.u32 %q2, [%3, #%c4]\n\tvadd.i16 %q0, %q0, %q2\n\t"
          "vldrw.u32 %q2, [%3, #%c5]\n\tvadd.i16 %q1, %q1, %q2"
          : "+w"(a0), "+w"(a1), "=&w"(x)
          : "r"(e), "i"(gi * 32), "i"(gi * 32 + 16));
    }
    if (MODE & PX_LAST) {
      const int32_t *prev = wide ? acc32 : NULL;
      const int32_t base = l->base[f], s127 = 127 * sign[f];
      const int32_t mult = q->multiplier[f], shift = q->shift[f];
      if (vec[0].count)
        finish(a0, prev, base, s127, mult, shift, p->output_offset, lo_v, hi_v,
               output + (size_t)vec[0].pixel * c_out + f, g->out_offs, pr0);
      if (vec[1].count)
        finish(a1, prev ? prev + 8 : NULL, base, s127, mult, shift, p->output_offset, lo_v, hi_v,
               output + (size_t)vec[1].pixel * c_out + f, g->out_offs, pr1);
    } else if (MODE & PX_FLUSH) {
      int32x4_t e0 = vmovlbq_s16(a0), o0 = vmovltq_s16(a0);
      int32x4_t e1 = vmovlbq_s16(a1), o1 = vmovltq_s16(a1);
      if (g0 >= PX_SUPER) {
        e0 = vaddq_s32(e0, vld1q_s32(acc32));
        o0 = vaddq_s32(o0, vld1q_s32(acc32 + 4));
        e1 = vaddq_s32(e1, vld1q_s32(acc32 + 8));
        o1 = vaddq_s32(o1, vld1q_s32(acc32 + 12));
      }
      vst1q_s32(acc32, e0);
      vst1q_s32(acc32 + 4, o0);
      vst1q_s32(acc32 + 8, e1);
      vst1q_s32(acc32 + 12, o1);
    } else {
      vst1q_s16(acc16, a0);
      vst1q_s16(acc16 + 8, a1);
    }
  }
}

#define PX_LOOKUPS(name, CH, MODE)                                                             \
  static void name(const px_geom *g, const px_layout *l, const sbtf_conv_params *p,           \
                   const sbtf_quant_params *q, const int8_t *sign, const px_vec *vec, int32_t g0, \
                   int8_t *output) {                                                           \
    lookups_ch(g, l, p, q, sign, vec, g0, output, CH, MODE);                                   \
  }
PX_LOOKUPS(lookups8_mid, 8, 0)
PX_LOOKUPS(lookups8_first, 8, PX_FIRST)
PX_LOOKUPS(lookups8_last, 8, PX_LAST)
PX_LOOKUPS(lookups8_only, 8, PX_FIRST | PX_LAST)
PX_LOOKUPS(lookups8_first_flush, 8, PX_FIRST | PX_FLUSH)
PX_LOOKUPS(lookups8_flush, 8, PX_FLUSH)
PX_LOOKUPS(lookups4_mid, 4, 0)
PX_LOOKUPS(lookups4_first, 4, PX_FIRST)
PX_LOOKUPS(lookups4_last, 4, PX_LAST)
PX_LOOKUPS(lookups4_only, 4, PX_FIRST | PX_LAST)
PX_LOOKUPS(lookups4_first_flush, 4, PX_FIRST | PX_FLUSH)
PX_LOOKUPS(lookups4_flush, 4, PX_FLUSH)

typedef void (*px_lookup_fn)(const px_geom *, const px_layout *, const sbtf_conv_params *,
                             const sbtf_quant_params *, const int8_t *, const px_vec *, int32_t,
                             int8_t *);
/* [ch == 8][mode]: mode = first | last << 1 | flush << 2 (flush only without last). */
static const px_lookup_fn px_lookups[2][6] = {
    {lookups4_mid, lookups4_first, lookups4_last, lookups4_only, lookups4_flush,
     lookups4_first_flush},
    {lookups8_mid, lookups8_first, lookups8_last, lookups8_only, lookups8_flush,
     lookups8_first_flush},
};

/* Where the next group's inputs are: kernel tap (ky, kx), channel c. */
typedef struct {
  int32_t ky, kx, c;
} px_walk;

static inline __attribute__((always_inline)) void build_chunk(const px_geom *g, const px_vec *vec,
                                                              const px_layout *l, int32_t gn,
                                                              px_walk *st, const int CH) {
  int16_t *t = l->tables;
  const int8_t *s0 = vec[0].strip, *s1 = vec[1].strip;
  const int32_t sp = g->sp, c_in = g->in_c;
  int32_t c = st->c, at = c * sp + g->tap_pos[st->kx];
  for (int32_t gi = 0; gi < gn; ++gi, t += PX_V * PX_LANES) {
    build_group(s0 + at, sp, t, CH * PX_V * PX_LANES);
    build_group(s1 + at, sp, t + PX_LANES, CH * PX_V * PX_LANES);
    c += 4;
    at += 4 * sp;
    if (c == c_in) {
      c = 0;
      if (++st->kx == g->k_w) {
        st->kx = 0;
        if (++st->ky < g->k_h)
          for (int32_t v = 0; v < PX_V; ++v) fill_strip(g, &vec[v], st->ky);
      }
      at = g->tap_pos[st->kx];
    }
  }
  st->c = c;
}

static void build_chunk8(const px_geom *g, const px_vec *vec, const px_layout *l, int32_t gn,
                         px_walk *st) {
  build_chunk(g, vec, l, gn, st, 8);
}

static void build_chunk4(const px_geom *g, const px_vec *vec, const px_layout *l, int32_t gn,
                         px_walk *st) {
  build_chunk(g, vec, l, gn, st, 4);
}

sbtf_status px_conv2d_s8(const sbtf_context *ctx, const sbtf_conv_params *p,
                         const sbtf_quant_params *q, const sbtf_dims *in, const int8_t *input,
                         const sbtf_dims *fd, const uint8_t *mask, const int8_t *sign,
                         const int32_t *bias, const sbtf_dims *od, int8_t *output) {
  const int32_t k = fd->h * fd->w * fd->c, groups = k / 4, c_out = fd->n;
  if (in->c % 4 != 0 || 7 * c_out > 65535 ||
      fd->w > PX_MAX_KW || fd->h > PX_MAX_KH)
    return SBTF_ERROR_BAD_SHAPE;
  for (int32_t f = 0; f < c_out; ++f)
    if (q->shift[f] > -1) return SBTF_ERROR_BAD_PARAM;
  const int32_t s_w = p->stride_w, span = (PX_LANES - 1) * s_w + (fd->w - 1) * p->dilation_w + 1;
  if (span > 2 * PX_MAX_KW * 8) return SBTF_ERROR_BAD_SHAPE;
  const int32_t strip = in->c * span;
  px_layout l = {.v = PX_V, .ch = 0};
  static const int32_t chunks[] = {8, 4};
  for (int32_t i = 0; i < 2 && l.ch == 0; ++i)
    if (px_layout_bytes(PX_V, chunks[i], groups, c_out, strip) <= ctx->size) l.ch = chunks[i];
  if (l.ch == 0) return SBTF_ERROR_BUFFER_SIZE;
  uint8_t *buf = (uint8_t *)ctx->buf;
  l.base = (int32_t *)(void *)buf;
  buf += 4 * c_out;
  l.acc32 = (int32_t *)(void *)buf;
  buf += groups > PX_SUPER ? 32 * PX_V * c_out : 0;
  l.tables = (int16_t *)(void *)buf;
  buf += 256 * PX_V * l.ch;
  l.acc16 = (int16_t *)(void *)buf;
  buf += groups > l.ch ? 16 * PX_V * c_out : 0;
  int8_t *strips = (int8_t *)buf;
  px_geom g = {
      .input = input, .in_h = in->h, .in_w = in->w, .in_c = in->c, .k_h = fd->h, .k_w = fd->w,
      .s_h = p->stride_h, .s_w = p->stride_w, .d_h = p->dilation_h, .d_w = p->dilation_w,
      .pad_h = p->pad_h, .pad_w = p->pad_w, .out_h = od->h, .out_w = od->w, .k = k,
      .groups = groups, .c_out = c_out, .row_bytes = sbtf_mask_row_bytes(k), .mask = mask,
      .zp = (int16_t)(-p->input_offset), .span = span, .sp = span,
      .sp_offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)span),
      .sp_offs8 = vmulq_n_u8(vidupq_n_u8(0, 1), (uint8_t)span),
      .fast_fill = in->c % 16 == 0 && 15 * span < 256,
      .out_offs = vmulq_n_u16(vidupq_n_u16(0, 1), (uint16_t)c_out),
  };
  /* Phase-major columns: column j at (sum of the phases before j % s_w) + j / s_w, so that tap
     kx's 8 pixels (columns kx * d_w + p * s_w) are contiguous. */
  for (int32_t j = 0, base = 0, ph = 0; ph < s_w; base += (span - ph + s_w - 1) / s_w, ++ph)
    for (j = ph; j < span; j += s_w) g.col_pos[j] = (int16_t)(base + j / s_w);
  for (int32_t kx = 0; kx < fd->w; ++kx) g.tap_pos[kx] = g.col_pos[kx * p->dilation_w];
  const int32_t row_bytes = g.row_bytes;
  for (int32_t f = 0; f < c_out; ++f) {
    uint32_t pop = 0;
    const uint8_t *mr = mask + (size_t)f * row_bytes;
    for (int32_t i = 0; i < row_bytes; i += 16) {
      const mve_pred16_t pr = vctp8q((uint32_t)(row_bytes - i));
      uint8x16_t x = vldrbq_z_u8(mr + i, pr);
      x = vsubq_u8(x, vandq_u8(vshrq_n_u8(x, 1), vdupq_n_u8(0x55)));
      x = vaddq_u8(vandq_u8(x, vdupq_n_u8(0x33)), vandq_u8(vshrq_n_u8(x, 2), vdupq_n_u8(0x33)));
      x = vandq_u8(vaddq_u8(x, vshrq_n_u8(x, 4)), vdupq_n_u8(0x0F));
      pop = vaddvaq_u8(pop, x);
    }
    l.base[f] = (int32_t)((uint32_t)(bias ? bias[f] : 0) +
                          (uint32_t)(127 * sign[f] * p->input_offset * (int32_t)pop));
  }
  /* Tables T[entry][group][vector][8]; entry 0 (the empty sum) is 0 and never written. */
  const int32_t entry = l.ch * PX_V * PX_LANES;
  for (int32_t i = 0; i < entry; i += 8) vst1q_s16(l.tables + i, vdupq_n_s16(0));
  const int32_t segs = (od->w + PX_LANES - 1) / PX_LANES * od->h * od->n;
  for (int32_t s0 = 0; s0 < segs; s0 += PX_V) {
    px_vec vec[PX_V];
    for (int32_t v = 0; v < PX_V; ++v) {
      make_vec(&g, s0 + v < segs ? s0 + v : -1, strips + v * ((strip + 3) / 4 * 4), &vec[v]);
      fill_strip(&g, &vec[v], 0);
    }
    px_walk st = {0, 0, 0};
    for (int32_t g0 = 0; g0 < groups; g0 += l.ch) {
      const int32_t gn = groups - g0 < l.ch ? groups - g0 : l.ch;
      if (l.ch == 8)
        build_chunk8(&g, vec, &l, gn, &st);
      else
        build_chunk4(&g, vec, &l, gn, &st);
      const int first = g0 % PX_SUPER == 0, last = g0 + gn == groups;
      const int flush = !last && (g0 + gn) % PX_SUPER == 0;
      const int mode = flush ? 4 + first : first | last << 1;
      px_lookups[l.ch == 8][mode](&g, &l, p, q, sign, vec, g0, output);
    }
  }
  return SBTF_OK;
}
