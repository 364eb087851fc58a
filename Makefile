# Set-up and everyday commands. `make run` and `make test` each create the
# virtual environment (.venv) with a Python >= 3.12 they find themselves.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ASSETS := $(VENV)/.solara-assets
CHROMIUM := /usr/bin/chromium

.PHONY: run test venv lint bench clean dashboard

run: $(STAMP)
	$(VENV)/bin/kctsim propositions --resume

test: $(STAMP) $(ASSETS) $(CHROMIUM)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(PY) -m pytest -q

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
	$(PY) -m pip install -q -e ".[test]" && touch $(STAMP)

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
	rm -rf $(VENV) .pytest_cache .ruff_cache
