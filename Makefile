# Set-up and everyday commands. `make run` and `make test` each create the
# virtual environment (.venv) with a Python >= 3.12 they find themselves.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test venv lint bench clean

run: $(STAMP)
	$(VENV)/bin/kctsim run --overwrite

test: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/bench_model.py

venv: $(STAMP)

$(STAMP): pyproject.toml
	@interp=$$(.ci/find-python) || exit 1; \
	test -x $(PY) || "$$interp" -m venv $(VENV) || exit 1; \
	$(PY) -m pip install -q --upgrade pip && \
	$(PY) -m pip install -q -e ".[test]" && touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
