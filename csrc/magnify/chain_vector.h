// The float32 magnification chain on explicit vectors (GCC vector extensions, x86 with AVX2 +
// FMA): kWidth coefficients per vector (8 on AVX2, 16 on AVX-512), kGroups independent vectors
// per step, each stage written for all of them before the next. One vector's chain (complex
// product, division, two polynomials, selects: over 100 cycles of dependent latency) is
// longer than the out-of-order window overlaps, so the loop the compiler vectorises on its
// own waits on latency; interleaving kGroups of them makes it 1.3x (AVX-512) to 1.9x (AVX2)
// faster (bench/magnify_chain.py, docs/performance.md). The arithmetic is magnify.cpp's scalar
// chain expression for expression (polynomials.h), so it gives the same bits; the selects are
// blends or bit operations with the same results.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9 && defined(__AVX2__) && \
    defined(__FMA__)
#define PK_VECTOR_CHAIN 1

#include <cstdint>
#include <cstring>
#include <utility>

#include "polynomials.h"

namespace pk_magnify {

#ifdef __AVX512F__
constexpr int kWidth = 16;
constexpr int kGroups = 4;
#else
constexpr int kWidth = 8;
constexpr int kGroups = 6;
#endif

typedef float Floats __attribute__((vector_size(4 * kWidth)));
typedef int32_t Ints __attribute__((vector_size(4 * kWidth)));

// Lane orders. AVX2: de-interleaving two vectors of complex numbers with in-lane shuffles
// leaves lanes in the order 0 1 4 5 2 3 6 7 (one instruction per vector instead of two); the
// filter state is permuted to match on load and back on store, and the unpacks that
// re-interleave the result undo the order. AVX-512: natural order (one permute each way).
template <int... I>
constexpr Ints lanes(std::integer_sequence<int, I...>, int stride, int offset) {
  return Ints{(I * stride + offset)...};
}
template <int... I>
constexpr Ints zipped(std::integer_sequence<int, I...>, int offset) {  // a0 b0 a1 b1 ...
  return Ints{((I & 1) ? kWidth + offset + I / 2 : offset + I / 2)...};
}
constexpr auto kLanes = std::make_integer_sequence<int, kWidth>{};
#ifdef __AVX512F__
constexpr Ints kReal = lanes(kLanes, 2, 0), kImag = lanes(kLanes, 2, 1);
constexpr Ints kZipLow = zipped(kLanes, 0), kZipHigh = zipped(kLanes, kWidth / 2);
inline Floats in_order(Floats v) { return v; }  // the state's lanes: already in order
#else
constexpr Ints kReal = {0, 2, 8, 10, 4, 6, 12, 14}, kImag = {1, 3, 9, 11, 5, 7, 13, 15};
constexpr Ints kZipLow = {0, 8, 1, 9, 4, 12, 5, 13}, kZipHigh = {2, 10, 3, 11, 6, 14, 7, 15};
constexpr Ints kOrder = {0, 1, 4, 5, 2, 3, 6, 7};
inline Floats in_order(Floats v) {  // the state's lanes in the coefficients' order (or back)
  return __builtin_shuffle(v, kOrder);
}
#endif
constexpr Ints kSign = Ints{} + int32_t(0x80000000u);  // each lane's sign bit

inline Floats load(const float* p) {
  Floats v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Floats v) { std::memcpy(p, &v, sizeof v); }
inline Floats bits_as_floats(Ints v) { return (Floats)v; }  // a vector cast keeps the bits
inline Ints float_bits(Floats v) { return (Ints)v; }

// atan2(y, x) per lane: magnify.cpp's fast_atan2 (octant reduction, atan_unit). |x| and |y|
// order as their bits, so max and min are integer ones; the last sign by a bit operation.
inline Floats atan2_lanes(Floats y, Floats x) {
  const Ints ix = float_bits(x) & ~kSign, iy = float_bits(y) & ~kSign;
  const Floats big = bits_as_floats(ix > iy ? ix : iy), small = bits_as_floats(ix > iy ? iy : ix);
  const Floats t = bits_as_floats(float_bits(small / big) & (big > 0.0f));  // 0 where big = 0
  Floats r = atan_unit(t);
  r = iy > ix ? 1.57079632679f - r : r;
  r = x < 0.0f ? 3.14159265359f - r : r;
  return bits_as_floats(float_bits(r) ^ ((y < 0.0f) & kSign));
}

// (cos a, sin a) per lane: magnify.cpp's fast_sincos (quadrant swap and signs from q's bits).
inline void sincos_lanes(Floats a, Floats& c, Floats& s) {
  const Floats q = quarter_turns(a);
  Floats sr, cr;
  sincos_reduced(a, q, sr, cr);
  const Ints quadrant = __builtin_convertvector(q, Ints);
  const Ints odd = (quadrant << 31) < 0;
  const Floats swapped_s = odd ? cr : sr, swapped_c = odd ? sr : cr;
  s = bits_as_floats(float_bits(swapped_s) ^ ((quadrant << 30) & kSign));
  c = bits_as_floats(float_bits(swapped_c) ^ (((quadrant + 1) << 30) & kSign));
}

// One frame of the chain over coefficients [begin, end) in steps of kWidth * kGroups; returns
// where it stopped (the rest, fewer than a step, is the caller's). c and o may be the same.
// filter: five values, (b0, b1, b2, a1, a2) of the biquad or (r_hi, r_lo, 0, 0, 0) of the
// difference.
template <bool Difference>
int64_t vector_chain(const float* c, const float* __restrict__ r, float* __restrict__ s1,
                     float* __restrict__ s2, float* o, int64_t begin, int64_t end,
                     const float* filter, float gain_, float keep_) {
  const Floats f0 = Floats{} + filter[0], f1 = Floats{} + filter[1], f2 = Floats{} + filter[2];
  const Floats f3 = Floats{} + filter[3], f4 = Floats{} + filter[4];
  const Floats gain = Floats{} + gain_, keep = Floats{} + keep_;
  constexpr int64_t step = kWidth * kGroups;
  int64_t i = begin;
  for (; i + step <= end; i += step) {
    Floats re[kGroups], im[kGroups], delta[kGroups], angle[kGroups];
#pragma GCC unroll 16
    for (int k = 0; k < kGroups; ++k) {
      const float* ck = c + 2 * (i + kWidth * k);
      const float* rk = r + 2 * (i + kWidth * k);
      const Floats c0 = load(ck), c1 = load(ck + kWidth), r0 = load(rk), r1 = load(rk + kWidth);
      re[k] = __builtin_shuffle(c0, c1, kReal);
      im[k] = __builtin_shuffle(c0, c1, kImag);
      const Floats rr = __builtin_shuffle(r0, r1, kReal), ri = __builtin_shuffle(r0, r1, kImag);
      delta[k] = atan2_lanes(im[k] * rr - re[k] * ri, re[k] * rr + im[k] * ri);
    }
#pragma GCC unroll 16
    for (int k = 0; k < kGroups; ++k) {
      const int64_t j = i + kWidth * k;
      const Floats a = in_order(load(s1 + j)), b = in_order(load(s2 + j)), d = delta[k];
      Floats y;
      if constexpr (Difference) {
        const Floats hi = a + f0 * (d - a), lo = b + f1 * (d - b);
        store(s1 + j, in_order(hi));
        store(s2 + j, in_order(lo));
        y = hi - lo;
      } else {
        y = f0 * d + a;
        store(s1 + j, in_order(Floats(f1 * d - f3 * y + b)));
        store(s2 + j, in_order(Floats(f2 * d - f4 * y)));
      }
      angle[k] = gain * y - keep * d;
    }
#pragma GCC unroll 16
    for (int k = 0; k < kGroups; ++k) {
      Floats cr, ci;
      sincos_lanes(angle[k], cr, ci);
      const Floats out_re = re[k] * cr - im[k] * ci, out_im = re[k] * ci + im[k] * cr;
      float* ok = o + 2 * (i + kWidth * k);
      store(ok, __builtin_shuffle(out_re, out_im, kZipLow));
      store(ok + kWidth, __builtin_shuffle(out_re, out_im, kZipHigh));
    }
  }
  return i;
}

}  // namespace pk_magnify

#endif
