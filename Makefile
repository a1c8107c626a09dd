# The two commands: `make run` and `make test`. Everything else is what they call.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
export BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint setup system-deps app-system-deps debs python-deps frontend translations db demo migration bench clean

run: setup app-system-deps db demo  ## install, migrate, load the demo tenant, serve on http://127.0.0.1:5000
	@echo "ClientCard is running at http://$(HOST):$(PORT)  (Ctrl-C stops it)"
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: setup system-deps  ## install everything the tests need and run the whole suite
	$(BIN)/pytest $(PYTEST_ARGS)

setup: python-deps frontend translations

lint: python-deps  ## ruff over the code and the tests (CI runs it first)
	$(BIN)/ruff check app tests bench scripts migrations

python-deps: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Debian packages. The app: Noto CJK fonts for Chinese PDFs, Pango for WeasyPrint and HarfBuzz's subsetter (WeasyPrint
# subsets the CJK font with it in a tenth of fontTools' time). The tests add Chromium for the browser tests and
# poppler-utils (pdftoppm, to look at PDFs).
APP_DEBS := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0
TEST_DEBS := $(APP_DEBS) chromium poppler-utils
app-system-deps:
	@$(MAKE) --no-print-directory debs DEBS="$(APP_DEBS)"
system-deps:
	@$(MAKE) --no-print-directory debs DEBS="$(TEST_DEBS)"
debs:
	@missing=""; \
	for pkg in $(DEBS); do \
	  dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "Installing$$missing needs root: sudo apt-get install$$missing"; sudo apt-get install -y $$missing; fi; fi

frontend: static/vendor/.installed
static/vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	cp node_modules/sortablejs/Sortable.min.js static/vendor/Sortable.min.js
	cp node_modules/echarts/dist/echarts.min.js static/vendor/echarts.min.js
	touch $@

translations: python-deps
	$(BIN)/pybabel compile --statistics -d app/translations

db: python-deps
	@mkdir -p instance
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask seed-demo

# Regenerate the migration of a model change (review the result before committing).
migration: python-deps
	@test -n "$(m)" || (echo 'usage: make migration m="what changed"'; exit 1)
	rm -f /tmp/clientcard-migrate.sqlite
	DATABASE_URL=sqlite:////tmp/clientcard-migrate.sqlite $(BIN)/flask db upgrade
	DATABASE_URL=sqlite:////tmp/clientcard-migrate.sqlite $(BIN)/flask db migrate -m "$(m)"

bench: setup
	$(BIN)/python bench/run.py $(BENCH_ARGS)

extract-messages: python-deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot .
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) node_modules static/vendor instance
