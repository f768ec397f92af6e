# ZeroGrads for Blender. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: all venv demo demo-disc test test-core bench-core bench-server bench-render addon clean

all: test

# One environment for everything: torch (CPU build unless CUDA is present), numpy, pyzmq, cma,
# nevergrad, matplotlib, pytest and bpy (Blender as a Python module).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[baselines,blender,test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m optimizer_server demo --budget 2000

demo-disc: $(STAMP)
	$(PY) -m optimizer_server demo --budget 2000

test: $(STAMP)
	$(PY) -m pytest -q

test-core: $(STAMP)
	$(PY) -m pytest -q tests/core tests/test_layering.py

bench-core: $(STAMP)
	$(PY) benchmarks/bench_core.py

bench-server: $(STAMP)
	$(PY) benchmarks/bench_server.py

bench-render: $(STAMP)
	$(PY) benchmarks/bench_render.py

addon: $(STAMP)
	$(PY) blender_addon/build.py

clean:
	rm -rf $(VENV) out dist .pytest_cache
