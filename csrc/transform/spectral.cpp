// C++ CPU kernels of the four spectral stages of the steerable pyramid (the contract of
// ops/transform/reference.py), registered as pyramid_kernels_cpp::* (csrc/init.cpp).
//
// One pass per level: each (image, row) task reads the row of the level's spectrum once and
// writes all K bands and the cropped next low-pass (split), or reads them and writes the row
// (merge, the exact adjoint). The real masks come in precomputed per shape (cached on the
// Python side: measured ~5x faster than evaluating log2/cos/pow per bin here), together with
// the runs of columns where each mask row is nonzero: the kernels touch only those bins.
// Split outputs are written on the runs only (the caller passes buffers that are zero
// elsewhere); merge outputs are written whole. The (-i)^n factor is applied as a rotation.
// The crop keeps bins k = -floor(d'/2) .. ceil(d'/2) - 1, i.e. columns [0, ceil(d'/2)) and
// [d - floor(d'/2), d) of the unshifted layout.
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include <algorithm>

namespace {

// Nonzero column runs per mask row: row r covers runs[offsets[r] .. offsets[r+1]), each run a
// [start, stop) pair.
struct Runs {
  const int64_t* offsets;
  const int64_t* runs;
  template <typename F>
  void each(int64_t row, F f) const {
    for (int64_t i = offsets[row]; i < offsets[row + 1]; ++i) f(runs[2 * i], runs[2 * i + 1]);
  }
};

// Checked view of the runs of `rows` mask rows of `width` columns (the kernels write through
// them, so a bad run must not reach a kernel).
Runs runs_of(const at::Tensor& offsets, const at::Tensor& runs, int64_t rows, int64_t width) {
  TORCH_CHECK(offsets.dtype() == at::kLong && offsets.is_contiguous() && offsets.dim() == 1 &&
                  offsets.size(0) == rows + 1,
              "run offsets must be a contiguous int64 tensor of ", rows + 1, " entries");
  TORCH_CHECK(runs.dtype() == at::kLong && runs.is_contiguous() && runs.dim() == 2 &&
                  runs.size(1) == 2,
              "runs must be a contiguous int64 (M, 2) tensor");
  const Runs view{offsets.data_ptr<int64_t>(), runs.data_ptr<int64_t>()};
  TORCH_CHECK(view.offsets[0] == 0 && view.offsets[rows] == runs.size(0),
              "run offsets must start at 0 and end at the number of runs");
  for (int64_t row = 0; row < rows; ++row) {
    TORCH_CHECK(view.offsets[row] <= view.offsets[row + 1], "run offsets must not decrease");
  }
  for (int64_t i = 0; i < runs.size(0); ++i) {
    TORCH_CHECK(0 <= view.runs[2 * i] && view.runs[2 * i] < view.runs[2 * i + 1] &&
                    view.runs[2 * i + 1] <= width,
                "each run must be a non-empty [start, stop) within [0, ", width, "]");
  }
  return view;
}

// Row jy of a d-point level maps to row oy of the d'-point next level, if kept.
inline bool kept_index(int64_t j, int64_t d, int64_t d_next, int64_t& o) {
  if (j < (d_next + 1) / 2) {
    o = j;
    return true;
  }
  if (j >= d - d_next / 2) {
    o = j - d + d_next;
    return true;
  }
  return false;
}

// z * (-i)^n (CONJ: z * i^n) for complex z = (re, im).
template <int N, bool CONJ, typename T>
inline void rotate(T re, T im, T& out_re, T& out_im) {
  constexpr int n = CONJ ? (4 - N) % 4 : N;
  if constexpr (n == 0) {
    out_re = re, out_im = im;
  } else if constexpr (n == 1) {
    out_re = im, out_im = -re;
  } else if constexpr (n == 2) {
    out_re = -re, out_im = -im;
  } else {
    out_re = -im, out_im = re;
  }
}

// out[j] = in[j] * mask[j] for j < count complex values.
template <typename T>
inline void scale_row(T* __restrict out, const T* __restrict in, const T* __restrict mask,
                      int64_t count) {
  for (int64_t j = 0; j < count; ++j) {
    out[2 * j] = in[2 * j] * mask[j];
    out[2 * j + 1] = in[2 * j + 1] * mask[j];
  }
}

void check(const at::Tensor& t, const char* name, int64_t dim, bool complex_values) {
  TORCH_CHECK(t.dim() == dim, name, " must have ", dim, " dims, got ", t.dim());
  TORCH_CHECK(t.is_complex() == complex_values, name, complex_values ? " must be complex"
                                                                     : " must be real");
  TORCH_CHECK(t.device().is_cpu(), name, " must be a CPU tensor");
}

// The kernels reinterpret complex data as pairs of the masks' real type: they must agree.
void check_real_of(const at::Tensor& real, const at::Tensor& data, const char* name) {
  const auto expected = c10::toRealValueType(data.scalar_type());
  TORCH_CHECK(real.scalar_type() == expected && real.device().is_cpu(), name, " must be a CPU ",
              expected, " tensor to match the ", data.scalar_type(), " data, got ",
              real.scalar_type());
}

void check_out(const at::Tensor& out, const at::Tensor& like, at::IntArrayRef shape,
               const char* name) {
  TORCH_CHECK(out.is_contiguous() && out.sizes() == shape && out.dtype() == like.dtype() &&
                  out.device() == like.device(),
              name, " must be a contiguous ", like.dtype(), " tensor of shape ", shape);
}

// Split: expand the rfft2 half spectrum (h, wh = w/2+1) to the full Hermitian spectrum X and
// write hp = (X * hi0)[:, :wh] (whole rows) and low = X * lo0 (on lo0's runs). Merge (the
// adjoint): fold back to the half, out = hp * hi0 + lo0 * (low(k) + conj low(-k)) / 2.
// Masks hi0, lo0 are (h, w).
template <typename T, bool MERGE>
void residual_kernel(T* __restrict half, T* __restrict hp, T* __restrict low,
                     const T* __restrict hi0, const T* __restrict lo0, Runs lo_runs, int64_t n,
                     int64_t h, int64_t w) {
  const int64_t wh = w / 2 + 1;
  at::parallel_for(0, n * h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t image = row / h, jy = row % h;
      const int64_t mirror_row = image * h + (h - jy) % h;
      const T* hi = hi0 + jy * w;
      const T* lo = lo0 + jy * w;
      T* half_row = half + 2 * row * wh;
      T* hp_row = hp + 2 * row * wh;
      T* low_row = low + 2 * row * w;
      if (MERGE) {
        scale_row(half_row, hp_row, hi, wh);
        const T* low_mirror = low + 2 * mirror_row * w;
        auto fold = [&](int64_t jx, int64_t mx) {
          const T gain = T(0.5) * lo[jx];
          half_row[2 * jx] += gain * (low_row[2 * jx] + low_mirror[2 * mx]);
          half_row[2 * jx + 1] += gain * (low_row[2 * jx + 1] - low_mirror[2 * mx + 1]);
        };
        lo_runs.each(jy, [&](int64_t start, int64_t stop) {
          if (start == 0) fold(start++, 0);  // bin -0 is bin 0; every other -jx is w - jx
          for (int64_t jx = start; jx < std::min(stop, wh); ++jx) fold(jx, w - jx);
        });
      } else {
        scale_row(hp_row, half_row, hi, wh);
        const T* half_mirror = half + 2 * mirror_row * wh;
        lo_runs.each(jy, [&](int64_t start, int64_t stop) {
          for (int64_t jx = start; jx < std::min(stop, wh); ++jx) {
            low_row[2 * jx] = half_row[2 * jx] * lo[jx];
            low_row[2 * jx + 1] = half_row[2 * jx + 1] * lo[jx];
          }
          for (int64_t jx = std::max(start, wh); jx < stop; ++jx) {  // X(k) = conj X(-k)
            low_row[2 * jx] = half_mirror[2 * (w - jx)] * lo[jx];
            low_row[2 * jx + 1] = -half_mirror[2 * (w - jx) + 1] * lo[jx];
          }
        });
      }
    }
  });
}

void residual_split(const at::Tensor& half_in, int64_t width, const at::Tensor& hi0_in,
                    const at::Tensor& lo0_in, const at::Tensor& lo_offsets,
                    const at::Tensor& lo_runs, at::Tensor& high, at::Tensor& low) {
  check(half_in, "half", 3, true);
  const at::Tensor half = half_in.contiguous(), hi0 = hi0_in.contiguous(),
                   lo0 = lo0_in.contiguous();
  const int64_t n = half.size(0), h = half.size(1);
  TORCH_CHECK(half.size(2) == width / 2 + 1, "half must have width // 2 + 1 columns");
  TORCH_CHECK(hi0.sizes() == at::IntArrayRef({h, width}) && lo0.sizes() == hi0.sizes(),
              "hi0 and lo0 must be (H, width)");
  check_real_of(hi0, half, "hi0");
  check_real_of(lo0, half, "lo0");
  check_out(high, half, half.sizes(), "highpass");
  check_out(low, half, {n, h, width}, "lowpass");
  const Runs runs = runs_of(lo_offsets, lo_runs, h, width);
  AT_DISPATCH_FLOATING_TYPES(hi0.scalar_type(), "residual_split", [&] {
    residual_kernel<scalar_t, false>(reinterpret_cast<scalar_t*>(half.data_ptr()),
                                     reinterpret_cast<scalar_t*>(high.data_ptr()),
                                     reinterpret_cast<scalar_t*>(low.data_ptr()),
                                     hi0.data_ptr<scalar_t>(), lo0.data_ptr<scalar_t>(), runs, n,
                                     h, width);
  });
}

void residual_merge(const at::Tensor& high_in, const at::Tensor& low_in, const at::Tensor& hi0_in,
                    const at::Tensor& lo0_in, const at::Tensor& lo_offsets,
                    const at::Tensor& lo_runs, at::Tensor& out) {
  check(high_in, "highpass", 3, true);
  check(low_in, "lowpass", 3, true);
  const at::Tensor high = high_in.contiguous(), low = low_in.contiguous(),
                   hi0 = hi0_in.contiguous(), lo0 = lo0_in.contiguous();
  const int64_t n = low.size(0), h = low.size(1), w = low.size(2);
  TORCH_CHECK(high.size(1) == h && high.size(2) == w / 2 + 1,
              "highpass must be the half spectrum of lowpass's size");
  TORCH_CHECK(hi0.sizes() == at::IntArrayRef({h, w}) && lo0.sizes() == hi0.sizes(),
              "hi0 and lo0 must be (H, W)");
  TORCH_CHECK(low.dtype() == high.dtype(), "lowpass must have highpass's dtype ", high.dtype(),
              ", got ", low.dtype());
  check_real_of(hi0, high, "hi0");
  check_real_of(lo0, high, "lo0");
  check_out(out, high, high.sizes(), "out");
  const Runs runs = runs_of(lo_offsets, lo_runs, h, w);
  AT_DISPATCH_FLOATING_TYPES(hi0.scalar_type(), "residual_merge", [&] {
    residual_kernel<scalar_t, true>(reinterpret_cast<scalar_t*>(out.data_ptr()),
                                    reinterpret_cast<scalar_t*>(high.data_ptr()),
                                    reinterpret_cast<scalar_t*>(low.data_ptr()),
                                    hi0.data_ptr<scalar_t>(), lo0.data_ptr<scalar_t>(), runs, n,
                                    h, w);
  });
}

// One row jy of a level (image base pointers: bands (k, h, w), next (hn, wn)). Split: bands_b
// = rot(low * masks_b) on the runs of mask row (b, jy); next = crop(low) * lomask on the runs
// of lomask row jy (kept columns only). Merge: low = sum_b conj-rot(bands_b * masks_b) +
// pad(next * lomask), zero off the runs. Complex data as interleaved T pairs; masks (K, h, w),
// lomask (h, w) on the level's grid; runs: K * h band rows, then h rows of lomask.
// The next level is any crop (hn <= h, wn <= w): (ceil(h / 2), ceil(w / 2)) per octave, the
// sub-octave sizes of spec.level_sizes, or (h, w) itself undecimated (every bin kept in place).
struct Level {
  int64_t k, h, w, hn, wn, left;  // kept columns: [0, left) and [w - wn / 2, w)
  Level(int64_t k, int64_t h, int64_t w, int64_t hn, int64_t wn)
      : k(k), h(h), w(w), hn(hn), wn(wn), left((wn + 1) / 2) {}
  // Column jx of a kept run starting at `start` is column jx + shift of the next level.
  int64_t next_shift(int64_t start) const { return start < left ? 0 : wn - w; }
};

template <typename T, int ORDER>
inline void split_row(const T* __restrict lrow, T* __restrict bands, T* __restrict next,
                      const T* __restrict masks, const T* __restrict lomask, const Runs& runs,
                      const Level& lv, int64_t jy) {
  for (int64_t b = 0; b < lv.k; ++b) {
    T* brow = bands + 2 * (b * lv.h + jy) * lv.w;
    const T* m = masks + (b * lv.h + jy) * lv.w;
    runs.each(b * lv.h + jy, [&](int64_t start, int64_t stop) {
      for (int64_t jx = start; jx < stop; ++jx) {
        rotate<ORDER, false>(lrow[2 * jx] * m[jx], lrow[2 * jx + 1] * m[jx], brow[2 * jx],
                             brow[2 * jx + 1]);
      }
    });
  }
  int64_t oy;
  if (!kept_index(jy, lv.h, lv.hn, oy)) return;
  const T* lo = lomask + jy * lv.w;
  runs.each(lv.k * lv.h + jy, [&](int64_t start, int64_t stop) {
    scale_row(next + 2 * (oy * lv.wn + start + lv.next_shift(start)), lrow + 2 * start,
              lo + start, stop - start);
  });
}

template <typename T, int ORDER>
inline void merge_row(T* __restrict lrow, const T* __restrict bands, const T* __restrict next,
                      const T* __restrict masks, const T* __restrict lomask, const Runs& runs,
                      const Level& lv, int64_t jy) {
  std::fill(lrow, lrow + 2 * lv.w, T(0));
  for (int64_t b = 0; b < lv.k; ++b) {
    const T* brow = bands + 2 * (b * lv.h + jy) * lv.w;
    const T* m = masks + (b * lv.h + jy) * lv.w;
    runs.each(b * lv.h + jy, [&](int64_t start, int64_t stop) {
      for (int64_t jx = start; jx < stop; ++jx) {
        T re, im;
        rotate<ORDER, true>(brow[2 * jx] * m[jx], brow[2 * jx + 1] * m[jx], re, im);
        lrow[2 * jx] += re;
        lrow[2 * jx + 1] += im;
      }
    });
  }
  int64_t oy;
  if (!kept_index(jy, lv.h, lv.hn, oy)) return;
  const T* lo = lomask + jy * lv.w;
  runs.each(lv.k * lv.h + jy, [&](int64_t start, int64_t stop) {
    const int64_t base = 2 * (oy * lv.wn + lv.next_shift(start));
    for (int64_t jx = start; jx < stop; ++jx) {
      lrow[2 * jx] += next[base + 2 * jx] * lo[jx];
      lrow[2 * jx + 1] += next[base + 2 * jx + 1] * lo[jx];
    }
  });
}

template <typename T, bool MERGE, int ORDER>
void band_kernel(T* low, T* bands, T* next, const T* masks, const T* lomask, Runs runs,
                 int64_t n, const Level& lv) {
  const int64_t k = lv.k, h = lv.h, w = lv.w;
  at::parallel_for(0, n * h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t image = row / h, jy = row % h;
      T* image_bands = bands + 2 * image * k * h * w;
      T* image_next = next + 2 * image * lv.hn * lv.wn;
      if (MERGE) {
        merge_row<T, ORDER>(low + 2 * row * w, image_bands, image_next, masks, lomask, runs, lv,
                            jy);
      } else {
        split_row<T, ORDER>(low + 2 * row * w, image_bands, image_next, masks, lomask, runs, lv,
                            jy);
      }
    }
  });
}

template <typename T, bool MERGE>
void band_dispatch(int64_t order, T* low, T* bands, T* next, const T* masks, const T* lomask,
                   Runs runs, int64_t n, const Level& lv) {
  switch (order % 4) {
    case 0: return band_kernel<T, MERGE, 0>(low, bands, next, masks, lomask, runs, n, lv);
    case 1: return band_kernel<T, MERGE, 1>(low, bands, next, masks, lomask, runs, n, lv);
    case 2: return band_kernel<T, MERGE, 2>(low, bands, next, masks, lomask, runs, n, lv);
    default: return band_kernel<T, MERGE, 3>(low, bands, next, masks, lomask, runs, n, lv);
  }
}

void check_next_size(const Level& lv) {
  TORCH_CHECK(lv.hn >= 1 && lv.hn <= lv.h && lv.wn >= 1 && lv.wn <= lv.w,
              "lowpass_next must be a crop of the level: 1 <= size <= (", lv.h, ", ", lv.w,
              ") per axis, got (", lv.hn, ", ", lv.wn, ")");
}

void check_band_args(const at::Tensor& data, const at::Tensor& masks, const at::Tensor& lomask,
                     int64_t h, int64_t w, int64_t order) {
  check(masks, "masks", 3, false);
  check_real_of(masks, data, "masks");
  check_real_of(lomask, data, "lomask");
  TORCH_CHECK(lomask.dim() == 2, "lomask must have 2 dims, got ", lomask.dim());
  TORCH_CHECK(masks.size(1) == h && masks.size(2) == w && lomask.size(0) == h &&
                  lomask.size(1) == w,
              "masks and lomask must have the level's size");
  TORCH_CHECK(order >= 0, "order must be >= 0");
}

void band_split(const at::Tensor& low_in, const at::Tensor& masks_in,
                const at::Tensor& lomask_in, const at::Tensor& offsets, const at::Tensor& runs,
                int64_t order, at::Tensor& bands, at::Tensor& next) {
  check(low_in, "lowpass", 3, true);
  const at::Tensor low = low_in.contiguous(), masks = masks_in.contiguous(),
                   lomask = lomask_in.contiguous();
  const int64_t n = low.size(0), h = low.size(1), w = low.size(2), k = masks.size(0);
  check_band_args(low, masks, lomask, h, w, order);
  check_out(bands, low, {n, k, h, w}, "bands");
  TORCH_CHECK(next.dim() == 3, "lowpass_next must have 3 dims, got ", next.dim());
  const Level lv(k, h, w, next.size(1), next.size(2));
  check_next_size(lv);
  check_out(next, low, {n, lv.hn, lv.wn}, "lowpass_next");
  const Runs r = runs_of(offsets, runs, (k + 1) * h, w);
  AT_DISPATCH_FLOATING_TYPES(masks.scalar_type(), "band_split", [&] {
    band_dispatch<scalar_t, false>(order, reinterpret_cast<scalar_t*>(low.data_ptr()),
                                   reinterpret_cast<scalar_t*>(bands.data_ptr()),
                                   reinterpret_cast<scalar_t*>(next.data_ptr()),
                                   masks.data_ptr<scalar_t>(), lomask.data_ptr<scalar_t>(), r, n,
                                   lv);
  });
}

void band_merge(const at::Tensor& bands_in, const at::Tensor& next_in, const at::Tensor& masks_in,
                const at::Tensor& lomask_in, const at::Tensor& offsets, const at::Tensor& runs,
                int64_t order, at::Tensor& low) {
  check(bands_in, "bands", 4, true);
  check(next_in, "lowpass_next", 3, true);
  const at::Tensor bands = bands_in.contiguous(), next = next_in.contiguous(),
                   masks = masks_in.contiguous(), lomask = lomask_in.contiguous();
  const int64_t n = bands.size(0), k = bands.size(1), h = bands.size(2), w = bands.size(3);
  check_band_args(bands, masks, lomask, h, w, order);
  TORCH_CHECK(next.dtype() == bands.dtype(), "lowpass_next must have the bands' dtype ",
              bands.dtype(), ", got ", next.dtype());
  TORCH_CHECK(masks.size(0) == k, "masks must have one row per band");
  const Level lv(k, h, w, next.size(1), next.size(2));
  check_next_size(lv);
  TORCH_CHECK(next.size(0) == n, "lowpass_next must have the bands' batch size");
  check_out(low, bands, {n, h, w}, "lowpass");
  const Runs r = runs_of(offsets, runs, (k + 1) * h, w);
  AT_DISPATCH_FLOATING_TYPES(masks.scalar_type(), "band_merge", [&] {
    band_dispatch<scalar_t, true>(order, reinterpret_cast<scalar_t*>(low.data_ptr()),
                                  reinterpret_cast<scalar_t*>(bands.data_ptr()),
                                  reinterpret_cast<scalar_t*>(next.data_ptr()),
                                  masks.data_ptr<scalar_t>(), lomask.data_ptr<scalar_t>(), r, n,
                                  lv);
  });
}


}  // namespace

TORCH_LIBRARY_FRAGMENT(pyramid_kernels_cpp, m) {
  m.def(
      "residual_split(Tensor half, int width, Tensor hi0, Tensor lo0, Tensor lo_offsets, "
      "Tensor lo_runs, Tensor(a!) highpass, Tensor(b!) lowpass) -> ()");
  m.def(
      "residual_merge(Tensor highpass, Tensor lowpass, Tensor hi0, Tensor lo0, "
      "Tensor lo_offsets, Tensor lo_runs, Tensor(a!) out) -> ()");
  m.def(
      "band_split(Tensor lowpass, Tensor masks, Tensor lomask, Tensor offsets, Tensor runs, "
      "int order, Tensor(a!) bands, Tensor(b!) lowpass_next) -> ()");
  m.def(
      "band_merge(Tensor bands, Tensor lowpass_next, Tensor masks, Tensor lomask, "
      "Tensor offsets, Tensor runs, int order, Tensor(a!) lowpass) -> ()");
}

TORCH_LIBRARY_IMPL(pyramid_kernels_cpp, CPU, m) {
  m.impl("residual_split", &residual_split);
  m.impl("residual_merge", &residual_merge);
  m.impl("band_split", &band_split);
  m.impl("band_merge", &band_merge);
}
