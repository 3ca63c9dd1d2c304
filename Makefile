# Tollgate -- build, run, test, fuzz and benchmark.
#
# Every public target first makes sure the Debian packages it needs are
# installed (scripts/deps.sh), then re-enters make so pkg-config runs after
# the install.  `make run` and `make test` are the two-command quick start.

PREFIX      ?= /usr/local
PYTHON      ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
CONFIG      ?= tollgate.yaml
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
V           ?= 0
Q            = $(if $(filter 1,$(V)),,@)

PKGS    = libh2o-evloop hiredis jansson libcurl yaml-0.1 yajl libzstd
WARN    = -Wall -Wextra -Werror
STD     = -std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0
OPT     ?= -O2 -g
SAN     = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# EXCLUDE leaves sources out (for bisecting a broken module): make unit EXCLUDE='gateway/decide/x%.c'
EXCLUDE  ?=
# gateway/<subsystem>/<module>.c; docs/ARCHITECTURE.md says what each folder holds.
SRCS      = $(filter-out $(EXCLUDE),$(wildcard gateway/*/*.c))
LIB_SRCS  = $(filter-out gateway/cmd/main.c,$(SRCS))
UNIT_SRCS = $(wildcard tests/unit/test_*.c)
FUZZ_SRCS = $(wildcard tests/fuzz/fuzz_*.c)

# The console's files (console/) compiled in as C: generated into build/gen/, never committed.
ASSETS    = $(sort $(wildcard console/*.html console/*.js console/*.css))
GEN       = gen/console_assets

OBJS      = $(SRCS:gateway/%.c=build/obj/%.o) build/obj/$(GEN).o
TEST_OBJS = $(LIB_SRCS:gateway/%.c=build/test/obj/%.o) build/test/obj/$(GEN).o
ASAN_OBJS = $(LIB_SRCS:gateway/%.c=build/asan/obj/%.o) build/asan/obj/$(GEN).o
FUZZ_OBJS = $(LIB_SRCS:gateway/%.c=build/fuzz/obj/%.o) build/fuzz/obj/$(GEN).o
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=build/test/%)
ASAN_BINS = $(UNIT_SRCS:tests/unit/%.c=build/asan/%)
FUZZ_BINS = $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

.SECONDARY:
.PHONY: all deps deps-build deps-run deps-bench deps-image build run test unit integration \
        fuzz fuzz-build bench demo image install clean help chaos format

all: deps-build
	@$(MAKE) --no-print-directory -j$(JOBS) build

deps: ; @scripts/deps.sh test
deps-build: ; @scripts/deps.sh build
deps-run: ; @scripts/deps.sh run
deps-bench: ; @scripts/deps.sh bench
deps-image: ; @scripts/deps.sh image

# ---- inner targets: run only after deps, so pkg-config sees the packages ----
ifneq ($(filter build unit-build fuzz-build build/%,$(MAKECMDGOALS)),)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS)) -lssl -lcrypto -lpthread -lm
endif
# -MMD -MP: each object depends on the headers it really includes (build/**/*.d).
CFLAGS_ALL = $(STD) $(WARN) $(PKG_CFLAGS) -Igateway -MMD -MP

build: build/tollgate

build/tollgate: $(OBJS)
	@echo "  LD $@"
	$(Q)$(CC) $(OPT) -o $@ $(OBJS) $(PKG_LIBS)

build/gen/console_assets.c: $(ASSETS) scripts/embed_assets.sh
	@echo "  GEN $@"
	$(Q)scripts/embed_assets.sh $@ $(ASSETS)

build/obj/gen/%.o: build/gen/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(OPT) -c -o $@ $<

build/test/obj/gen/%.o: build/gen/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -O1 -g -c -o $@ $<

build/asan/obj/gen/%.o: build/gen/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -O1 -g $(SAN) -c -o $@ $<

build/fuzz/obj/gen/%.o: build/gen/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)clang $(CFLAGS_ALL) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/obj/%.o: gateway/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) $(OPT) -c -o $@ $<

build/test/obj/%.o: gateway/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -O1 -g -DTG_TESTING -c -o $@ $<

build/asan/obj/%.o: gateway/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_ALL) -O1 -g $(SAN) -DTG_TESTING -c -o $@ $<

build/test/test_%: tests/unit/test_%.c tests/unit/unit.h $(TEST_OBJS)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) -O1 -g -DTG_TESTING -Itests/unit -o $@ $< $(TEST_OBJS) $(PKG_LIBS)

build/asan/test_%: tests/unit/test_%.c tests/unit/unit.h $(ASAN_OBJS)
	@echo "  LD $@"
	$(Q)$(CC) $(CFLAGS_ALL) -O1 -g $(SAN) -DTG_TESTING -Itests/unit -o $@ $< $(ASAN_OBJS) $(PKG_LIBS)

build/asan/tollgate: $(ASAN_OBJS) build/asan/obj/cmd/main.o
	@echo "  LD $@"
	$(Q)$(CC) -O1 -g $(SAN) -o $@ $(ASAN_OBJS) build/asan/obj/cmd/main.o $(PKG_LIBS)

unit-build: build/tollgate build/asan/tollgate $(UNIT_BINS) $(ASAN_BINS)

build/fuzz/obj/%.o: gateway/%.c
	@echo "  CC $@"
	@mkdir -p $(@D)
	$(Q)clang $(CFLAGS_ALL) -O1 -g -fsanitize=fuzzer-no-link,address,undefined -DTG_TESTING -c -o $@ $<

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@echo "  LD $@"
	$(Q)clang $(CFLAGS_ALL) -O1 -g -fsanitize=fuzzer,address,undefined -DTG_TESTING -o $@ $< $(FUZZ_OBJS) $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

build/obj build/test/obj build/asan/obj build/fuzz/obj:
	@mkdir -p $@

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- public targets ----
run: deps-run
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@scripts/run.sh $(CONFIG)

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) unit-build
	@PYTHON=$(PYTHON) scripts/test.sh

unit: deps
	@$(MAKE) --no-print-directory -j$(JOBS) unit-build
	@PYTHON=$(PYTHON) scripts/test.sh unit

integration: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@PYTHON=$(PYTHON) scripts/test.sh integration

# clang-format over the C tree (.clang-format); `make test` checks the tree is formatted.
format: deps
	@scripts/style.sh fix

# The fault-and-abuse suite, full form: every tests/chaos/chaos_*.py, one table of figures.
chaos: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@$(PYTHON) tests/chaos/run.py

fuzz: deps
	@$(MAKE) --no-print-directory -j$(JOBS) fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps-bench
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@for b in bench/*.sh; do echo "== $$b"; bash $$b || exit 1; done

demo: deps
	@$(MAKE) --no-print-directory -j$(JOBS) build
	@$(PYTHON) scripts/demo.py

# The container image tollgate:dev with podman (base images made with debootstrap when absent).
image: deps-image
	@scripts/image.sh build

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tollgate/policies \
	    $(DESTDIR)$(PREFIX)/share/tollgate/templates
	install -m 0755 build/tollgate $(DESTDIR)$(PREFIX)/bin/tollgate
	install -m 0644 policies/*.yaml $(DESTDIR)$(PREFIX)/share/tollgate/policies/
	install -m 0644 templates/*.yaml $(DESTDIR)$(PREFIX)/share/tollgate/templates/
	install -m 0644 tollgate.yaml $(DESTDIR)$(PREFIX)/share/tollgate/tollgate.example.yaml

clean:
	rm -rf build tests/log

help:
	@echo "make            build build/tollgate"
	@echo "make run        the gateway on localhost with a private Redis (CONFIG=tollgate.yaml)"
	@echo "make test       unit tests (plain and ASan+UBSan) and integration tests"
	@echo "make unit | integration   one half of make test"
	@echo "make fuzz       every fuzz target for FUZZ_SECONDS (default 60)"
	@echo "make bench      the benchmarks in bench/"
	@echo "make demo       a guided run against the stand-in GitLab"
	@echo "make chaos      the fault-and-abuse suite, full form (one table of figures)"
	@echo "make format     clang-format the C tree (make test checks it is formatted)"
	@echo "make image      the container image tollgate:dev (podman; contrib/docker/Dockerfile)"
	@echo "make install    binary, policies, templates under PREFIX (default /usr/local)"
	@echo "make deps       install the Debian packages and tools the tests need"
	@echo "make clean      remove build/ and tests/log/"
