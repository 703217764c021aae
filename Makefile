# depotdelivery: `make demo` (end to end on a directory store) and `make test`.
# Both work on a fresh Debian bookworm machine as root; everything they need
# is installed into folders this checkout owns (.venv, .deps).

# Debian's interpreter: job users must be able to run the venv (a pyenv
# Python under /root is not readable by them).
PYTHON  ?= /usr/bin/python3
VENV    := .venv
PY      := $(VENV)/bin/python
JULIA   := $(CURDIR)/.deps/julia/bin/julia
SOURCES := $(shell find depotdelivery build submit wrapper -name '*.py' -o -name '*.jl' -o -name '*.lua' -o -name 'depotdelivery-run') setup.cfg

.PHONY: all deps julia venv install demo check test test-fast bench clean

all: install

# System packages the tool and its tests use (Debian names).
.deps/apt.stamp: tools/setup-system.sh
	@mkdir -p .deps
	tools/setup-system.sh
	@touch $@

julia: $(JULIA)
$(JULIA): .deps/apt.stamp tools/setup-julia.sh
	tools/setup-julia.sh $(CURDIR)/.deps/julia

$(VENV)/.venv.stamp: .deps/apt.stamp
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	@touch $@

# Dependencies: the ones setup.cfg lists (install_requires and the test,
# check, bench and htcondor extras), at the versions tested (constraints.txt).
$(VENV)/.deps.stamp: $(VENV)/.venv.stamp setup.cfg constraints.txt
	$(PY) -m pip install -q -c constraints.txt --upgrade pip setuptools wheel
	@mkdir -p .setuptools-build
	$(PY) -m pip install -q -c constraints.txt --no-build-isolation ".[test,check,bench,htcondor]"
	@touch $@

# The package (non-editable: the job wrapper runs from an installed copy) and
# the `depotdelivery-run` job wrapper, started with -I -S for speed.
$(VENV)/.install.stamp: $(VENV)/.deps.stamp $(SOURCES)
	@rm -rf .setuptools-build && mkdir -p .setuptools-build
	$(PY) -m pip install -q --no-build-isolation --no-deps --force-reinstall .
	sed '1s|^#!python|#!$(CURDIR)/$(PY)|' wrapper/depotdelivery-run > $(VENV)/bin/depotdelivery-run
	chmod 755 $(VENV)/bin/depotdelivery-run
	@touch $@

install: $(JULIA) $(VENV)/.install.stamp
deps: install

demo: install
	$(PY) tools/demo.py

# Lint and types first (seconds), then the suite.  mypy checks the installed
# package (the source folders map to depotdelivery.* only when installed).
check: install
	$(VENV)/bin/ruff check .
	cd / && $(CURDIR)/$(VENV)/bin/mypy --config-file $(CURDIR)/mypy.ini -p depotdelivery

test: install check
	$(VENV)/bin/pytest -q

# Unit tests only (no Julia builds, no batch systems).
test-fast: install
	$(VENV)/bin/pytest -q -m "not julia and not slurm and not htcondor"

bench: install
	$(PY) bench/run.py

clean:
	rm -rf _build .setuptools-build .pytest_cache
