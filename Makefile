# Makefile for the automation extension (PGXS).
#
# make && make install      builds and installs the extension, the worker
#                           and the HTTP API server
# make installcheck         runs the regression and isolation suites in a
#                           throwaway preloaded instance, or against a running
#                           server when PGHOST, PGPORT or USE_EXISTING=1 is
#                           set (test/lib/installcheck.sh)
# test/run-all.sh           everything, from a fresh machine (see README)

EXTENSION = automation
EXTVERSION = 0.4.0
PREVVERSION = 0.3.0

MODULE_big = automation
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))

# Shipped SQL lives in src/sql/, apart from the regression suites (sql/,
# expected/).  The install script of the version under development is
# assembled from src/sql/install/*.sql in name order, its upgrade script from
# src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/*.sql.  Released install
# scripts and older upgrade scripts are committed files, shipped as they are
# (doc/releasing.md).
DATA_built = src/sql/$(EXTENSION)--$(EXTVERSION).sql src/sql/$(EXTENSION)--$(PREVVERSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard src/sql/$(EXTENSION)--*.sql))

REGRESS = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=.
ISOLATION = $(sort $(patsubst test/isolation/specs/%.spec,%,$(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
ifdef WERROR
PG_CPPFLAGS += -Werror
endif

EXTRA_CLEAN = $(DATA_built) $(VOCAB_GEN) src/sql/install/05_vocabulary.sql src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/10_vocabulary.sql

# installcheck is ours (below): it brings its own preloaded instance
NO_INSTALLCHECK = 1

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# installcheck: test/lib/installcheck.sh starts a throwaway instance (unless
# PGHOST, PGPORT or USE_EXISTING=1 name a running server) and runs
# installcheck-existing there: PGXS's installcheck recipe, where an empty
# REGRESS= or ISOLATION= skips that part.
.PHONY: installcheck installcheck-existing
installcheck:
	@PG_CONFIG='$(PG_CONFIG)' MAKE='$(MAKE)' test/lib/installcheck.sh
installcheck-existing: submake $(REGRESS_PREP)
	$(if $(strip $(REGRESS)),$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS))
	$(if $(strip $(ISOLATION)),$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION))

# The vocabulary (src/vocabulary.h) is the one definition of the operators
# and action types; src/gen/vocabulary_sql.c writes its SQL side into one
# install fragment and one upgrade fragment, generated here and not
# committed (doc/CONTRACTS.md, "Vocabulary").
VOCAB_GEN = src/gen/vocabulary_sql

$(VOCAB_GEN): src/gen/vocabulary_sql.c src/vocabulary.h
	$(CC) -std=c99 -Wall -Wextra $(if $(WERROR),-Werror) -I$(srcdir)/src -o $@ $<

src/sql/install/05_vocabulary.sql: $(VOCAB_GEN)
	$(VOCAB_GEN) install > $@.tmp && mv $@.tmp $@

src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/10_vocabulary.sql: $(VOCAB_GEN)
	$(VOCAB_GEN) upgrade > $@.tmp && mv $@.tmp $@

src/sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/install/*.sql) src/sql/install/05_vocabulary.sql)
	{ echo '-- $(EXTENSION)--$(EXTVERSION).sql: assembled by the Makefile from src/sql/install/*.sql'; cat $^; } > $@

src/sql/$(EXTENSION)--$(PREVVERSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/*.sql) src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/10_vocabulary.sql)
	{ echo '-- $(EXTENSION)--$(PREVVERSION)--$(EXTVERSION).sql: assembled by the Makefile from src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/*.sql'; cat $^; } > $@

all: worker api
install: install-worker install-api
clean: clean-worker clean-api

.PHONY: worker install-worker clean-worker
worker:
	@if [ -f src/worker/Makefile ]; then $(MAKE) -C src/worker PG_CONFIG=$(PG_CONFIG); fi
install-worker:
	@if [ -f src/worker/Makefile ]; then $(MAKE) -C src/worker PG_CONFIG=$(PG_CONFIG) install; fi
clean-worker:
	@if [ -f src/worker/Makefile ]; then $(MAKE) -C src/worker PG_CONFIG=$(PG_CONFIG) clean; fi

.PHONY: api install-api clean-api
api:
	@if [ -f src/api/Makefile ]; then $(MAKE) -C src/api PG_CONFIG=$(PG_CONFIG); fi
install-api:
	@if [ -f src/api/Makefile ]; then $(MAKE) -C src/api PG_CONFIG=$(PG_CONFIG) install; fi
clean-api:
	@if [ -f src/api/Makefile ]; then $(MAKE) -C src/api PG_CONFIG=$(PG_CONFIG) clean; fi

# the engine's headers (doc/CONTRACTS.md, "Engine modules"); a module is
# rebuilt when any of them changes
$(OBJS): $(wildcard src/*.h)
