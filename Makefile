# Makefile for the automation extension (PGXS).
#
# make && make install      builds and installs the extension, the worker
#                           and the HTTP API server
# make installcheck         runs the regression and isolation suites against
#                           a running server (PGHOST/PGPORT/PGUSER)
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

EXTRA_CLEAN = $(DATA_built)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

src/sql/$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/install/*.sql))
	{ echo '-- $(EXTENSION)--$(EXTVERSION).sql: assembled by the Makefile from src/sql/install/*.sql'; cat $^; } > $@

src/sql/$(EXTENSION)--$(PREVVERSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/upgrade/$(PREVVERSION)--$(EXTVERSION)/*.sql))
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

# every module shares the engine's structures
$(OBJS): src/automation.h src/owner.h
