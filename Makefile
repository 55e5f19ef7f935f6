# Makefile for the automation extension (PGXS).
#
# make && make install      builds and installs the extension and the worker
# make installcheck         runs the regression and isolation suites against
#                           a running server (PGHOST/PGPORT/PGUSER)
# test/run-all.sh           everything, from a fresh machine (see README)

EXTENSION = automation
EXTVERSION = 0.3.0

MODULE_big = automation
OBJS = $(patsubst %.c,%.o,$(wildcard src/*.c))

# The install script of the version under development is assembled from
# sql/install/*.sql in name order.  Released install scripts and the upgrade
# scripts are committed files, shipped as they are (doc/releasing.md).
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

REGRESS = $(sort $(patsubst sql/%.sql,%,$(filter-out sql/$(EXTENSION)--%,$(wildcard sql/*.sql))))
REGRESS_OPTS = --inputdir=.
ISOLATION = $(sort $(patsubst specs/%.spec,%,$(wildcard specs/*.spec)))
ISOLATION_OPTS = --inputdir=.

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
ifdef WERROR
PG_CPPFLAGS += -Werror
endif

EXTRA_CLEAN = $(DATA_built)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(DATA_built): $(sort $(wildcard sql/install/*.sql))
	{ echo '-- $(EXTENSION)--$(EXTVERSION).sql: assembled by the Makefile from sql/install/*.sql'; cat $^; } > $@

all: worker
install: install-worker
clean: clean-worker

.PHONY: worker install-worker clean-worker
worker:
	@if [ -f src/worker/Makefile ]; then $(MAKE) -C src/worker PG_CONFIG=$(PG_CONFIG); fi
install-worker:
	@if [ -f src/worker/Makefile ]; then $(MAKE) -C src/worker PG_CONFIG=$(PG_CONFIG) install; fi
clean-worker:
	@if [ -f src/worker/Makefile ]; then $(MAKE) -C src/worker PG_CONFIG=$(PG_CONFIG) clean; fi

# every module shares the engine's structures
$(OBJS): src/automation.h src/owner.h
