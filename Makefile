# Two commands do everything on a fresh machine with Python >= 3.11 and make:
#   make run    set up (once) and open the dashboard on the embedded demo lake
#   make test   set up (once), then ruff, mypy and the whole test suite (unit + functional)
#   make test-unit   the quick folder only (no server, no subprocess, no TUI)
PYTHON ?= python3
# pytest-xdist workers for make test (auto: one per core); JOBS=0 runs the suite in this process
JOBS   ?= auto
# uv installs (pip falls back to itself when uv cannot); INSTALLER=pip installs with pip alone
INSTALLER ?= uv
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-unit typecheck lint bench clean

# Set-up installs with uv (the version pinned in constraints.txt, itself installed into the venv by pip):
# the same packages and pins as pip, in a fraction of the time. If uv cannot be installed or fails
# (no wheel for this platform, say), plain pip does the whole install instead. Bytecode is compiled at
# install (pip does it by default, uv when asked): where PYTHONDONTWRITEBYTECODE is set, as on these
# machines, every process would otherwise compile its libraries from source again.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] \
	    && $(BIN)/python -m pip install --quiet --disable-pip-version-check uv -c constraints.txt \
	    && $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]' -c constraints.txt; then \
	  echo "installed with uv"; \
	else \
	  echo "installing with pip"; \
	  $(BIN)/python -m pip install --quiet --upgrade pip \
	    && $(BIN)/python -m pip install --quiet -e '.[dev]' -c constraints.txt; \
	fi
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/rlx-tui --source demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	@$(BIN)/python -m compileall -q rlx_tui  # the suite's subprocesses read it, never compile it again
	$(BIN)/python -m pytest -n $(JOBS) --dist worksteal

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

typecheck: $(STAMP)
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
