# axon: `make demo` installs everything and runs the demo; `make test` installs everything
# and runs the tests. Every pip step uses constraints.txt (see DEVELOPERS.md for why).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# The default run leaves out tests marked slow; CI (CI=true) runs everything.
PYTEST_ARGS ?= $(if $(filter true 1,$(CI)),,-m "not slow")

.PHONY: all install system test test-all demo bench clean

all: test

# System packages: espeak-ng speaks the synthetic digits. Needs root (apt); skipped when present.
system:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng; \
	  else echo "espeak-ng missing: run 'sudo apt-get update && sudo apt-get install -y espeak-ng'" >&2; exit 1; fi; }

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found (axon needs Python 3.11)" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[test,train,peers,nir,distributed]"
	$(PY) -c "import numpy, numba, torch, brian2, nest, nir, snntorch, distributed" >/dev/null 2>&1 || { echo "an installed package does not import" >&2; exit 1; }
	touch $(STAMP)

install: system $(STAMP)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest -q

demo: install
	$(VENV)/bin/axon run scenarios/demo.toml

bench: install
	$(PY) -m benchmarks.exact_throughput

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
