# scadserve: build, run, stop, test, bench, asan, fuzz. `make run` and `make test` install what
# they need first (Debian packages, npm packages), so a fresh clone needs nothing else.

PORT      ?= 8080
STATE_DIR ?= var
WORKERS   ?=
export PORT STATE_DIR WORKERS

CC       ?= cc
PKGS     := fcgi jansson uuid sqlite3 libcrypto libxxhash libseccomp
WARN     := -Wall -Wextra -Werror -pedantic -Wstrict-prototypes -Wshadow -Wformat=2
CFLAGS   ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
ASAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

B        := build
SRCS     := $(filter-out fcgi/main.c,$(wildcard fcgi/*.c))
OBJS     := $(SRCS:fcgi/%.c=$(B)/obj/%.o)
UNIT     := $(wildcard tests/unit/test_*.c)
UNITBINS := $(UNIT:tests/unit/%.c=$(B)/unit/%)

.PHONY: all build deps run stop status test test-unit test-fuzz test-integration test-browser \
        asan bench bench-server bench-browser fuzz clean static

all: build

deps:
	@bin/install-deps

build: $(B)/scadserve $(B)/stlcmp $(UNITBINS) static

$(B)/obj/%.o: fcgi/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/scadserve: $(B)/obj/main.o $(OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(B)/stlcmp: tests/tools/stlcmp.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 $(WARN) -o $@ $< -lm

$(B)/unit/%: tests/unit/%.c $(OBJS) tests/unit/unit.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ifcgi -o $@ $< $(OBJS) $(LDFLAGS) $(LDLIBS)

# The page: npm ci when the lock file changed, esbuild when a source did.
ifneq ($(wildcard static/package-lock.json),)
static: static/dist/index.html
else
static:
endif
static/node_modules/.package-lock.json: static/package-lock.json
	cd static && npm ci --no-audit --no-fund
	touch $@
static/dist/index.html: static/node_modules/.package-lock.json $(shell find static/src static/index.html static/build.mjs -type f 2>/dev/null)
	cd static && npm run --silent build

run: deps build
	@bin/scadservectl start

stop:
	@bin/scadservectl stop

status:
	@bin/scadservectl status

# Tests and benchmarks start instances as root from wherever the checkout is: let the
# instances' unprivileged user through the folders above it (bin/scadservectl).
test test-integration test-browser asan bench bench-server bench-browser: export SCADSERVE_GRANT_TRAVERSE = 1

test: deps build
	@$(MAKE) --no-print-directory test-unit test-engines test-fuzz test-integration test-browser

test-unit: $(UNITBINS)
	@tests/unit/run.sh $(UNITBINS)

# The engines' Node helpers (engines/), started for real and driven through their protocols.
.PHONY: test-engines
test-engines: static/node_modules/.package-lock.json
	@tests/engines/run.sh

# A short time-boxed fuzz run in every test run; `make fuzz` runs longer.
test-fuzz:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-10} tests/fuzz/run.sh

test-integration: $(B)/scadserve $(B)/stlcmp
	@tests/integration/run.sh

test-browser: build
	@tests/browser/run.sh

# The same suites with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	$(MAKE) --no-print-directory B=build/asan CFLAGS="-O1 -g $(ASAN)" LDFLAGS="$(ASAN)" \
	    build/asan/scadserve build/asan/stlcmp $(UNIT:tests/unit/%.c=build/asan/unit/%)
	tests/unit/run.sh $(UNIT:tests/unit/%.c=build/asan/unit/%)
	SCADSERVE_BIN=build/asan/scadserve STLCMP=build/asan/stlcmp tests/integration/run.sh

bench: bench-server bench-browser

bench-server: deps build $(B)/bench/fcgi_constant
	@tests/bench/run.sh

# The FastCGI ceiling the cache-hit benchmark compares with (see tests/bench/README.md).
$(B)/bench/fcgi_constant: tests/bench/fcgi_constant.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LDLIBS)

bench-browser: deps build
	@tests/bench/browser.sh

fuzz: deps
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-60} tests/fuzz/run.sh

clean:
	rm -rf $(B) static/dist

-include $(OBJS:.o=.d) $(B)/obj/main.d
