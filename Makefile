# Set-up and everyday commands. `make run` and `make test` each create the
# virtual environment (.venv) with a Python >= 3.12 they find themselves.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ASSETS := $(VENV)/.solara-assets
CHROMIUM := /usr/bin/chromium
# Material prints a notice about MkDocs 2 on every build; it is not about this site.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs

# The oldest numba (and numpy) kctsim supports, in a venv of its own: the compiled core's
# tests run there too, so the requirement's lower end is tested (.venv has the newest).
OLDEST_VENV := .venv-oldest
OLDEST := $(OLDEST_VENV)/.installed
OLDEST_PINS := "numba==0.60.*" "numpy==2.0.*"
OLDEST_TESTS := tests/test_streams.py tests/test_reference.py tests/test_determinism.py \
	tests/test_architecture.py tests/test_money.py

.PHONY: run test venv lint bench clean dashboard docs

run: $(STAMP)
	$(VENV)/bin/kctsim propositions --resume

# The site is built (strictly: a broken link or a failing notebook fails) before pytest,
# whose browser test opens it.
test: $(STAMP) $(ASSETS) $(CHROMIUM) $(OLDEST)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && \
	$(MKDOCS) build --strict --quiet && \
	NUMBA_CACHE_DIR=$(OLDEST_VENV)/numba-cache $(OLDEST_VENV)/bin/python -m pytest -q \
		-p no:cacheprovider $(OLDEST_TESTS) && \
	$(PY) -m pytest -q

# The documentation site into site/ (open site/index.html): the README, the ODD, the
# propositions, the scenario and CLI references and the five notebooks, executed on
# their small setting (about a minute).
docs: $(STAMP)
	$(MKDOCS) build --strict

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) benchmarks/bench_model.py

dashboard: $(STAMP) $(ASSETS)
	$(VENV)/bin/kctsim dashboard

venv: $(STAMP)

$(STAMP): pyproject.toml
	@interp=$$(.ci/find-python) || exit 1; \
	test -x $(PY) || "$$interp" -m venv $(VENV) || exit 1; \
	$(PY) -m pip install -q --upgrade pip && \
	$(PY) -m pip install -q -e ".[test,docs]" && touch $(STAMP)

$(OLDEST): pyproject.toml
	@interp=$$(.ci/find-python) || exit 1; \
	test -x $(OLDEST_VENV)/bin/python || "$$interp" -m venv $(OLDEST_VENV) || exit 1; \
	$(OLDEST_VENV)/bin/python -m pip install -q --upgrade pip && \
	$(OLDEST_VENV)/bin/python -m pip install -q $(OLDEST_PINS) pytest hypothesis -e . && \
	touch $(OLDEST)

# Solara's browser front end, from the npm registry into the venv: the CDN it
# normally comes from is unreachable here and in CI (kctsim/dashboard/assets.py).
$(ASSETS): $(STAMP)
	$(PY) -m kctsim.dashboard.assets && touch $(ASSETS)

# The dashboard's browser test drives Debian's chromium; Playwright cannot
# download a browser of its own here. Installed when we are root (CI is).
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's chromium for the dashboard's browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "note: $(CHROMIUM) is missing: 'sudo apt-get install chromium' to run the browser test"; \
	fi

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .pytest_cache .ruff_cache site .cache
