# ZeroGrads for Blender. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: all venv gui-deps demo demo-disc demo-texture test test-fast test-core bench-core bench-efficiency bench-server bench-render bench-quick-highdim addon clean \
	scenes bench-quick bench-quick-zerograds bench bench-texture-size bench-chaos bench-scaling device-check

all: test

# One environment for everything: torch (CPU build unless CUDA is present), numpy, pyzmq, cma,
# nevergrad, matplotlib, pytest and bpy (Blender as a Python module).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[baselines,blender,test]'
	# the optional Ray extra: bounded (no index reachable must not hang the build), never fatal
	timeout 600 $(PY) -m pip install --quiet --timeout 20 --retries 1 -e '.[ray]' \
		|| echo "ray: could not be installed here (no index, no wheel, or over 10 min); the Ray tests will be skipped and say why"
	touch $(STAMP)

venv: $(STAMP)

# For the GUI tests and the worker-inside-Blender test: Debian's Blender (3.4) and what its Python
# lacks (numpy, pyzmq), a virtual screen, xdotool for input events and ImageMagick for screenshots.
# Checked on every run (dpkg is quick); what is missing is installed when we may (root, or sudo
# without a password, and apt-get), bounded in time. Otherwise (not Debian, no rights, offline) this
# says so and `make test` goes on: those tests skip and name what they lack.
GUI_PACKAGES := blender xvfb xauth imagemagick xdotool python3-numpy python3-zmq
gui-deps:
	@missing=$$(for p in $(GUI_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done | tr '\n' ' '); \
	if [ -z "$$missing" ]; then echo "gui deps: present"; \
	elif ! command -v apt-get >/dev/null; then \
		echo "gui deps: missing $$missing and no apt-get here: the GUI tests will be skipped"; \
	else \
		if [ "$$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi; \
		if [ "$$sudo" = none ]; then \
			echo "gui deps: missing $$missing (not root, no password-less sudo): the GUI tests will be skipped;" \
				"install them with: sudo apt-get install $$missing"; \
		else echo "gui deps: installing $$missing"; \
			(timeout 300 $$sudo apt-get update -qq && timeout 1200 $$sudo env DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
			|| echo "gui deps: apt-get failed (offline?): the GUI tests will be skipped"; \
		fi; \
	fi

# The SHADOWS demo: a sphere outside the view, found from its shadow with real Cycles renders.
demo: $(STAMP)
	$(PY) -m scenes.shadows_demo --run

demo-disc: $(STAMP)
	$(PY) -m optimizer_server demo --budget 2000

# TEXTURE at ci size: a 64×64×3 albedo texture fitted to a target picture with Cycles renders (auto);
# before/after/target pictures in out/demo-texture/hd_texture_output (initial.png, final.png, target.png).
demo-texture: $(STAMP)
	$(PY) -m scenes.hd_texture --size ci --budget 600 --out out/demo-texture
	$(PY) -m optimizer_server run out/demo-texture/hd_texture.toml

test: $(STAMP) gui-deps
	$(PY) -m ruff check . && $(PY) -m ruff format --check .
	$(PY) -m pytest -q

# Everything but the tests marked slow (convergence runs, Blender end to end, the GUI): under 2 minutes.
test-fast: $(STAMP)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .
	$(PY) -m pytest -q -m "not slow"

test-core: $(STAMP)
	$(PY) -m pytest -q tests/core tests/test_import_graph.py

bench-core: $(STAMP)
	$(PY) -m benchmarks.bench_core

bench-efficiency: $(STAMP)
	$(PY) -m benchmarks.bench_efficiency

bench-texture-size: $(STAMP)
	$(PY) -m benchmarks.bench_texture_size
	$(PY) -m benchmarks.bench_texture_size --method gauss_newton --iterations 100

bench-server: $(STAMP)
	$(PY) -m benchmarks.bench_server

bench-render: $(STAMP)
	$(PY) -m benchmarks.bench_render

# The array tasks (TEXTURE, MESH, CAUSTIC heightfield) at ci size, one seed, every method that runs:
# docs/results-highdim.md.
bench-quick-highdim: $(STAMP)
	$(PY) -m benchmarks.scene_bench --profile quick --tasks highdim --seeds 0 --report docs/results.md

# Ten minutes of worker kills/stops, server kills (supervised resume), gateway aborts, routing-id
# attacks and a fuzzing peer; then the same jobs undisturbed: every final x must be identical
# (docs/security.md). `--minutes` makes it shorter.
bench-chaos: $(STAMP)
	$(PY) -m benchmarks.bench_chaos --minutes 10

# Wall time and renders to target with k = 1 … 32 analytic workers whose renders take a fixed 100 ms
# (a server process, `auto`, three problems; docs/scaling.md). Over an hour on the shared 2 cores (led336 at
# k = 1 alone runs past 7 minutes per seed); --ks, --problems, --seeds and --max-s make it shorter.
bench-scaling: $(STAMP)
	$(PY) -m benchmarks.bench_scaling

# Cycles renders/s and the optimiser's time per iteration, GPU against CPU (says so when there is no GPU).
device-check: $(STAMP)
	scripts/device_check.sh

# Every task's scenes (.blend) and job files (PRDPT's and ZeroGrads', full size), built from
# scenes/*.py into build/scenes (not committed).
scenes: $(STAMP)
	$(PY) -m scenes.registry --out build/scenes

# Every method on every task at equal render budgets (benchmarks/scene_bench.py). Quick: 3 seeds, 32 px,
# 16 spp (ZeroGrads' tasks at their ci size). Measured on the shared 2-core machine:
# bench-quick, PRDPT's six tasks beside Tab. 4.2 in docs/results.md: 29.8 min;
# bench-quick-zerograds, ZeroGrads' seven beside Tab. 5.2 in docs/results-zerograds.md: about 26 min.
# Full (make bench): 5 seeds, 64 px, the paper's spp and render budgets (SORT alone takes days on 2 cores).
bench-quick: $(STAMP)
	$(PY) -m benchmarks.scene_bench --profile quick --jobs 2 --tasks prdpt --out out/bench-scenes/quick \
		--report docs/results.md

bench-quick-zerograds: $(STAMP)
	$(PY) -m benchmarks.scene_bench --profile quick --jobs 2 --tasks zerograds --out out/bench-scenes/quick-zerograds \
		--report docs/results.md

bench: $(STAMP)
	$(PY) -m benchmarks.scene_bench --profile full --jobs 2

addon: $(STAMP)
	$(PY) -m blender_addon.build

clean:
	rm -rf $(VENV) out dist .pytest_cache
