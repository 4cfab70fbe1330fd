# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
FLASK = $(BIN)/flask --app app

.PHONY: run setup install test i18n clean

# Fresh machine → virtual environment, dependencies, schema, roles, admin,
# demo data, then the panel on http://127.0.0.1:5000 (with RADIUS on 11812/11813 and FTP on 2121).
run: setup
	$(BIN)/python run.py

setup: install
	@mkdir -p instance
	$(FLASK) db upgrade
	$(FLASK) security init-roles
	$(FLASK) security create-admin
	$(FLASK) demo seed

install: $(VENV)/.installed translations/bg/LC_MESSAGES/messages.mo

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

translations/bg/LC_MESSAGES/messages.mo: translations/bg/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d translations

# Tests run on SQLite; set TEST_DATABASE_URL to run them on PostgreSQL.
test: install
	$(BIN)/pytest -q

# Extract the app's and Flask-AppBuilder's strings, merge into the catalog, compile.
i18n: $(VENV)/.installed
	$(BIN)/pybabel extract -F translations/babel.cfg -k lazy_gettext -k _l -k N_ --no-location \
		--sort-output -o translations/messages.pot app \
		$$($(BIN)/python -c 'import flask_appbuilder, os; print(os.path.dirname(flask_appbuilder.__file__))')
	$(BIN)/pybabel update -i translations/messages.pot -d translations -l bg --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d translations
	@msgfmt --statistics -o /dev/null translations/bg/LC_MESSAGES/messages.po

clean:
	rm -rf $(VENV) instance
