// The extension module pyramid_kernels.ops._C and its op library pyramid_kernels_cpp. Each op
// family's source (csrc/<family>/*.cpp) adds its ops to the library with
// TORCH_LIBRARY_FRAGMENT; importing the module (or loading the library built on first use,
// pyramid_kernels/ops/native.py) runs those registrations.
#include <Python.h>
#include <torch/library.h>

extern "C" {
// An empty module: its import loads the library.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
}

// the library, declared once; its ops come from the families' fragments
TORCH_LIBRARY(pyramid_kernels_cpp, m) {}
