# dnabert — build, test, demo, install.
#   make demo    install what is missing, build, run the main job on examples/data
#   make test    every test: Swift, C, Python, R (+ R CMD check), examples; needs only the repository
#   make test-reference   the checks against PyTorch/peft (installs tools/reference/requirements.txt)
#   make install PREFIX=/usr/local   library, header, pkg-config file (and the CLI)
#
# Tests on larger external data (all five genomes, the full tasks) run when DNABERT_DATA names a folder laid
# out as genomes/, tasks/, dnabert2/ (CI: ../shared/data); without it they report themselves as skipped.

PREFIX ?= /usr/local
PYTHON ?= python3
DNABERT_DATA ?=
export DNABERT_DATA
# One set of Swift flags for every build, so that the library, the CLI, the probe and the tests share one
# release build (-enable-testing for the tests' @testable import; the library and the CLI link the Swift
# runtime statically through Package.swift's linker settings).
SWIFT_FLAGS = -c release -Xswiftc -enable-testing
SWIFT_RELEASE = swift build $(SWIFT_FLAGS)
BUILD = $(CURDIR)/build
LIB = $(BUILD)/lib/libdnabert.so
CLI = $(BUILD)/bin/dnabert
VERSION = $(shell sed -n 's/^#define DNABERT_VERSION_STRING "\(.*\)"/\1/p' include/dnabert.h)
# the shared library's file: libdnabert.so.$(VERSION), with symlinks libdnabert.so.0 (the SONAME) and libdnabert.so
SONAME = libdnabert.so.0
LIBFILE = libdnabert.so.$(VERSION)
export DNABERT_LIB = $(LIB)
export DNABERT_HOME = $(BUILD)
CFLAGS_STRICT = -std=c99 -Wall -Wextra -Werror -pedantic

APT_PACKAGES = libopenblas-dev zlib1g-dev pkg-config r-base-core r-base-dev r-cran-testthat r-bioc-biostrings r-cran-knitr \
  r-cran-rmarkdown r-cran-jsonlite r-cran-withr pandoc \
  r-bioc-genomicranges r-bioc-rsamtools r-bioc-biocparallel r-bioc-bsgenome r-bioc-s4vectors r-bioc-iranges
# Open MPI for the data-parallel tests (issue 15); the library loads it at run time only for --distributed runs
APT_PACKAGES += libopenmpi-dev openmpi-bin
PY_PACKAGES = numpy pytest tokenizers sentencepiece tqdm scikit-learn matplotlib nbclient nbformat ipykernel pandas

.PHONY: all deps deps-reference swift-products lib cli python r demo test test-suites test-accuracy install-files test-swift test-c test-python test-r test-r-check \
  test-examples test-reference bench install clean test-distributed

all: lib cli

# ---- installing what is missing (Debian, root or sudo) ----------------------------------------
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(PYTHON) -c "import numpy, pytest, tokenizers, sentencepiece, tqdm, sklearn, matplotlib, nbclient, nbformat, ipykernel, pandas" 2>/dev/null || \
	  $(PYTHON) -m pip install -q $(PY_PACKAGES)

# The pinned PyTorch/peft stack of the reference checks (large: PyPI's torch wheel pulls CUDA runtime wheels).
deps-reference: deps
	@$(PYTHON) -c "import torch, peft, transformers, safetensors, scipy" 2>/dev/null || \
	  $(PYTHON) -m pip install -q -r tools/reference/requirements.txt

# ---- building ---------------------------------------------------------------------------------
# The Swift products (the library, the CLI, dnabert-probe) come from one `swift build`, which compiles independent
# modules side by side: swift-argument-parser and the C targets while the core compiles, then the C API, the CLI
# and the probe together (on 2 cores about a minute less than one product at a time).
swift-products:
	$(SWIFT_RELEASE)

lib: swift-products
	@mkdir -p $(BUILD)/lib/pkgconfig $(BUILD)/include
	rm -f $(LIB) $(BUILD)/lib/$(SONAME)
	@# copied beside and renamed: a process that has the library loaded keeps its (unlinked) file intact
	cp .build/release/libdnabert.so $(BUILD)/lib/$(LIBFILE).tmp && mv -f $(BUILD)/lib/$(LIBFILE).tmp $(BUILD)/lib/$(LIBFILE)
	ln -sf $(LIBFILE) $(BUILD)/lib/$(SONAME)
	ln -sf $(SONAME) $(LIB)
	cp include/dnabert.h $(BUILD)/include/
	cp include/dnabert.hpp $(BUILD)/include/
	@sed -e 's|@PREFIX@|$(BUILD)|' -e 's|@VERSION@|$(VERSION)|' dnabert.pc.in > $(BUILD)/lib/pkgconfig/dnabert.pc
	@if ldd $(LIB) | grep -qi swift; then echo "error: libdnabert.so depends on the Swift runtime"; exit 1; fi

cli: swift-products
	@if ldd .build/release/dnabert-cli | grep -qi swift; then echo "error: dnabert-cli depends on the Swift runtime"; exit 1; fi
	@mkdir -p $(BUILD)/bin
	cp .build/release/dnabert-cli $(CLI).tmp && mv -f $(CLI).tmp $(CLI)

python: lib
	$(PYTHON) -m pip install -q --force-reinstall --no-deps ./bindings/python

r: lib
	R CMD INSTALL --preclean --no-test-load bindings/R >$(BUILD)/r-install.log 2>&1 || (cat $(BUILD)/r-install.log; exit 1)

# ---- the main job on the bundled data ---------------------------------------------------------
demo: deps lib cli python
	$(PYTHON) examples/python/demo.py

# ---- tests ------------------------------------------------------------------------------------
# The suites run TEST_JOBS at a time (default: the number of CPUs; most suites keep about one core busy), each
# suite's output printed whole when it ends. `make test TEST_JOBS=1` runs them one after the other.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: deps
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target test-suites
	@echo "all test suites passed"

test-suites: test-swift test-c test-python test-r test-r-check test-examples test-distributed

# coding_200 with its first 100 dev and test rows, for the C fine-tuning test and the examples' and the vignette's fine-tunes
# (their code as written; evaluating 400 sequences on both strands is most of a short run's time)
SMALL_TASK = $(BUILD)/tests/coding_200-small
$(SMALL_TASK)/test.csv: examples/data/tasks/coding_200/train.csv examples/data/tasks/coding_200/dev.csv examples/data/tasks/coding_200/test.csv
	mkdir -p $(SMALL_TASK) && cp examples/data/tasks/coding_200/train.csv $(SMALL_TASK)/
	head -n 101 examples/data/tasks/coding_200/dev.csv > $(SMALL_TASK)/dev.csv
	head -n 101 examples/data/tasks/coding_200/test.csv > $(SMALL_TASK)/test.csv

# The reduced-precision accuracy gates on real DNA (int8 against float32: 1,000 genome windows, MLM argmax
# agreement, a fine-tuned classifier's agreement and QLoRA's test MCC): whole fine-tunes, several minutes, so
# outside the everyday `make test` (which reports them as skipped); CI runs them (.ci/run).
test-accuracy: python
	cd bindings/python && DNABERT_ACCURACY=1 $(PYTHON) -m pytest -q -rs tests/test_precision.py

test-swift: lib cli
	@# the same flags as lib/cli: only the tests are compiled here (dnabert-probe, which the checkpoint test kills
	@# with SIGKILL mid-write, was built with the products; by product: --build-tests would also build
	@# swift-argument-parser's own tools)
	$(SWIFT_RELEASE) --product dnabertPackageTests
	swift test $(SWIFT_FLAGS) --skip-build

# Data-parallel runs over Open MPI on loopback (2-3 ranks): equivalence with gradient accumulation, a killed rank,
# resume on another rank count, bit-identical embeddings, bad input (Tests/distributed). The R scripts run under
# mpirun use the package `make r` installed (skipped without R).
test-distributed: lib cli r
	@if ldd $(LIB) | grep -qi mpi; then echo "error: libdnabert.so links MPI (it must load it at run time only)"; exit 1; fi
	@# the R package as `make r` installed it (the first library of R's search path)
	DNABERT_CLI=$(CLI) DNABERT_R_LIBS="$$(Rscript -e 'cat(.libPaths()[1])')" $(PYTHON) -m pytest -q Tests/distributed

test-c: lib $(SMALL_TASK)/test.csv
	@mkdir -p $(BUILD)/tests
	gcc $(CFLAGS_STRICT) -fsyntax-only -x c include/dnabert.h
	g++ -std=c++11 -Wall -Wextra -Werror -pedantic -fsyntax-only -x c++ include/dnabert.h
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include Tests/c/test_tokenizer.c -o $(BUILD)/tests/test_tokenizer \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lpthread
	$(BUILD)/tests/test_tokenizer examples
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include Tests/c/test_model.c -o $(BUILD)/tests/test_model \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lpthread -lm
	$(BUILD)/tests/test_model Tests/DNABertTests/Fixtures/model
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include Tests/c/test_pretrain.c -o $(BUILD)/tests/test_pretrain \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lm
	$(BUILD)/tests/test_pretrain examples
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include Tests/c/test_finetune.c -o $(BUILD)/tests/test_finetune \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lm
	$(BUILD)/tests/test_finetune examples/models/dnabert2-small-5genomes $(SMALL_TASK)
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include Tests/c/test_precision.c -o $(BUILD)/tests/test_precision \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lm
	$(BUILD)/tests/test_precision examples/models/dnabert2-small-5genomes
	DNABERT_INT8_KERNEL=generic $(BUILD)/tests/test_precision examples/models/dnabert2-small-5genomes
	@# the ABI: struct_size rules with the current header; a 0.1.0 caller (old header, linked as 0.1.0 programs
	@# were: against an unversioned libdnabert.so) against this library, canaries after every result struct
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include -ITests/c Tests/c/test_abi.c -o $(BUILD)/tests/test_abi \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lm
	$(BUILD)/tests/test_abi examples/models/dnabert2-small-5genomes
	@mkdir -p $(BUILD)/tests/abi-stub
	gcc -shared -fPIC -o $(BUILD)/tests/abi-stub/libdnabert.so Tests/c/abi/stub_v0_1.c
	gcc $(CFLAGS_STRICT) -Wno-deprecated-declarations -ITests/c/abi Tests/c/abi/test_abi_v0_1.c -o $(BUILD)/tests/test_abi_v0_1 \
	  -L$(BUILD)/tests/abi-stub -ldnabert -Wl,-rpath,$(BUILD)/lib -lm
	! objdump -T $(BUILD)/tests/test_abi_v0_1 | grep -q 'DNABERT_0'
	$(BUILD)/tests/test_abi_v0_1 examples/models/dnabert2-small-5genomes examples/data/dnabert2/tokenizer.json
	@# SONAME and symbol versions of the library
	readelf -d $(LIB) | grep -q 'SONAME.*\[$(SONAME)\]'
	objdump -T $(LIB) | grep -q '(DNABERT_0.1) *dnabert_classifier_get_info$$'
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include Tests/c/test_hostile.c -o $(BUILD)/tests/test_hostile \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib -lpthread -lz
	$(BUILD)/tests/test_hostile Tests/DNABertTests/Fixtures/model examples/data/dnabert2/tokenizer.json
	@# the FASTA/FASTQ reader: error paths, then every record of plain and gzip files against an independent
	@# Python parser (Tests/c/fasta_reference.py)
	gcc $(CFLAGS_STRICT) -I$(BUILD)/include -ITests/c Tests/c/test_fasta.c -o $(BUILD)/tests/test_fasta \
	  -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib
	$(BUILD)/tests/test_fasta checks Tests/c/fasta
	@mkdir -p $(BUILD)/tests/fasta
	for f in Tests/c/fasta/*; do gzip -c $$f > $(BUILD)/tests/fasta/$$(basename $$f).gz; done
	for f in Tests/c/fasta/* $(BUILD)/tests/fasta/*.gz examples/data/hpylori_sjm180.fasta.gz; do \
	  $(BUILD)/tests/test_fasta dump $$f > $(BUILD)/tests/fasta/got.tsv && \
	  $(PYTHON) Tests/c/fasta_reference.py $$f > $(BUILD)/tests/fasta/expected.tsv && \
	  cmp $(BUILD)/tests/fasta/got.tsv $(BUILD)/tests/fasta/expected.tsv || { echo "FASTA reader differs on $$f"; exit 1; }; done
	@# the header-only C++ wrapper, as C++17 and C++20 (std::span overloads)
	for std in c++17 c++20; do \
	  g++ -std=$$std -Wall -Wextra -Werror -pedantic -Iinclude Tests/c/test_cpp.cpp -o $(BUILD)/tests/test_cpp_$$std \
	    -L$(BUILD)/lib -ldnabert -Wl,-rpath,$(BUILD)/lib && $(BUILD)/tests/test_cpp_$$std || exit 1; done

test-python: python
	cd bindings/python && $(PYTHON) -m pytest -q -rs tests

test-r: r $(SMALL_TASK)/test.csv
	cd bindings/R/tests && DNABERT_REPO=$(CURDIR) Rscript testthat.R
	@# the vignette's code, run (knitr without pandoc): a failing chunk fails the build. Its fine-tune runs 20
	@# steps instead of 120 (dev evaluated every 10 instead of 20), on SMALL_TASK (the only changes; about 3 minutes
	@# less on 2 cores)
	rm -rf $(BUILD)/tests/r-vignette && mkdir -p $(BUILD)/tests/r-vignette
	sed -e 's/max_steps = 120, batch_size = 32, eval_every = 20/max_steps = 20, batch_size = 32, eval_every = 10/' \
	  -e 's|^task <- file.path(repo, "examples", "data", "tasks", "coding_200")$$|task <- "$(SMALL_TASK)"|' \
	  bindings/R/vignettes/finetune.Rmd > $(BUILD)/tests/r-vignette/finetune.Rmd
	test $$(diff bindings/R/vignettes/finetune.Rmd $(BUILD)/tests/r-vignette/finetune.Rmd | grep -c '^>') -eq 2 || \
	  { echo "the vignette's fine-tune call or task changed: update its shortening in the Makefile"; exit 1; }
	cd $(BUILD)/tests/r-vignette && DNABERT_REPO=$(CURDIR) DNABERT_VIGNETTE_REQUIRE=1 Rscript -e 'knitr::knit("finetune.Rmd", quiet = TRUE)'

# R CMD build + R CMD check --no-manual in a folder outside the repository, as a user of the source package
# would (the library found through DNABERT_HOME; the tests that need the repository's examples skip themselves,
# test-r runs them). Fails on any ERROR or WARNING.
test-r-check: lib r
	@set -e; d=$$(mktemp -d /tmp/dnabert-rcheck-XXXXXX); cp -r bindings/R $$d/dnabert; \
	rm -f $$d/dnabert/src/Makevars $$d/dnabert/src/*.o $$d/dnabert/src/*.so; \
	cd $$d && env -u DNABERT_REPO R CMD build dnabert >build.log 2>&1 || { cat build.log; exit 1; }; \
	env -u DNABERT_REPO _R_CHECK_FORCE_SUGGESTS_=true R CMD check --no-manual dnabert_*.tar.gz >check.log 2>&1 || { cat check.log; exit 1; }; \
	grep -A3 -E "(WARNING|ERROR|NOTE)$$" dnabert.Rcheck/00check.log || true; tail -1 dnabert.Rcheck/00check.log; \
	if grep -qE "^Status:.*(WARNING|ERROR)" dnabert.Rcheck/00check.log; then cat check.log; exit 1; fi; \
	sed -n '/Skipped tests/,/\[ FAIL/p' dnabert.Rcheck/tests/testthat.Rout; rm -rf $$d

# The checks against the Python reference stack: the peft round trip (an adapter saved here loads with
# PeftModel.from_pretrained and gives our logits) and Swift-written safetensors/checkpoints read by torch.
test-reference: deps-reference lib python
	$(SWIFT_RELEASE) --product dnabertPackageTests
	cd bindings/python && DNABERT_REQUIRE_REFERENCE=1 $(PYTHON) -m pytest -q tests/test_finetune.py -k peft
	SWIFT_TEST_FLAGS="$(SWIFT_FLAGS) --skip-build" $(PYTHON) tools/reference/check_swift_safetensors.py

test-examples: lib cli python r $(SMALL_TASK)/test.csv
	@# the C example is built against a `make install` tree through pkg-config, as a user would
	$(MAKE) --no-print-directory install-files PREFIX=$(BUILD)/prefix >/dev/null
	gcc $(CFLAGS_STRICT) $$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --cflags dnabert) examples/c/tokenize.c \
	  -o $(BUILD)/tests/example_tokenize $$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --libs dnabert) -lz
	ldd $(BUILD)/tests/example_tokenize | grep -q "$(BUILD)/prefix/lib/libdnabert.so"
	$(BUILD)/tests/example_tokenize examples/data/dnabert2/tokenizer.json examples/data/hpylori_sjm180.fasta.gz
	$(CLI) model create --config tiny --tokenizer examples/data/dnabert2/tokenizer.json -o $(BUILD)/tests/tiny-model
	gcc $(CFLAGS_STRICT) $$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --cflags dnabert) examples/c/embed.c \
	  -o $(BUILD)/tests/example_embed $$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --libs dnabert)
	$(BUILD)/tests/example_embed $(BUILD)/tests/tiny-model ACGTAGCTAGCTAGGATCGATCGA GGCCTTAAGGCCAATT
	$(BUILD)/tests/example_embed --int8 $(BUILD)/tests/tiny-model ACGTAGCTAGCTAGGATCGATCGA GGCCTTAAGGCCAATT | grep -q 'parameters, int8'
	$(PYTHON) examples/python/embed_genome.py $(BUILD)/tests/tiny-model examples/data/hpylori_sjm180.fasta.gz 200
	$(PYTHON) examples/python/tokenize_genome.py examples/data/hpylori_sjm180.fasta.gz
	Rscript examples/R/tokenize.R examples/data/hpylori_sjm180.fasta.gz
	Rscript examples/R/embed.R $(BUILD)/tests/tiny-model examples/data/hpylori_sjm180.fasta.gz 24 int8
	$(PYTHON) examples/python/pretrain_tiny.py examples/data/hpylori_sjm180.fasta.gz $(BUILD)/tests/py-pretrain 20
	Rscript examples/R/pretrain.R examples/data/hpylori_sjm180.fasta.gz $(BUILD)/tests/r-pretrain 20
	@# the fine-tuning examples run on coding_200 with 100 dev and test rows (SMALL_TASK above)
	Rscript examples/R/finetune.R "" $(SMALL_TASK) 10 $(BUILD)/tests/r-finetune
	$(CLI) --version
	$(CLI) tokenizer train --vocab-size 512 -o $(BUILD)/tests/cli_tok.json examples/data/hpylori_sjm180.fasta.gz
	$(CLI) tokenizer encode --tokenizer $(BUILD)/tests/cli_tok.json --max-records 1 examples/data/hpylori_sjm180.fasta.gz > /dev/null
	$(CLI) model info $(BUILD)/tests/tiny-model
	$(CLI) embed --model $(BUILD)/tests/tiny-model -o $(BUILD)/tests/embeddings.tsv examples/data/hpylori_sjm180.fasta.gz
	$(CLI) embed --model $(BUILD)/tests/tiny-model --precision int8 -o $(BUILD)/tests/embeddings-int8.tsv examples/data/hpylori_sjm180.fasta.gz
	$(PYTHON) -c "import sys; a, b = (open(p).read().splitlines() for p in sys.argv[1:]); assert len(a) == len(b) == 2 and a[1] != b[1], (a[:1], b[:1])" $(BUILD)/tests/embeddings.tsv $(BUILD)/tests/embeddings-int8.tsv
	$(PYTHON) -c "import sys; rows = open(sys.argv[1]).read().splitlines(); assert len(rows) == 2 and len(rows[1].split('\t')) == 65, rows[:1]" $(BUILD)/tests/embeddings.tsv
	$(CLI) convert Tests/DNABertTests/Fixtures/model/pytorch_model.bin $(BUILD)/tests/converted.safetensors
	rm -rf $(BUILD)/tests/cli-pretrain
	$(CLI) pretrain --config tiny --tokenizer examples/data/dnabert2/tokenizer.json --out $(BUILD)/tests/cli-pretrain \
	  --steps 20 --batch-size 16 --eval-every 10 --checkpoint-every 10 --validation-windows 32 examples/data/hpylori_sjm180.fasta.gz
	$(CLI) pretrain --config tiny --tokenizer examples/data/dnabert2/tokenizer.json --out $(BUILD)/tests/cli-pretrain \
	  --steps 20 --batch-size 16 --eval-every 10 --checkpoint-every 10 --validation-windows 32 --resume examples/data/hpylori_sjm180.fasta.gz
	test -f $(BUILD)/tests/cli-pretrain/loss.svg -a -f $(BUILD)/tests/cli-pretrain/model/model.safetensors
	gcc $(CFLAGS_STRICT) $$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --cflags dnabert) examples/c/finetune.c \
	  -o $(BUILD)/tests/example_finetune $$(PKG_CONFIG_PATH=$(BUILD)/prefix/lib/pkgconfig pkg-config --libs dnabert)
	$(BUILD)/tests/example_finetune examples/models/dnabert2-small-5genomes $(SMALL_TASK) $(BUILD)/tests/c-finetune 0.25
	$(PYTHON) examples/python/finetune.py examples/models/dnabert2-small-5genomes $(SMALL_TASK) $(BUILD)/tests/py-finetune 0.25
	test -f $(BUILD)/tests/py-finetune/adapter_model.safetensors -a -f $(BUILD)/tests/py-finetune/test_metrics.json
	rm -rf $(BUILD)/tests/cli-finetune
	$(CLI) finetune --model examples/models/dnabert2-small-5genomes --train $(SMALL_TASK)/train.csv \
	  --dev $(SMALL_TASK)/dev.csv --test $(SMALL_TASK)/test.csv --out $(BUILD)/tests/cli-finetune \
	  --max-steps 10 --eval-every 5 --reverse-complement -q
	test -f $(BUILD)/tests/cli-finetune/adapter_config.json -a -f $(BUILD)/tests/cli-finetune/test_predictions.csv -a -f $(BUILD)/tests/cli-finetune/loss.svg
	grep -q '"reverse_complement": *true' $(BUILD)/tests/cli-finetune/dnabert_classifier.json
	$(CLI) predict --model examples/models/dnabert2-small-5genomes --adapter $(BUILD)/tests/cli-finetune \
	  -o $(BUILD)/tests/cli-predictions.csv $(SMALL_TASK)/test.csv
	$(PYTHON) -c "import csv, sys; a = list(csv.DictReader(open(sys.argv[1]))); b = list(csv.DictReader(open(sys.argv[2]))); \
	  assert len(a) == len(b) == 100 and all(x['label'] == y['label'] and abs(float(x['prob_1']) - float(y['prob_1'])) < 1e-5 for x, y in zip(a, b))" \
	  $(BUILD)/tests/cli-finetune/test_predictions.csv $(BUILD)/tests/cli-predictions.csv
	$(CLI) predict --model examples/models/dnabert2-small-5genomes --adapter $(BUILD)/tests/cli-finetune examples/data/hpylori_sjm180.fasta.gz > $(BUILD)/tests/cli-predictions-fasta.csv
	test $$(wc -l < $(BUILD)/tests/cli-predictions-fasta.csv) -eq 2
	@echo "examples passed"

bench: lib python
	$(PYTHON) bench/bench_tokenizer.py

# ---- installing -------------------------------------------------------------------------------
install: lib cli
	$(MAKE) --no-print-directory install-files

# the files of an install from an existing build (used by test-examples, which must not start another build)
install-files:
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/lib/$(LIBFILE) $(DESTDIR)$(PREFIX)/lib/$(LIBFILE)
	ln -sf $(LIBFILE) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libdnabert.so
	install -m 644 include/dnabert.h $(DESTDIR)$(PREFIX)/include/dnabert.h
	install -m 644 include/dnabert.hpp $(DESTDIR)$(PREFIX)/include/dnabert.hpp
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/dnabert
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' dnabert.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/dnabert.pc

clean:
	rm -rf .build build

# ---- fuzzing and sanitizers (README "Fuzzing and sanitizers") ---------------------------------
#   make fuzz          every libFuzzer harness for FUZZ_SECONDS each (one at a time), on demand
#   make fuzz-smoke    every harness for FUZZ_SMOKE_SECONDS each, after replaying fuzz/regressions
#   make test-asan     the C tests and the Swift tests against an AddressSanitizer build of the library
# Fuzzers: fuzz/build.sh (swiftc -sanitize=fuzzer,address, into .build-fuzz), fuzz/run.sh.
# ASan: one SwiftPM build in .build-asan (--sanitize=address, -enable-testing) serves both the Swift tests and
# the libdnabert.so the C tests (compiled with the toolchain's clang -fsanitize=address) link against.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 5
ASAN_BUILD = $(CURDIR)/.build-asan
ASAN_SWIFT = --sanitize=address -Xswiftc -enable-testing --scratch-path $(ASAN_BUILD)
ASAN_SWIFT_LIBDIR = $(shell dirname $$(command -v swift))/../lib/swift/linux
# empty = the whole Swift suite; e.g. ASAN_SWIFT_FILTER='BPETrainerTests|SafetensorsTests'
ASAN_SWIFT_FILTER ?=
ASAN_ENV = SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:handle_abort=1
# the C tests also check for leaks (known, reported ones are listed in fuzz/lsan.supp)
ASAN_ENV_C = SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:handle_abort=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0

.PHONY: fuzz fuzz-smoke fuzz-build test-asan test-asan-c test-asan-swift asan-lib

fuzz-build:
	fuzz/build.sh

fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

test-asan: test-asan-c test-asan-swift

asan-lib:
	swift build -c release $(ASAN_SWIFT) --product dnabert

test-asan-c: asan-lib
	@mkdir -p $(ASAN_BUILD)/tests
	for t in tokenizer model pretrain finetune; do \
	  clang -std=c99 -g -O1 -fsanitize=address -fno-omit-frame-pointer -fuse-ld=lld -Iinclude Tests/c/test_$$t.c \
	    -o $(ASAN_BUILD)/tests/test_$$t -L$(ASAN_BUILD)/release -ldnabert \
	    -Wl,-rpath,$(ASAN_BUILD)/release -Wl,-rpath,$(ASAN_SWIFT_LIBDIR) -lpthread -lm || exit 1; \
	done
	$(ASAN_ENV_C) $(ASAN_BUILD)/tests/test_tokenizer examples
	$(ASAN_ENV_C) $(ASAN_BUILD)/tests/test_model Tests/DNABertTests/Fixtures/model
	$(ASAN_ENV_C) $(ASAN_BUILD)/tests/test_pretrain examples
	$(ASAN_ENV_C) $(ASAN_BUILD)/tests/test_finetune examples/models/dnabert2-small-5genomes examples/data/tasks/coding_200

test-asan-swift:
	@# skipped: the SIGKILL checkpoint test needs dnabert-probe to reach step 2 within 20-300 ms kills, which an
	@# ASan build on a loaded machine does not (a timing test, not a memory test; test-swift runs it)
	@echo "test-asan-swift: skipping TrainingCheckpointTests.sigkillDuringSaves... (timing-bound under ASan; test-swift runs it)"
	$(ASAN_ENV) swift test -c release $(ASAN_SWIFT) --skip sigkillDuringSavesNeverLeavesAnUnreadableLatestCheckpoint \
	  $(if $(ASAN_SWIFT_FILTER),--filter '$(ASAN_SWIFT_FILTER)')
