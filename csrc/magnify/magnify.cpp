// The per-coefficient chain of causal phase-based motion magnification, fused: for each
// coefficient, over the frames of a chunk in order, the phase difference to the reference
// (atan2 of c conj(r)), one step of the temporal band-pass (a biquad in transposed direct
// form II, or the difference of two first-order low-passes), and the rotation of c by
// alpha times the filtered phase (or by (1 + alpha) filtered - difference: attenuation).
// One read of each coefficient and one write, the filter state in registers; float32 uses
// vectorisable polynomial atan2 and sincos (polynomials.h, errors below 2e-7 rad), float64
// the libm ones. With GCC on x86 (AVX2 + FMA), float32 runs on explicit vectors,
// several interleaved (chain_vector.h), and the loops here take the remainder.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cmath>
#include <type_traits>

#include "chain_vector.h"
#include "polynomials.h"

namespace {

constexpr int64_t kBlock = 256;  // coefficients per inner (vectorised) loop

// atan2(y, x) in float: octant reduction to [0, 1] and an odd minimax polynomial.
inline float fast_atan2(float y, float x) {
  const float ax = std::fabs(x), ay = std::fabs(y);
  const float big = ax > ay ? ax : ay, small = ax > ay ? ay : ax;  // not fmax: it vectorises
  float r = pk_magnify::atan_unit(big > 0.0f ? small / big : 0.0f);
  r = ay > ax ? 1.57079632679f - r : r;
  r = x < 0.0f ? 3.14159265359f - r : r;
  return y < 0.0f ? -r : r;
}

// (cos a, sin a) in float: reduction by multiples of pi/2 (Cody-Waite), polynomials on
// [-pi/4, pi/4], quadrant swap.
inline void fast_sincos(float a, float& c, float& s) {
  const float q = pk_magnify::quarter_turns(a);
  float sr, cr;
  pk_magnify::sincos_reduced(a, q, sr, cr);
  const int quadrant = static_cast<int>(q) & 3;
  const float sw_s = (quadrant & 1) ? cr : sr, sw_c = (quadrant & 1) ? sr : cr;
  s = (quadrant & 2) ? -sw_s : sw_s;
  c = ((quadrant + 1) & 2) ? -sw_c : sw_c;
}

inline float atan2_of(float y, float x) { return fast_atan2(y, x); }
inline double atan2_of(double y, double x) { return std::atan2(y, x); }
inline void sincos_of(float a, float& c, float& s) { fast_sincos(a, c, s); }
inline void sincos_of(double a, double& c, double& s) {
  c = std::cos(a);
  s = std::sin(a);
}

// The fused chain over one block of coefficients [begin, end), every frame in order.
template <typename T>
void run(const at::Tensor& coeffs, const at::Tensor& reference, at::Tensor& state,
         at::Tensor& out, const std::vector<double>& filter, bool difference, double alpha,
         bool attenuate) {
  const int64_t frames = coeffs.size(0), n = coeffs.size(1);
  const T* cp = reinterpret_cast<const T*>(coeffs.data_ptr());
  const T* rp = reinterpret_cast<const T*>(reference.data_ptr());
  T* op = reinterpret_cast<T*>(out.data_ptr());
  T* s1p = state.data_ptr<T>();
  T* s2p = s1p + n;
  const T f0 = filter[0], f1 = filter[1];
  const T f2 = difference ? T(0) : T(filter[2]), f3 = difference ? T(0) : T(filter[3]);
  const T f4 = difference ? T(0) : T(filter[4]);
  const T gain = attenuate ? T(1 + alpha) : T(alpha), keep = attenuate ? T(1) : T(0);
  const float fs[5] = {float(f0), float(f1), float(f2), float(f3), float(f4)};  // chain_vector.h
  // captured by value and read through restrict pointers: the compiler keeps the filter
  // constants and pointers in registers instead of reloading them after every store
  at::parallel_for(0, n, 4 * kBlock, [=](int64_t begin, int64_t end) {
    T* __restrict__ s1 = s1p;
    T* __restrict__ s2 = s2p;
    const T* __restrict__ r = rp;
    for (int64_t t = 0; t < frames; ++t) {
      const T* c = cp + 2 * t * n;  // out may be coeffs: no restrict on these two
      T* o = op + 2 * t * n;
      int64_t start = begin;  // where the loops below begin: after the vector chain's steps
#ifdef PK_VECTOR_CHAIN
      if constexpr (std::is_same_v<T, float>) {
        start = difference ? pk_magnify::vector_chain<true>(c, r, s1, s2, o, begin, end, fs,
                                                            gain, keep)
                           : pk_magnify::vector_chain<false>(c, r, s1, s2, o, begin, end, fs,
                                                             gain, keep);
      }
#endif
      if (difference) {
#pragma omp simd
        for (int64_t i = start; i < end; ++i) {
          const T re = c[2 * i], im = c[2 * i + 1], rr = r[2 * i], ri = r[2 * i + 1];
          const T delta = atan2_of(im * rr - re * ri, re * rr + im * ri);
          const T hi = s1[i] + f0 * (delta - s1[i]), lo = s2[i] + f1 * (delta - s2[i]);
          s1[i] = hi;
          s2[i] = lo;
          T cr, ci;
          sincos_of(gain * (hi - lo) - keep * delta, cr, ci);
          o[2 * i] = re * cr - im * ci;
          o[2 * i + 1] = re * ci + im * cr;
        }
      } else {
#pragma omp simd
        for (int64_t i = start; i < end; ++i) {
          const T re = c[2 * i], im = c[2 * i + 1], rr = r[2 * i], ri = r[2 * i + 1];
          const T delta = atan2_of(im * rr - re * ri, re * rr + im * ri);
          const T y = f0 * delta + s1[i];
          s1[i] = f1 * delta - f3 * y + s2[i];
          s2[i] = f2 * delta - f4 * y;
          T cr, ci;
          sincos_of(gain * y - keep * delta, cr, ci);
          o[2 * i] = re * cr - im * ci;
          o[2 * i + 1] = re * ci + im * cr;
        }
      }
    }
  });
}

// coeffs (T, N) complex, reference (N) complex, state (2, N) real (updated in place),
// filter (b0, b1, b2, a1, a2) for the biquad, or (r_hi, r_lo) for the difference; the
// magnified coefficients go to out (T, N), which may be coeffs itself (each element is read
// before it is written).
void magnify_iir(const at::Tensor& coeffs_in, const at::Tensor& reference_in, at::Tensor state,
                 std::vector<double> filter, bool difference, double alpha, bool attenuate,
                 at::Tensor out) {
  TORCH_CHECK(coeffs_in.is_complex() && coeffs_in.device().is_cpu() && coeffs_in.dim() == 2,
              "coeffs must be a (T, N) complex CPU tensor");
  const int64_t frames = coeffs_in.size(0), n = coeffs_in.size(1);
  TORCH_CHECK(reference_in.scalar_type() == coeffs_in.scalar_type() &&
                  reference_in.numel() == n && reference_in.device().is_cpu(),
              "reference must be (N) of coeffs' dtype on the CPU");
  const auto real = c10::toRealValueType(coeffs_in.scalar_type());
  TORCH_CHECK(state.scalar_type() == real && state.is_contiguous() && state.dim() == 2 &&
                  state.size(0) == 2 && state.size(1) == n && state.device().is_cpu(),
              "state must be a contiguous (2, N) CPU tensor of coeffs' real dtype");
  TORCH_CHECK(filter.size() == (difference ? 2u : 5u), "filter has the wrong length");
  TORCH_CHECK(out.scalar_type() == coeffs_in.scalar_type() && out.is_contiguous() &&
                  out.sizes() == coeffs_in.sizes() && out.device().is_cpu(),
              "out must be a contiguous CPU tensor of coeffs' shape and dtype");
  const at::Tensor coeffs = coeffs_in.contiguous(), reference = reference_in.contiguous();
  AT_DISPATCH_FLOATING_TYPES(real, "magnify_iir", [&] {
    run<scalar_t>(coeffs, reference, state, out, filter, difference, alpha, attenuate);
  });
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(pyramid_kernels_cpp, m) {
  m.def(
      "magnify_iir(Tensor coeffs, Tensor reference, Tensor(a!) state, float[] filter, "
      "bool difference, float alpha, bool attenuate, Tensor(b!) out) -> ()");
}

TORCH_LIBRARY_IMPL(pyramid_kernels_cpp, CPU, m) { m.impl("magnify_iir", &magnify_iir); }
