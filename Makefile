# Each user-facing target creates .venv and installs what it needs on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench docs lint format clean asan

$(STAMP): pyproject.toml setup.py $(wildcard csrc/*.cpp csrc/*/*.cpp)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet setuptools wheel
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet --no-build-isolation -e ".[test,bench,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/pyramid-kernels demo

# in parallel on every core (pytest-xdist; each worker's torch gets its share of the cores),
# the slowest tests listed at the end
test: $(STAMP)
	$(PY) -m pytest -q -n auto --durations=15

bench: $(STAMP)
	$(PY) bench/run.py

# the documentation site, offline, into site/; any warning fails the build
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

# The C++ kernels under AddressSanitizer over the backend and hostile-input tests, then the
# normal build back in place.
asan: $(STAMP)
	rm -rf build/asan && PYRAMID_KERNELS_ASAN=1 $(PY) setup.py build_ext --inplace \
		--build-temp build/asan/tmp --build-lib build/asan/lib --force > /dev/null
	ASAN_OPTIONS=detect_leaks=0 \
		LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libstdc++.so)" \
		PYRAMID_KERNELS_REQUIRE=cpp $(PY) -m pytest -q -p no:cacheprovider -k "not triton" \
		tests/ops/test_backends.py tests/package/test_hostile_inputs.py tests/ops/test_phase_ops.py; \
	status=$$?; rm -rf build/asan; $(PY) setup.py build_ext --inplace --force > /dev/null; \
	exit $$status

clean:
	rm -rf build pyramid_kernels/_C*.so demo_output
