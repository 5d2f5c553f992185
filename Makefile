# crmetl - one Makefile for the program, its generator, tests and benchmarks.
#
#   make              build ./crmetl and fixtures/gen
#   make deps         install the Debian packages the build and tests need
#   make test         unit + end-to-end tests; last line "N passed, N failed"
#   make asan         the same tests under AddressSanitizer + UBSan (build-asan/)
#   make tsan         the same tests under ThreadSanitizer (build-tsan/)
#   make demo         run the pipeline on the bundled fixtures
#   make bench        time normalize on a large generated set (bench-cache/)
#   make valgrind     leak check of --help and a config load
#   make install      PREFIX=/usr/local DESTDIR=
#   make clean
#
# Project flags live apart from the user's CFLAGS, which are appended last.
# V=1 shows the full command lines.

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
SANITIZE ?=
CC ?= cc
PKG_CONFIG ?= pkg-config

# Paths of the two programs the tests run (overridden by `make asan`).
CRMETL ?= crmetl
GEN ?= fixtures/gen

PKGS = libcurl libxml-2.0 zlib
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
# libharu ships no .pc file in Debian.
HPDF_LIBS ?= -lhpdf
CMOCKA_LIBS ?= -lcmocka

WARN = -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wvla \
       -Wwrite-strings -Wformat-security -Wshadow -Wpointer-arith -Wundef
OPT ?= -O2 -g
# -ffp-contract=off: no fused multiply-add unless the source says so (GCC's
# C11 default, clang's is on), so compute's floating-point bits do not
# depend on the compiler or -march (clv.c's vector lanes promise the same
# bits as the scalar code).
CRM_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) \
             -ffp-contract=off -pthread -Ietl -Ireport -MMD -MP $(PKG_CFLAGS)
CRM_LDLIBS = $(PKG_LIBS) $(HPDF_LIBS) -lm -pthread
ifneq ($(SANITIZE),)
CRM_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
CRM_LDFLAGS += -fsanitize=$(SANITIZE)
endif
FINAL_CFLAGS = $(CRM_CFLAGS) $(CFLAGS)
FINAL_LDFLAGS = $(CRM_LDFLAGS) $(LDFLAGS)

ifeq ($(V),1)
Q =
else
Q = @
endif

# Shared helpers: errors, logging, text, buffers, hash map, sorting and ranking, CPU count, files, the export schema.
CORE_SRC = etl/err.c etl/log.c etl/text.c etl/buf.c etl/hmap.c etl/sortx.c etl/rank.c etl/cpus.c etl/fsx.c etl/schema.c
# Reading exports: input streams (gzip), CSV and XML readers, values, time zones.
READ_SRC = etl/ins.c etl/csvr.c etl/xmlr.c etl/val.c etl/tz.c
# Fetching exports (libcurl).
FETCH_SRC = etl/fetch.c etl/sha256.c
# Period files, the normalize stage, the metrics engine.
DATA_SRC = etl/tables.c etl/crmp.c etl/inputs.c etl/lineage.c etl/norm.c etl/norm_check.c etl/norm_pipe.c etl/norm_spill.c etl/norm_write.c etl/norm_reuse.c etl/norm_ids.c etl/met.c etl/met_stat.c etl/met_clv.c etl/fitc.c etl/met_stamp.c etl/clv.c
# Configuration, the command line, the data directory lock, the run summary.
CLI_SRC = etl/cfg.c etl/cli.c etl/period.c etl/lock.c etl/runlog.c
# Subcommands, one file each (the table is in etl/main.c).
CMD_SRC = etl/cmd_run.c etl/cmd_fetch.c etl/cmd_normalize.c etl/cmd_compute.c etl/verify.c etl/stamp.c \
          etl/cmd_report.c etl/cmd_mail.c etl/cmd_verify.c etl/cmd_inspect.c \
          etl/cmd_dump.c
# The report stage: metrics tables, templates, number formats, PDF, charts, layout.
REPORT_SRC = report/mtab.c report/tpl.c report/fmt.c report/pdf.c report/chart.c report/rep.c \
             report/rep_clv.c report/rep_grid.c report/rep_lineage.c report/rep_seg.c \
             report/publish.c report/mail.c
LIB_SRC = $(CORE_SRC) $(READ_SRC) $(FETCH_SRC) $(DATA_SRC) $(CLI_SRC) $(CMD_SRC) $(REPORT_SRC)
MAIN_SRC = etl/main.c

LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(MAIN_SRC:%.c=$(BUILD)/%.o)

# Unit tests: tests/unit/test_NAME.c, each linked with the library objects.
UNIT_SRC = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN = $(UNIT_SRC:%.c=$(BUILD)/%)

all: $(CRMETL) $(GEN)

$(CRMETL): $(MAIN_OBJ) $(LIB_OBJ)
	@echo "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(CRM_LDLIBS)

# The fixture generator stands alone: it writes exports, it reads none.
$(GEN): fixtures/gen.c
	@echo "  CC      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< -lz -lm

$(BUILD)/%.o: %.c
	@echo "  CC      $<"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_CFLAGS) -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJ)
	@echo "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< $(LIB_OBJ) $(CRM_LDLIBS) $(CMOCKA_LIBS)

units: $(UNIT_BIN)

# Fuzz targets: tests/fuzz/fuzz_NAME.c, each over tests/fuzz/corpus/NAME/.
# `make test` replays every corpus through a plain driver (tests/fuzz/replay.c,
# built with this compiler and sanitizers) and, when clang is there, runs
# each libFuzzer target for FUZZ_QUICK seconds; `make fuzz` runs them for
# FUZZ_SECONDS each.
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES = $(FUZZ_SRC:tests/fuzz/fuzz_%.c=%)
REPLAY_BIN = $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZ_BIN = $(FUZZ_NAMES:%=build-fuzz/fuzz_%)
FUZZ_CC ?= clang
FUZZ_QUICK ?= 5
FUZZ_SECONDS ?= 300
FUZZ_LIB_SRC = $(CORE_SRC) $(READ_SRC) etl/crmp.c etl/cfg.c

$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIB_OBJ)
	@echo "  LD      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_CFLAGS) $(FINAL_LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB_OBJ) $(CRM_LDLIBS)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_SRC)
	@echo "  FUZZ    $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Ietl \
	  $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_LIB_SRC) $(PKG_LIBS) -lm -pthread

# The template target also renders what it parses: the report's layout and libharu.
FUZZ_TPL_SRC = $(CORE_SRC) etl/period.c etl/tz.c etl/lineage.c etl/sha256.c \
               $(filter-out report/publish.c report/mail.c report/rep_seg.c,$(REPORT_SRC))
build-fuzz/fuzz_tpl: tests/fuzz/fuzz_tpl.c $(FUZZ_TPL_SRC)
	@echo "  FUZZ    $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -Ietl -Ireport \
	  $(PKG_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_TPL_SRC) $(PKG_LIBS) \
	  $(HPDF_LIBS) -lm -pthread

fuzz-bin: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	$(Q)for n in $(FUZZ_NAMES); do \
	  mkdir -p build-fuzz/corpus/$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
	  build-fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# crmetl with a normalizer that splits every pass-2 bucket over 1 KB (twice
# over on the small test sets) and lets only ids numbered below 4096 skip
# the buckets (both ways on the small test sets): e2e 2009 compares its
# period files with crmetl's, as the 1M bench's buckets stay under the
# 24 MB limit and its ids under the direct limit.
SPLIT_CRMETL = $(BUILD)/crmetl-split

$(BUILD)/etl/norm-split.o: etl/norm.c
	@echo "  CC      $@"
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(FINAL_CFLAGS) -DBUCKET_LOAD_MAX=1024 -DDIRECT_KEYS_MAX=4096 -c -o $@ $<

$(SPLIT_CRMETL): $(MAIN_OBJ) $(filter-out $(BUILD)/etl/norm.o,$(LIB_OBJ)) $(BUILD)/etl/norm-split.o
	@echo "  LD      $@"
	$(Q)$(CC) $(FINAL_LDFLAGS) -o $@ $^ $(CRM_LDLIBS)

test: all units $(SPLIT_CRMETL) $(REPLAY_BIN) $(if $(shell command -v $(FUZZ_CC) 2>/dev/null),$(FUZZ_BIN))
	$(Q)CRMETL="$(abspath $(CRMETL))" GEN="$(abspath $(GEN))" SPLIT_CRMETL="$(abspath $(SPLIT_CRMETL))" \
	  REPLAY_DIR="$(abspath $(BUILD)/fuzz)" FUZZ_DIR="$(abspath build-fuzz)" FUZZ_QUICK=$(FUZZ_QUICK) \
	  sh tests/run-tests.sh $(UNIT_BIN)

asan:
	$(Q)$(MAKE) BUILD=build-asan SANITIZE=address,undefined OPT="-O1 -g" \
	  CRMETL=build-asan/crmetl GEN=build-asan/gen test

# fetch, normalize, compute and run use threads: a race fails a test (exit 66).
tsan:
	$(Q)$(MAKE) BUILD=build-tsan SANITIZE=thread OPT="-O1 -g" \
	  CRMETL=build-tsan/crmetl GEN=build-tsan/gen test

# Benchmarks: figures printed, nothing asserted (tests/bench/run.sh).
bench: all
	$(Q)CRMETL=./$(CRMETL) GEN=$(GEN) bash tests/bench/run.sh

# The main job on the bundled fixtures: the nightly run for 2025-12
# (normalize, compute, report; the shipped config has no [mail]).
demo: all
	./$(CRMETL) run --period 2025-12
	@ls -l var/reports/2025-12-executive-en.pdf

valgrind: all
	$(Q)sh tests/valgrind.sh "$(abspath $(CRMETL))"

# Apt packages: compilers and fuzzing runtime, libraries, test servers and
# the independent checkers the tests use.
DEB_PKGS = build-essential pkgconf clang libclang-rt-14-dev \
	libcurl4-openssl-dev libxml2-dev zlib1g-dev libhpdf-dev libcmocka-dev \
	python3 python3-aiosmtpd tzdata valgrind openssl ca-certificates time gzip \
	poppler-utils poppler-data qpdf
deps:
	$(Q)sh tests/deps.sh $(DEB_PKGS)

install: all
	install -d "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(PREFIX)/share/crmetl/templates"
	install -m 0755 $(CRMETL) "$(DESTDIR)$(PREFIX)/bin/crmetl"
	if ls templates/*.xml >/dev/null 2>&1; then \
	  install -m 0644 templates/*.xml "$(DESTDIR)$(PREFIX)/share/crmetl/templates/"; fi

clean:
	rm -rf build build-asan build-tsan build-fuzz crmetl fixtures/gen

.PHONY: all units test asan tsan valgrind demo bench deps install clean fuzz fuzz-bin

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)
