"""The C++ build's target and the check before loading it: a build is loaded only on a CPU that
has every extension it was compiled for, else the kernels are compiled for this CPU."""

from __future__ import annotations

import json

import pytest

from pyramid_kernels.ops import flags, native

x86_only = pytest.mark.skipif(not flags.X86, reason="the -march targets named here are x86's")


@x86_only
def test_the_features_of_a_target_come_from_the_compiler():
    avx2 = flags.features("x86-64-v3")
    assert {"avx", "avx2", "fma"} <= set(avx2) and "avx512f" not in avx2
    assert {"avx2", "avx512f", "avx512bw"} <= set(flags.features("skylake-avx512"))


@x86_only
def test_a_portable_build_targets_avx2(monkeypatch):
    monkeypatch.delenv(flags.MARCH, raising=False)
    monkeypatch.setenv(flags.PORTABLE, "1")
    assert flags.march() == "x86-64-v3"
    monkeypatch.setenv(flags.MARCH, "skylake-avx512")  # an explicit target wins
    assert flags.march() == "skylake-avx512"


def test_missing_features_names_what_the_cpu_lacks():
    assert flags.missing_features(["avx2", "avx512f"], {"avx2", "fma"}) == ["avx512f"]
    assert flags.missing_features(["avx512f"], None) == []  # flags unknown: trust the build


def test_a_build_for_another_cpu_is_reported(tmp_path, monkeypatch):
    info = tmp_path / "_C_build.json"
    info.write_text(json.dumps({"march": "native", "features": ["avx2", "avx512_imaginary"]}))
    monkeypatch.setattr(native, "cpu_features", lambda: {"avx2", "fma"})
    reason = native.unrunnable_build(info)
    assert reason is not None and "avx512_imaginary" in reason and "-march=native" in reason
    info.write_text(json.dumps({"march": "x86-64-v3", "features": ["avx2"]}))
    assert native.unrunnable_build(info) is None
    assert native.unrunnable_build(tmp_path / "absent.json") is None  # an older install


def test_the_loader_compiles_for_this_cpu_instead_of_loading_such_a_build(monkeypatch, capsys):
    compiled = []
    monkeypatch.delenv(flags.MARCH, raising=False)
    monkeypatch.delenv("PYRAMID_KERNELS_NO_CPP", raising=False)
    monkeypatch.setattr(native, "unrunnable_build", lambda: "built for a CPU with avx512f")
    monkeypatch.setattr(native, "compile_sources", lambda: compiled.append(True))
    native.load_error.cache_clear()
    try:
        assert native.load_error() is None and compiled == [True]
        assert "compiling the kernels for this CPU" in capsys.readouterr().err
    finally:
        native.load_error.cache_clear()


def test_the_install_records_the_build_it_made():
    info = native.EXTENSION_DIR / "_C_build.json"
    if not (native.EXTENSION_DIR / "_C.abi3.so").exists() and not list(
        native.EXTENSION_DIR.glob("_C*.so")
    ):
        pytest.skip("no installed extension here (a first-use build)")
    recorded = json.loads(info.read_text())
    assert recorded["features"] == flags.features(recorded["march"])
    assert native.unrunnable_build(info) is None  # built here, so it runs here
