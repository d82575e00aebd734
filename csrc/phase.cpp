// C++ CPU kernels of the phase ops (contract of reference.phase_rotate / phase_extrapolate):
// c * exp(eta + i delta), and all T frames c * exp(-s_k (g_eta + i g_delta)) in one pass over c.
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include <cmath>

namespace {

constexpr int64_t kMaxRecurrence = 32;

void check_fields(const at::Tensor& c, const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(c.is_complex() && c.device().is_cpu(), "coeffs must be a complex CPU tensor");
  TORCH_CHECK(a.sizes() == c.sizes() && b.sizes() == c.sizes(), "fields must have c's shape");
  // the kernels read c as pairs of the fields' real type
  const auto real = c10::toRealValueType(c.scalar_type());
  TORCH_CHECK(a.scalar_type() == real && b.scalar_type() == real && a.device().is_cpu() &&
                  b.device().is_cpu(),
              "fields must be CPU ", real, " tensors to match coeffs (", c.scalar_type(), ")");
}

at::Tensor phase_rotate(const at::Tensor& c_in, const at::Tensor& a_in, const at::Tensor& b_in) {
  check_fields(c_in, a_in, b_in);
  const at::Tensor c = c_in.contiguous(), a = a_in.contiguous(), b = b_in.contiguous();
  at::Tensor out = at::empty_like(c);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "phase_rotate", [&] {
    using T = scalar_t;
    const T* cp = reinterpret_cast<const T*>(c.data_ptr());
    const T* ap = a.data_ptr<T>();
    const T* bp = b.data_ptr<T>();
    T* op = reinterpret_cast<T*>(out.data_ptr());
    at::parallel_for(0, c.numel(), 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T gain = std::exp(ap[i]), re = cp[2 * i], im = cp[2 * i + 1];
        const T cr = gain * std::cos(bp[i]), ci = gain * std::sin(bp[i]);
        op[2 * i] = re * cr - im * ci;
        op[2 * i + 1] = re * ci + im * cr;
      }
    });
  });
  return out;
}

at::Tensor phase_extrapolate(const at::Tensor& c_in, const at::Tensor& a_in,
                             const at::Tensor& b_in, const at::Tensor& s_in) {
  check_fields(c_in, a_in, b_in);
  TORCH_CHECK(s_in.dim() == 1 && s_in.scalar_type() == a_in.scalar_type() && s_in.device().is_cpu(),
              "scales must be a 1-D CPU tensor of the fields' dtype ", a_in.scalar_type());
  const at::Tensor c = c_in.contiguous(), a = a_in.contiguous(), b = b_in.contiguous(),
                   s = s_in.contiguous();
  const int64_t frames = s.size(0), numel = c.numel();
  std::vector<int64_t> shape{frames};
  for (auto d : c.sizes()) shape.push_back(d);
  at::Tensor out = at::empty(shape, c.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "phase_extrapolate", [&] {
    using T = scalar_t;
    const T* cp = reinterpret_cast<const T*>(c.data_ptr());
    const T* ap = a.data_ptr<T>();
    const T* bp = b.data_ptr<T>();
    const T* sp = s.data_ptr<T>();
    T* op = reinterpret_cast<T*>(out.data_ptr());
    // Evenly spaced scales (the frozen regime's k * u) step by one complex multiply per frame
    // instead of exp/cos/sin; the rounding grows like frames * eps, so only for short runs.
    bool uniform = frames >= 2 && frames <= kMaxRecurrence;
    for (int64_t k = 2; uniform && k < frames; ++k) {
      uniform = sp[k] - sp[k - 1] == sp[1] - sp[0];
    }
    at::parallel_for(0, numel, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T re = cp[2 * i], im = cp[2 * i + 1], gi = ap[i], gp = bp[i];
        if (uniform) {
          const T ds = sp[1] - sp[0];
          // phase-only edits have g_eta = 0: skip the exponentials
          const T g0 = gi == 0 ? T(1) : std::exp(-sp[0] * gi);
          const T gs = gi == 0 ? T(1) : std::exp(-ds * gi);
          T cr = g0 * std::cos(sp[0] * gp), ci = -g0 * std::sin(sp[0] * gp);
          const T sr = gs * std::cos(ds * gp), si = -gs * std::sin(ds * gp);
          for (int64_t k = 0; k < frames; ++k) {
            T* o = op + 2 * (k * numel + i);
            o[0] = re * cr - im * ci;
            o[1] = re * ci + im * cr;
            const T next_r = cr * sr - ci * si;
            ci = cr * si + ci * sr;
            cr = next_r;
          }
          continue;
        }
        for (int64_t k = 0; k < frames; ++k) {
          const T gain = std::exp(-sp[k] * gi);
          const T cr = gain * std::cos(sp[k] * gp), ci = -gain * std::sin(sp[k] * gp);
          T* o = op + 2 * (k * numel + i);
          o[0] = re * cr - im * ci;
          o[1] = re * ci + im * cr;
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(pyramid_kernels_cpp, m) {
  m.def("phase_rotate(Tensor coeffs, Tensor log_amplitude, Tensor phase) -> Tensor");
  m.def(
      "phase_extrapolate(Tensor coeffs, Tensor grad_log_amplitude, Tensor grad_phase, "
      "Tensor scales) -> Tensor");
}

TORCH_LIBRARY_IMPL(pyramid_kernels_cpp, CPU, m) {
  m.impl("phase_rotate", &phase_rotate);
  m.impl("phase_extrapolate", &phase_extrapolate);
}
