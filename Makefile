# shrink — one Makefile.  `make` builds the CLI and libshrink.a; `make test`
# and `make demo` first install what is missing (`make deps`).
#   make SAN=1 ...   ASan + UBSan build in build-san/
CC      ?= cc
SAN     ?= 0
PY      := .venv/bin/python

ifeq ($(SAN),1)
BUILD   := build-san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD   := build
OPT     := -O2 -g
endif

PKGS    := libprotobuf-c libcjson libzstd openblas
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# -fopenmp-simd: `#pragma omp simd` marks loops to vectorise (GCC 12 at -O2 only
# vectorises loops that need no scalar epilogue); no OpenMP runtime is linked.
CFLAGS  += -std=c11 $(OPT) -Wall -Wextra -Wpedantic -Wshadow -Wmissing-prototypes -fopenmp-simd \
           -D_GNU_SOURCE -Iinclude -Isrc -Iformats -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(OPT)
# pass plugins (dlopen'd, include/shrink-pass.h) may call libshrink's functions: export them
LDFLAGS += -rdynamic
LDLIBS  += $(PKG_LIBS) -lm -lpthread

PROTO   := $(wildcard formats/*.proto)
GEN_C   := $(patsubst formats/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTO))
GEN_H   := $(GEN_C:.c=.h)
LIB_SRC := $(wildcard src/ir/*.c src/util/*.c src/runtime/*.c src/runtime/kernels/*.c src/arch/*.c \
             src/text/*.c src/eval/*.c src/pipeline/*.c src/train/*.c passes/*.c formats/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(GEN_C:.c=.o)
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC))
TESTS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))

.PHONY: all lib deps test demo bench fuzz clean install zoo
all: $(BUILD)/shrink
	@[ "$(SAN)" = 1 ] || ln -sf $(BUILD)/shrink shrink

lib: $(BUILD)/libshrink.a

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: formats/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen --proto_path=formats $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(filter-out -Wpedantic -Wmissing-prototypes,$(CFLAGS)) -c $< -o $@

# every object may include the generated protobuf header
$(BUILD)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libshrink.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/shrink: $(CLI_OBJ) $(BUILD)/libshrink.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libshrink.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libshrink.a
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) -MF $@.d -o $@ $< $(BUILD)/libshrink.a $(LDLIBS)

deps:
	@sh scripts/deps.sh

# ONNX exports of the committed zoo checkpoints (not committed: made from the safetensors)
zoo: deps
	@$(PY) samples/zoo/build.py export-onnx --out build/zoo

test: deps
	@$(MAKE) --no-print-directory all $(TESTS)
	@$(MAKE) --no-print-directory zoo
	@sh tests/run.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all zoo
	@sh scripts/demo.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory all zoo
	@$(PY) samples/zoo/build.py shapes --with-past --out build/zoo
	@$(PY) bench/bench.py --shrink $(BUILD)/shrink
	@$(PY) bench/quant_bench.py --shrink $(BUILD)/shrink

clean:
	rm -rf build build-san shrink

PREFIX ?= /usr/local
install: all
	install -d $(PREFIX)/bin $(PREFIX)/lib $(PREFIX)/include
	install -m 755 $(BUILD)/shrink $(PREFIX)/bin/shrink
	install -m 644 $(BUILD)/libshrink.a $(PREFIX)/lib/libshrink.a
	install -m 644 include/shrink.h $(PREFIX)/include/shrink.h

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
