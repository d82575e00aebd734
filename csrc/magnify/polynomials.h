// The float32 polynomials of the magnification chain's atan2 and sincos, written once for a
// scalar float and for a GCC vector of floats (the same expressions, so the scalar loop, the
// compiler-vectorised one and chain_vector.h give the same bits). Errors: atan on [0, 1]
// below 2e-7 rad; sin and cos of a reduced argument below 2e-7.
#pragma once

namespace pk_magnify {

// atan(t) for t in [0, 1]: an odd minimax polynomial in t.
template <typename F>
inline F atan_unit(F t) {
  const F s = t * t;
  F p = -0.0040540580f * s + 0.0218612288f;
  p = p * s - 0.0559098861f;
  p = p * s + 0.0964200441f;
  p = p * s - 0.1390853351f;
  p = p * s + 0.1994653599f;
  p = p * s - 0.3332985605f;
  p = p * s + 0.9999993329f;
  return p * t;
}

// a / (pi / 2) rounded to the nearest integer (valid for |a| < 2^22), as a float.
template <typename F>
inline F quarter_turns(F a) {
  return (a * 0.63661977236f + 12582912.0f) - 12582912.0f;
}

// a - q pi / 2 in [-pi/4, pi/4] (Cody-Waite: pi / 2 in two parts), and its sine and cosine.
template <typename F>
inline void sincos_reduced(F a, F q, F& sr, F& cr) {
  F r = a - q * 1.5707963705062866f;
  r = r + q * 4.37113900018624283e-8f;
  const F r2 = r * r;
  F sp = -1.9515295891e-4f * r2 + 8.3321608736e-3f;
  sp = sp * r2 - 1.6666654611e-1f;
  sr = r + r * r2 * sp;
  F cp = 2.443315711809948e-5f * r2 - 1.388731625493765e-3f;
  cp = cp * r2 + 4.166664568298827e-2f;
  cr = 1.0f - 0.5f * r2 + r2 * r2 * cp;
}

}  // namespace pk_magnify
