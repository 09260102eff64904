# Two commands do everything on a fresh machine with Python >= 3.11 and make:
#   make run    set up (once) and open the dashboard on the embedded demo lake
#   make test   set up (once), then ruff, mypy and the whole test suite (unit + functional)
#   make test-unit   the quick folder only (no server, no subprocess, no TUI)
PYTHON ?= python3
# pytest-xdist workers for make test: twice the cores, since many tests wait on sleeps, subprocesses
# and servers rather than compute (JOBS=auto: one per core; JOBS=0 runs the suite in this process)
JOBS   ?= $(shell n=$$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1); echo $$((2 * n)))
# uv installs (pip falls back to itself when uv cannot); INSTALLER=pip installs with pip alone
INSTALLER ?= uv
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test checks test-unit typecheck lint bench clean
# make test holds the checks' output here while the suite runs
CHECKS_LOG := .checks.log

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

# make test: the checks (ruff, lint-imports, mypy; `make checks` runs them alone) run beside the suite,
# niced so that they take the cores only while the suite's tests wait (its timing-sensitive tests keep
# them first). Their output is held and printed after the suite's (a failure is announced at once);
# make test fails if either failed.
CHECKS := "$(BIN)/ruff check ." "$(BIN)/lint-imports" "$(BIN)/mypy"
test: $(STAMP)
	@$(BIN)/python -m compileall -q rlx_tui  # the suite's subprocesses read it, never compile it again
	@echo "checks: ruff, lint-imports and mypy run beside the suite; their output follows it"
	@( for check in $(CHECKS); do echo "$$check"; nice -n 10 $$check || failed=1; done > $(CHECKS_LOG) 2>&1; \
	   [ -z "$$failed" ] || { echo "make test: a check failed (its output follows the suite's)"; exit 1; } \
	 ) & checks=$$!; \
	trap 'pkill -P $$checks 2>/dev/null; kill $$checks 2>/dev/null' INT TERM HUP; \
	echo "$(BIN)/python -m pytest -n $(JOBS) --dist worksteal"; \
	$(BIN)/python -m pytest -n $(JOBS) --dist worksteal; suite=$$?; \
	wait $$checks; checked=$$?; \
	echo "---- checks (ruff, lint-imports, mypy), run beside the suite ----"; \
	cat $(CHECKS_LOG); rm -f $(CHECKS_LOG); \
	[ $$checked -eq 0 ] || echo "make test: ruff, lint-imports or mypy failed (above)"; \
	[ $$suite -eq 0 ] && [ $$checked -eq 0 ]

checks: $(STAMP)
	@for check in $(CHECKS); do echo "$$check"; $$check || failed=1; done; [ -z "$$failed" ]

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
