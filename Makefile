# sluice — top-level Makefile (GNU make; no CMake, no autotools).
#
#   make            build bin/sluice-broker, bin/sluice-capture,
#                   bin/sluice-apply and bin/sluice
#   make deps       install the missing Debian packages of docker/packages.txt
#   make test       deps + lint + build + unit + integration and fault tests
#                   + unit tests under ASan/UBSan + a short fuzz run; the last
#                   line is "total: N passed, N failed, N skipped"
#   make lint       style checks in seconds (docs/style.md): clang-format 14
#                   with .clang-format, and the lines the style forbids
#   make format     rewrites every tracked .c and .h file with clang-format 14
#   make unit       unit tests only (T=json runs the tests whose name has "json")
#   make asan       unit tests under AddressSanitizer and UBSan
#   make itest      integration and fault tests against real servers (two
#                   of them also built with ASan and UBSan)
#   make fuzz       every libFuzzer target for FUZZ_SECONDS (default 60) each;
#                   the long run (issue 12) is FUZZ_SECONDS=600, and each
#                   target's line gives its executions, cov and ft
#   make bench      the benchmarks in bench/
#   make demo       the whole pipeline on throwaway local servers
#   make chaos      the long chaos test (CHAOS_SECONDS, CHAOS_SEED)
#   make docker-test  build the image and run docker/compose.yaml end to end
#                   (minutes; starts a Docker engine when none runs)
#   make install PREFIX=/usr/local, make clean

PREFIX ?= /usr/local
CLANG ?= clang
FUZZ_SECONDS ?= 60

PC_MODULES := libmariadb libuv libpcre2-8 hiredis libzstd zlib inih libssl libcrypto libmemcached liblz4 snappy

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=gnu11 -g $(WARN) -D_GNU_SOURCE -I. -Ilib -Itests/harness -MMD -MP
CFLAGS ?= -O2
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined

# Goals that must not trigger package installation or pkg-config.
NOCONFIG_GOALS := clean deps help
ifeq ($(filter $(NOCONFIG_GOALS),$(MAKECMDGOALS)),)
-include build/config.mk
endif

# pkg-config runs once, after the packages are installed; its answer is
# cached here (make re-reads it before building anything).
# DEPS_SET=build installs only the build packages (docker/Dockerfile).
build/config.mk: Makefile docker/packages.txt
	@docker/install-deps.sh $(DEPS_SET)
	@mkdir -p build
	@set -e; cf=$$(pkg-config --cflags $(PC_MODULES)); \
	  lf=$$(pkg-config --libs $(PC_MODULES)); \
	  rk=$$(pkg-config --cflags --libs rdkafka); \
	  mhd=$$(pkg-config --libs libmicrohttpd); \
	  pqc=$$(pkg-config --cflags libpq); pql=$$(pkg-config --libs libpq); \
	  printf 'PKG_CFLAGS := %s\nPKG_LIBS := %s\nRDKAFKA := %s\nMHD := %s\n' \
	    "$$cf" "$$lf" "$$rk" "$$mhd" > $@.tmp; \
	  printf 'PQ_CFLAGS := %s\nPQ_LIBS := %s\n' "$$pqc" "$$pql" >> $@.tmp; \
	  mv $@.tmp $@

ALL_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) $(PKG_CFLAGS)
# libmicrohttpd serves the HTTP endpoint (lib/http.c, http-listen): only
# what pulls lib/http.o from the archive (the three services and the tests
# that run them) ends up depending on it.
LDLIBS = $(PKG_LIBS) -Wl,--as-needed $(MHD) -Wl,--no-as-needed -lpthread -lm

LIB_SRC := $(wildcard lib/*.c)
# A subsystem's sub-folders (capture/decoder/, capture/schema/, ...) are
# part of its library code.
BROKER_SRC := $(filter-out broker/main.c,$(wildcard broker/*.c broker/*/*.c))
CAPTURE_SRC := $(filter-out capture/main.c,$(wildcard capture/*.c capture/*/*.c))
APPLY_SRC := $(filter-out apply/main.c,$(wildcard apply/*.c apply/*/*.c))
# The PostgreSQL target (libpq) is linked only into sluice-apply and its
# tests, so it stays out of the archive every program links.
PG_SRC := $(wildcard apply/pg/*.c)
APPLY_SRC := $(filter-out $(PG_SRC),$(APPLY_SRC))
MODULE_SRC := $(LIB_SRC) $(BROKER_SRC) $(CAPTURE_SRC) $(APPLY_SRC)
UNIT_SRC := $(wildcard tests/unit/*.c)
# The runner's main() is kept apart so benchmarks, which have their own,
# can link the harness.
TESTMAIN_SRC := tests/harness/testmain.c
HARNESS_SRC := $(filter-out $(TESTMAIN_SRC),$(wildcard tests/harness/*.c))
ITEST_SRC := $(wildcard tests/integration/*.c tests/fault/*.c)
BENCH_SRC := $(wildcard bench/*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,build/obj/%.o,$(1))
asanobj = $(patsubst %.c,build/asan/%.o,$(1))
fuzzobj = $(patsubst %.c,build/fuzz/%.o,$(1))

PROGRAMS := bin/sluice-broker bin/sluice-capture bin/sluice-apply bin/sluice
ITESTS := $(patsubst %.c,build/%,$(ITEST_SRC))
# Integration programs that link the code they test (the MySQL sink, the
# Redis and memcached sinks, the decoder on real-server rows) also run
# built with ASan and UBSan.
ITESTS_ASAN := build/tests-asan/integration/apply_mysql \
               build/tests-asan/integration/apply_cache \
               build/tests-asan/integration/capture_formats \
               build/tests-asan/integration/capture_types \
               build/tests-asan/integration/client_hostile
BENCHES := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))
FUZZERS := $(patsubst tests/fuzz/%.c,build/fuzzers/%,$(FUZZ_SRC))

.PHONY: all deps build test unit asan itest fuzz fuzz-smoke bench install \
        clean help demo chaos lint format docker-test
.DEFAULT_GOAL := all
# Objects built on the way to a program are kept (no rebuild next time).
.SECONDARY:

all: deps build
build: $(PROGRAMS) build/unit-tests $(ITESTS) $(BENCHES) build/freeport \
       build/tests/tools/kafka_mock

help:
	@sed -n '3,21p' Makefile

# Installs what is missing, with a single apt-get update, and does nothing
# (no network, no root needed) when every package is already present.
deps:
	@docker/install-deps.sh

build/obj/%.o: %.c build/config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

build/asan/%.o: %.c build/config.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -O1 $(SAN_FLAGS) -c $< -o $@

build/fuzz/%.o: %.c build/config.mk
	@mkdir -p $(@D)
	$(CLANG) $(BASE_CFLAGS) $(PKG_CFLAGS) -O1 \
	  -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

build/libsluice.a: $(call obj,$(MODULE_SRC))
	@rm -f $@
	ar rcs $@ $^

build/libsluice-asan.a: $(call asanobj,$(MODULE_SRC))
	@rm -f $@
	ar rcs $@ $^

bin/sluice-broker: build/obj/broker/main.o build/libsluice.a
bin/sluice-capture: build/obj/capture/main.o build/libsluice.a
bin/sluice-apply: build/obj/apply/main.o $(call obj,$(PG_SRC)) build/libsluice.a
bin/sluice: $(call obj,$(wildcard cli/*.c)) build/libsluice.a
$(PROGRAMS):
	@mkdir -p bin
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

# The unit-test binary links every module's objects (through the archive),
# so a test reaches any module through its header. Tests register
# themselves, and the runner in tests/harness/testmain.c finds them.
build/unit-tests: $(call obj,$(UNIT_SRC) $(HARNESS_SRC) $(TESTMAIN_SRC)) \
                  build/libsluice.a
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

build/unit-tests-asan: $(call asanobj,$(UNIT_SRC) $(HARNESS_SRC) $(TESTMAIN_SRC)) \
                       build/libsluice-asan.a
	$(CC) $(SAN_FLAGS) -g -o $@ $^ $(LDLIBS)

build/tests/%: build/obj/tests/%.o $(call obj,$(HARNESS_SRC) $(TESTMAIN_SRC)) \
               build/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

# The DDL corpus test keeps its row values and their comparison in a file
# of their own (tests/integration/ddl_corpus/), linked before the archive.
build/tests/integration/capture_ddl_corpus: \
    build/obj/tests/integration/capture_ddl_corpus.o \
    build/obj/tests/integration/ddl_corpus/values.o \
    $(call obj,$(HARNESS_SRC) $(TESTMAIN_SRC)) build/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

build/tests-asan/%: build/asan/tests/%.o \
                    $(call asanobj,$(HARNESS_SRC) $(TESTMAIN_SRC)) \
                    build/libsluice-asan.a
	@mkdir -p $(@D)
	$(CC) $(SAN_FLAGS) -g -o $@ $^ $(LDLIBS)

build/bench/%: build/obj/bench/%.o $(call obj,$(HARNESS_SRC)) build/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

# librdkafka: capture and apply reach Kafka clusters through it
# (lib/stream_kafka*.c), and so does everything that links their code (the
# tests, benchmarks and fuzzers); the broker never does.
RDKAFKA_BINS := bin/sluice-capture bin/sluice-apply build/unit-tests \
                build/unit-tests-asan $(ITESTS) $(ITESTS_ASAN) $(BENCHES) \
                $(FUZZERS) build/fuzz-seedgen
$(RDKAFKA_BINS): LDLIBS += $(RDKAFKA)
# The CLI's `produce --kafka` (cli/produce.c) keeps keys and headers by
# producing through the Kafka listener with librdkafka.
bin/sluice: LDLIBS += $(RDKAFKA)

# librdkafka's mock Kafka cluster, driven on stdin (tests/tools/kafka_mock.c).
build/tests/tools/kafka_mock: build/obj/tests/tools/kafka_mock.o
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -g -o $@ $^ $(RDKAFKA)

# libpq: the PostgreSQL sink's objects, sluice-apply and the PostgreSQL
# tests (which query the target with libpq) only.
$(call obj,$(PG_SRC)) build/obj/tests/integration/apply_pg.o: \
    ALL_CFLAGS += $(PQ_CFLAGS)
bin/sluice-apply build/tests/integration/apply_pg: LDLIBS += $(PQ_LIBS)
# apply_pg also tests the PostgreSQL sink's parsers directly: its objects
# are linked before the archive they use.
build/tests/integration/apply_pg: build/obj/tests/integration/apply_pg.o \
    $(call obj,$(PG_SRC)) $(call obj,$(HARNESS_SRC) $(TESTMAIN_SRC)) \
    build/libsluice.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

build/freeport: build/obj/tests/harness/tools/freeport.o
	$(CC) -o $@ $^

build/fuzzers/%: build/fuzz/tests/fuzz/%.o $(call fuzzobj,$(MODULE_SRC))
	@mkdir -p $(@D)
	$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

# Regenerates the seeds of the targets whose input sluice itself writes
# (tests/fuzz/seedgen.c); the corpora are committed, so this is optional.
build/fuzz-seedgen: build/obj/tests/fuzz/seedgen.o build/libsluice.a
	$(CC) $(CFLAGS) -g -o $@ $^ $(LDLIBS)

unit: deps build/unit-tests
	@./build/unit-tests $(T)

asan: deps build/unit-tests-asan
	@tests/run-asan.sh $(T)

itest: deps build $(ITESTS_ASAN)
	@tests/run-integration.sh $(T)

fuzz-smoke: deps $(FUZZERS)
	@tests/run-fuzz.sh 10 $(FUZZERS)

fuzz: deps $(FUZZERS)
	@tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

# Style first: it takes seconds, and a finding stops the run before the
# build (scripts/lint.sh).
lint: deps
	@scripts/lint.sh

format: deps
	@scripts/lint.sh --format

test: deps lint
	@$(MAKE) --no-print-directory build build/unit-tests-asan $(ITESTS_ASAN) \
	  $(FUZZERS)
	@tests/run-all.sh

bench: deps build
	@bench/run.sh

# The whole pipeline on throwaway local servers, with live progress and a
# verdict (scripts/demo.sh).
demo: deps build
	@scripts/demo.sh

# The container image and the compose pipeline, end to end with the demo's
# verdict (scripts/docker-test.sh). Not part of `make test`: it takes
# minutes. Needs build/freeport only.
docker-test: build/freeport
	@scripts/docker-test.sh

# The long chaos run (the short one is part of make test):
# make chaos CHAOS_SECONDS=600 CHAOS_SEED=42
CHAOS_SECONDS ?= 300
chaos: deps build
	@tests/harness/harness.sh run tests/fault/chaos.sh --seconds $(CHAOS_SECONDS) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
