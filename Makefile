# SPDX-License-Identifier: MIT
#
# hakmem top-level Makefile, in the style of the Linux kernel's kbuild.
#
#   make defconfig            .config from configs/defconfig
#   make menuconfig           edit .config
#   make                      build libhakmem.a and libhakmem.so
#   make O=dir ...            build out of tree, everything under dir
#   make help                 all targets and variables
#
# Documentation/build.md describes the build in detail.

VERSION    = 0
PATCHLEVEL = 1
SUBLEVEL   = 0
HAKMEM_VERSION := $(VERSION).$(PATCHLEVEL).$(SUBLEVEL)
SONAME         := libhakmem.so.$(VERSION)

# No built-in suffix rules, no RCS/SCCS lookups. (Not -r in MAKEFLAGS:
# that would leak into the test and bench sub-makes, which may rely on
# the built-in rules.)
.SUFFIXES:
%:: %,v
%:: RCS/%,v
%:: RCS/%
%:: s.%
%:: SCCS/s.%

MAKEFLAGS += --no-print-directory
.DEFAULT_GOAL := all

# Delete a half-written target when its recipe fails.
.DELETE_ON_ERROR:

this-makefile := $(lastword $(MAKEFILE_LIST))
srctree := $(realpath $(dir $(this-makefile)))

# ---------------------------------------------------------------------------
# O=, V=, C=, W=

ifeq ("$(origin O)", "command line")
  KBUILD_OUTPUT := $(O)
endif
ifneq ($(KBUILD_OUTPUT),)
  objtree := $(abspath $(KBUILD_OUTPUT))
else
  objtree := $(CURDIR)
endif
ifneq ($(words $(srctree) $(objtree)),2)
  $(error hakmem: the source and build directories must not contain spaces)
endif

ifeq ("$(origin V)", "command line")
  KBUILD_VERBOSE := $(V)
endif
ifeq ($(KBUILD_VERBOSE),1)
  quiet :=
  Q :=
else
  quiet := quiet_
  Q := @
endif
# make -s: no output at all.
ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
  quiet := silent_
endif

ifeq ("$(origin C)", "command line")
  KBUILD_CHECKSRC := $(C)
endif
KBUILD_CHECKSRC ?= 0

# W=1, W=2, W=3 (or several: W=12): extra compiler warnings, as kbuild's
# scripts/Makefile.extrawarn. Reported, not errors, unless W also has 'e'
# (W=1e). The flags: extra-warn-1, -2, -3 below.
ifeq ("$(origin W)", "command line")
  KBUILD_EXTRA_WARN := $(W)
endif

WERROR ?= 1

# ---------------------------------------------------------------------------
# Architecture and toolchain

# ARCH defaults to the host. SRCARCH is the directory name under arch/.
HOSTARCH := $(shell uname -m)
ARCH ?= $(HOSTARCH)
SRCARCH := $(ARCH)
SRCARCH := $(patsubst arm64,aarch64,$(SRCARCH))
SRCARCH := $(patsubst amd64,x86_64,$(patsubst x86,x86_64,$(SRCARCH)))
HOSTARCH := $(patsubst arm64,aarch64,$(patsubst amd64,x86_64,$(HOSTARCH)))

# Cross build without CROSS_COMPILE: pick the Debian cross toolchain.
ifneq ($(SRCARCH),$(HOSTARCH))
  ifeq ("$(origin CROSS_COMPILE)", "undefined")
    CROSS_COMPILE := $(SRCARCH)-linux-gnu-
  endif
endif

HOSTCC   = gcc
CC       = $(CROSS_COMPILE)gcc
LD       = $(CROSS_COMPILE)ld
AR       = $(CROSS_COMPILE)ar
NM       = $(CROSS_COMPILE)nm
SIZE     = $(CROSS_COMPILE)size
OBJCOPY  = $(CROSS_COMPILE)objcopy
CHECK    = sparse
PYTHON   = /usr/bin/python3
INSTALL  = install
PKG_CONFIG = pkg-config

# Where 'make install' puts things.
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# ---------------------------------------------------------------------------
# Helpers (as in the kernel's scripts/Kbuild.include)

comma  := ,
empty  :=
space  := $(empty) $(empty)
squote := '
pound  := \#
space_escape := _-_SPACE_-_

# Escape single quotes for use in echo '...'.
escsq = $(subst $(squote),'\$(squote)',$1)

# The target's name relative to the build directory, for quiet output.
qtarget = $(patsubst $(objtree)/%,%,$@)

dot-target = $(dir $@).$(notdir $@)
depfile = $(dot-target).d

# Keep the first occurrence of each word.
uniq = $(if $1,$(firstword $1) $(call uniq,$(filter-out $(firstword $1),$1)))

# echo the command (quiet: the short form), then run it.
echo-cmd = $(if $($(quiet)cmd_$(1)),echo '  $(call escsq,$($(quiet)cmd_$(1)))';)
cmd = @set -e; $(echo-cmd) $(cmd_$(1))

# The command as saved in .<target>.cmd: $ and # escaped for make.
make-cmd = $(call escsq,$(subst $(pound),$$(pound),$(subst $$,$$$$,$(cmd_$(1)))))

# Prerequisites newer than the target, and a changed command line.
newer-prereqs = $(filter-out $(PHONY),$?)
cmd-check = $(filter-out $(subst $(space),$(space_escape),$(strip $(savedcmd_$@))), \
                         $(subst $(space),$(space_escape),$(strip $(cmd_$1))))
if-changed-cond = $(newer-prereqs)$(cmd-check)$(if $(wildcard $@),,missing)

# Run cmd_$1 if a prerequisite or the command changed, and save the command.
if_changed = $(if $(if-changed-cond),$(cmd_and_savecmd),@:)
cmd_and_savecmd = \
	$(cmd); \
	printf '%s\n' 'savedcmd_$@ := $(make-cmd)' > $(dot-target).cmd

# Same, for compilations: fixdep turns the gcc depfile into the .cmd file.
if_changed_rule = $(if $(if-changed-cond),$(rule_$(1)),$(if $(filter 2,$(KBUILD_CHECKSRC)),$(call cmd,checksrc),@:))
cmd_and_fixdep = \
	$(cmd); \
	$(objtree)/scripts/fixdep $(depfile) $@ '$(make-cmd)' '$$(objtree)/include/config' > $(dot-target).cmd.tmp; \
	mv $(dot-target).cmd.tmp $(dot-target).cmd; \
	rm -f $(depfile)

PHONY := FORCE
FORCE:

# The test and benchmark Makefiles, and what they are told.
TESTS_MAKEFILE := $(srctree)/tests/Makefile
BENCH_MAKEFILE := $(srctree)/tools/bench/Makefile
sub-make-vars = srctree=$(srctree) objtree=$(objtree) SRCARCH=$(SRCARCH) \
	ARCH=$(ARCH) CROSS_COMPILE=$(CROSS_COMPILE) CC='$(CC)'

# ---------------------------------------------------------------------------
# Which kind of goals: configuration, no configuration needed, or build.

config-goals    := $(filter config %config,$(MAKECMDGOALS))
noconfig-goals  := $(filter clean mrproper distclean help ab boxes-check kernelversion version kconfig-doc kconfig-doc-check config-ifdefs \
			   randconfig-check check-mutants,$(MAKECMDGOALS))
build-goals     := $(filter-out $(config-goals) $(noconfig-goals),$(MAKECMDGOALS))

mixed-goals :=
# e.g. 'make defconfig all' or 'make clean all': run the goals one by one.
ifneq ($(config-goals)$(filter clean mrproper distclean,$(noconfig-goals)),)
  ifneq ($(words $(MAKECMDGOALS)),1)
    mixed-goals := 1
  endif
endif

KCONFIG = srctree=$(srctree) objtree=$(objtree) ARCH=$(SRCARCH) PYTHON=$(PYTHON) \
	  V=$(KBUILD_VERBOSE) SILENT=$(if $(filter silent_,$(quiet)),1,0) \
	  $(SHELL) $(srctree)/scripts/kconfig.sh

ifeq ($(SRCARCH),aarch64)
  DEFCONFIG ?= aarch64_defconfig
else
  DEFCONFIG ?= defconfig
endif

# The helper Makefile in the build directory: run make there directly.
# Never over an existing Makefile that is not ours (e.g. the top Makefile).
cmd_outputmakefile = \
	mkdir -p $(objtree); \
	if [ "$$(cd $(objtree) && pwd -P)" != "$$(cd $(srctree) && pwd -P)" ] && \
	   { [ ! -e $(objtree)/Makefile ] || grep -q '^$(pound) Generated by hakmem' $(objtree)/Makefile; }; then \
		printf '%s\n' '$(pound) Generated by hakmem: "make" here builds this build directory.' \
			'include $(srctree)/Makefile' > $(objtree)/Makefile; \
	fi

ifdef mixed-goals
# ===========================================================================
# Several goals of different kinds: one sub-make per goal, in order.

PHONY += __sequential
$(MAKECMDGOALS): __sequential
	@:
__sequential:
	$(Q)set -e; for goal in $(MAKECMDGOALS); do \
		$(MAKE) -f $(this-makefile) $$goal; \
	done

else ifneq ($(config-goals),)
# ===========================================================================
# Configuration targets

PHONY += defconfig menuconfig guiconfig oldconfig olddefconfig alldefconfig listnewconfig savedefconfig syncconfig config
PHONY += allnoconfig allyesconfig randconfig

defconfig: FORCE
	$(Q)$(cmd_outputmakefile)
	$(Q)$(KCONFIG) defconfig $(srctree)/configs/$(DEFCONFIG)

# NAME_defconfig is configs/NAME_defconfig if there is one, else the
# default configuration with the fragment configs/NAME.config merged onto it
# (the A/B halves: each sets one option). Aliases keep old names working.
defconfig-alias-tiny_defconfig := embedded_defconfig

%_defconfig: FORCE
	$(Q)$(cmd_outputmakefile)
	$(Q)name=$(or $(defconfig-alias-$@),$@); \
	if [ -f $(srctree)/configs/$$name ] || [ ! -f $(srctree)/configs/$${name%_defconfig}.config ]; then \
		$(KCONFIG) defconfig $(srctree)/configs/$$name; \
	else \
		$(KCONFIG) defconfig $(srctree)/configs/$(DEFCONFIG) $(srctree)/configs/$${name%_defconfig}.config; \
	fi

# make NAME.config: merge the fragment configs/NAME.config onto .config.
%.config: FORCE
	$(Q)test -f $(objtree)/.config || { echo >&2 "*** $@: no .config in $(objtree) to merge onto (run a *defconfig target first)"; exit 1; }
	$(Q)$(KCONFIG) mergeconfig $(srctree)/configs/$@

menuconfig guiconfig oldconfig olddefconfig alldefconfig allnoconfig allyesconfig: FORCE
	$(Q)$(cmd_outputmakefile)
	$(Q)$(KCONFIG) $@

# A random configuration (scripts/randconfig.py); KCONFIG_SEED=n repeats one.
randconfig: FORCE
	$(Q)$(cmd_outputmakefile)
	$(Q)KCONFIG_SEED=$(KCONFIG_SEED) $(KCONFIG) $@

listnewconfig savedefconfig: FORCE
	$(Q)test -f $(objtree)/.config || { echo >&2 "*** $@: no .config in $(objtree)"; exit 1; }
	$(Q)$(KCONFIG) $@

syncconfig: FORCE
	$(Q)$(KCONFIG) syncconfig

config:
	@echo >&2 "*** Use 'make menuconfig' (or a *defconfig target)."; exit 1

else ifneq ($(filter-out $(noconfig-goals),$(or $(MAKECMDGOALS),all)),)
# ===========================================================================
# Build targets: need a .config

ifeq ($(wildcard $(objtree)/.config),)
  $(error No configuration in $(objtree)/.config. Run "make $(if $(KBUILD_OUTPUT),O=$(KBUILD_OUTPUT) )$(if $(filter-out $(HOSTARCH),$(SRCARCH)),ARCH=$(ARCH) )defconfig" first (or another *_defconfig target from configs/, or "make menuconfig"))
endif

PHONY += all
all:

# include/config/auto.conf is a makefile: make brings it up to date (and
# with it include/generated/autoconf.h and the per-symbol files) before
# anything else, then restarts with the new CONFIG_ values.
KCONFIG_FILES := $(wildcard $(srctree)/Kconfig $(srctree)/*/Kconfig $(srctree)/*/*/Kconfig \
			    $(srctree)/*/*/*/Kconfig)

$(objtree)/include/config/auto.conf: $(objtree)/.config $(KCONFIG_FILES) $(srctree)/scripts/kconfig.sh
	@$(if $(filter quiet_,$(quiet)),echo '  SYNC    include/config/auto.conf include/generated/autoconf.h';)
	$(Q)$(KCONFIG) syncconfig

$(objtree)/.config $(KCONFIG_FILES): ;

include $(objtree)/include/config/auto.conf

# ---------------------------------------------------------------------------
# Read the directory Makefiles, kbuild style:
#
#   obj-y += foo.o bar/       build foo.o here, descend into bar/
#   obj-$(CONFIG_X) += baz.o  only when CONFIG_X=y (obj- and obj-n ignored)
#   foo-y := a.o b.o          composite: foo.o stands for a.o b.o
#   ccflags-y                 extra flags for this directory
#   subdir-ccflags-y          extra flags for this directory and below
#   CFLAGS_foo.o              extra flags for one object
#
# Errors (a missing Makefile or source) are reported by 'prepare', not
# here: the first pass may run with a stale auto.conf.

dir-vars := obj-y obj-n obj- obj-m lib-y ccflags-y asflags-y subdir-ccflags-y

define read-dir
$(foreach v,$(dir-vars),$(v) :=
)
include $(srctree)/$(1)Makefile
endef

# record-dir <dir/>,<inherited subdir-ccflags>
define record-dir
expanded-$(1) := $$(foreach o,$$(obj-y),$$(if $$(filter %/,$$(o)),$$(o),$$(or $$(strip $$($$(o:.o=-y)) $$($$(o:.o=-objs))),$$(o))))
objs-$(1) := $$(call uniq,$$(addprefix $(1),$$(filter-out %/,$$(expanded-$(1)))))
subdirs-$(1) := $$(call uniq,$$(filter %/,$$(obj-y)))
subccflags-$(1) := $(2) $$(subdir-ccflags-y)
dir-ccflags-$(1) := $(2) $$(subdir-ccflags-y) $$(ccflags-y)
dir-asflags-$(1) := $$(asflags-y)
$$(foreach o,$$(filter-out %/,$$(expanded-$(1))),$$(eval obj-cflags-$(1)$$(o) := $$(CFLAGS_$$(o))))
$$(foreach o,$$(filter-out %/,$$(expanded-$(1)) $$(obj-y)),$$(eval undefine CFLAGS_$$(o))$$(eval undefine $$(o:.o=-y))$$(eval undefine $$(o:.o=-objs)))
all-dirs += $(1)
all-objs += $$(objs-$(1))
endef

walk = $(if $(wildcard $(srctree)/$(1)Makefile),$(call walk-dir,$(1),$(2)),$(eval missing-makefiles += $(1)Makefile))
walk-dir = $(eval $(call read-dir,$(1)))$(eval $(call record-dir,$(1),$(2)))$(foreach d,$(subdirs-$(1)),$(call walk,$(1)$(d),$(subccflags-$(1))))

all-dirs :=
all-objs :=
missing-makefiles :=
top-dirs := lib/ mm/ $(if $(wildcard $(srctree)/arch/$(SRCARCH)/Makefile),arch/$(SRCARCH)/)
$(foreach d,$(top-dirs),$(call walk,$(d),))
$(foreach v,$(dir-vars),$(eval $(v) :=))

all-objs := $(call uniq,$(all-objs))
objs := $(addprefix $(objtree)/,$(all-objs))
missing-sources := $(strip $(foreach o,$(all-objs),$(if $(wildcard $(srctree)/$(o:.o=.c) $(srctree)/$(o:.o=.S)),,$(o:.o=.c))))

# ---------------------------------------------------------------------------
# Flags

HK_CPPFLAGS := -D_GNU_SOURCE \
	-I$(objtree)/include \
	-I$(srctree)/arch/$(SRCARCH)/include \
	-I$(srctree)/include \
	-I$(srctree)/mm

# -Os drops the unwind tables, except with the heap profiler, which unwinds
# each sample from inside the library (malloc, the box, the sampler) to the
# program: without an FDE for those frames every stack ended there, in one
# record (randconfig KCONFIG_SEED=0x35025752, make check's prof suite).
HK_CFLAGS := -std=gnu11 \
	$(if $(CONFIG_CC_OPTIMIZE_FOR_SIZE),-Os $(if $(CONFIG_HEAP_PROFILE),,-fno-asynchronous-unwind-tables -fno-unwind-tables),-O2) -g \
	-Wall -Wextra -Wno-unused-parameter \
	$(if $(filter 1,$(WERROR)),-Werror) \
	-fno-builtin -fno-strict-aliasing \
	-fPIC -fvisibility=hidden -ftls-model=initial-exec -fno-plt \
	-fmacro-prefix-map=$(srctree)/=

HK_AFLAGS := -D__ASSEMBLY__

# Extra warnings (W=). Level 1: likely bugs, few false positives; level 2:
# worth a look, noisy; level 3: mostly noise.
extra-warn-1 := -Wmissing-declarations -Wmissing-prototypes -Wold-style-definition \
	-Wmissing-include-dirs -Wunused-but-set-variable -Wunused-const-variable \
	-Wunused-macros -Wmissing-format-attribute -Wimplicit-fallthrough \
	-Wstrict-prototypes -Wundef -Wvla
extra-warn-2 := -Wcast-align -Wdisabled-optimization -Wnested-externs -Wshadow \
	-Wmissing-field-initializers -Wsign-compare -Wtype-limits -Wlogical-op \
	-Wduplicated-cond -Wredundant-decls
extra-warn-3 := -Wbad-function-cast -Wcast-qual -Wconversion -Wpacked -Wpadded \
	-Wpointer-arith -Wsign-conversion
extra-warn := $(foreach l,1 2 3,$(if $(findstring $(l),$(KBUILD_EXTRA_WARN)),$(extra-warn-$(l))))
HK_CFLAGS += $(extra-warn)
ifeq ($(findstring e,$(KBUILD_EXTRA_WARN)),)
  HK_CFLAGS += $(patsubst -W%,-Wno-error=%,$(extra-warn))
endif

# KCFLAGS / KCPPFLAGS / KAFLAGS / KLDFLAGS: extra flags from the command line.
HK_CPPFLAGS += $(KCPPFLAGS)
HK_CFLAGS   += $(KCFLAGS)
HK_AFLAGS   += $(KAFLAGS)

# scripts/libhakmem.map: the linker's __start_hk_locks/__stop_hk_locks (the
# lock table, include/hakmem/lock.h) are not exported.
HK_LDFLAGS_SO := -shared -Wl,-soname,$(SONAME) -Wl,-z,now -Wl,-z,relro -Wl,-z,defs \
	-Wl,--version-script=$(srctree)/scripts/libhakmem.map $(KLDFLAGS)
HK_LIBS := $(if $(CONFIG_THREADS),-lpthread)

# Per-object flags: dir of the object (relative, with /) and the object.
obj-rel  = $(patsubst $(objtree)/%,%,$@)
obj-dir  = $(dir $(obj-rel))
obj-flags = $(dir-ccflags-$(obj-dir)) $(obj-cflags-$(obj-rel))

c_flags = $(HK_CPPFLAGS) $(HK_CFLAGS) $(obj-flags)
a_flags = $(HK_CPPFLAGS) $(HK_AFLAGS) $(dir-asflags-$(obj-dir)) $(obj-flags)

# sparse (C=1: files being compiled, C=2: all files)
CHECKFLAGS := -Wsparse-error -std=gnu11
ifeq ($(SRCARCH),aarch64)
  CHECKFLAGS += --arch=aarch64 -isystem /usr/aarch64-linux-gnu/include
endif
CHECKFLAGS += $(CF)
check_flags = $(CHECKFLAGS) $(filter -D% -U% -I%,$(c_flags))

# ---------------------------------------------------------------------------
# Rules

PHONY += prepare
all: $(objtree)/libhakmem.a $(objtree)/libhakmem.so $(objtree)/$(SONAME)

config-arch := $(if $(CONFIG_ARCH_AARCH64),aarch64,$(if $(CONFIG_ARCH_X86_64),x86_64,unknown))

prepare: $(objtree)/scripts/fixdep
ifneq ($(missing-makefiles),)
	@printf '*** Missing directory Makefile: %s (listed in obj-y of the parent directory)\n' $(missing-makefiles) >&2; exit 1
endif
ifneq ($(missing-sources),)
	@printf '*** Missing source: %s (listed in obj-y, neither .c nor .S exists)\n' $(missing-sources) >&2; exit 1
endif
ifneq ($(config-arch),$(SRCARCH))
	@echo >&2 "*** $(objtree)/.config is for $(config-arch), but ARCH=$(SRCARCH)."; \
	 echo >&2 "*** Pass the ARCH the tree was configured with (ARCH=$(config-arch)$(if $(filter aarch64,$(config-arch)), CROSS_COMPILE=aarch64-linux-gnu-)),"; \
	 echo >&2 "*** or reconfigure with make ARCH=$(SRCARCH) defconfig."; exit 1
endif
ifeq ($(wildcard $(srctree)/arch/$(SRCARCH)/include),)
	@echo >&2 "*** Unsupported ARCH=$(ARCH): no arch/$(SRCARCH)/include"; exit 1
endif
	@mkdir -p $(sort $(dir $(objs)))
	@$(cmd_outputmakefile)

quiet_cmd_hostcc = HOSTCC  $(qtarget)
      cmd_hostcc = mkdir -p $(dir $@) && $(HOSTCC) -O2 -Wall -o $@ $<

$(objtree)/scripts/fixdep: $(srctree)/scripts/fixdep.c
	$(call cmd,hostcc)

quiet_cmd_checksrc = CHECK   $(patsubst $(srctree)/%,%,$<)
      cmd_checksrc = $(CHECK) $(check_flags) $<

# sparse runs before the compiler, so a file with a sparse warning gets
# no object and is checked again by the next make.
checksrc-enabled := $(filter 1 2,$(KBUILD_CHECKSRC))

quiet_cmd_cc_o_c = CC      $(qtarget)
      cmd_cc_o_c = $(CC) $(c_flags) -MMD -MF $(depfile) -c -o $@ $<

define rule_cc_o_c
	$(if $(checksrc-enabled),$(call cmd,checksrc))
	$(call cmd_and_fixdep,cc_o_c)
endef

quiet_cmd_as_o_S = AS      $(qtarget)
      cmd_as_o_S = $(CC) $(a_flags) -MMD -MF $(depfile) -c -o $@ $<

define rule_as_o_S
	$(call cmd_and_fixdep,as_o_S)
endef

$(objtree)/%.o: $(srctree)/%.c FORCE | prepare
	$(call if_changed_rule,cc_o_c)

$(objtree)/%.o: $(srctree)/%.S FORCE | prepare
	$(call if_changed_rule,as_o_S)

# Neither source exists: say so (instead of make's "No rule to make target").
$(objtree)/%.o: FORCE
	@echo >&2 "*** $(obj-rel): neither $(obj-rel:.o=.c) nor $(obj-rel:.o=.S) exists (listed in obj-y of $(obj-dir)Makefile)"; exit 1

# Preprocess / assemble one file: make mm/tiny/tiny.i, make mm/tiny/tiny.s
quiet_cmd_cpp_i_c = CPP     $(qtarget)
      cmd_cpp_i_c = $(CC) $(c_flags) -E -o $@ $<
quiet_cmd_cc_s_c = CC      $(qtarget)
      cmd_cc_s_c = $(CC) $(c_flags) -fverbose-asm -S -o $@ $<

$(objtree)/%.i: $(srctree)/%.c FORCE | prepare
	$(call cmd,cpp_i_c)
$(objtree)/%.s: $(srctree)/%.c FORCE | prepare
	$(call cmd,cc_s_c)

# 'make mm/foo.o' etc. name files in the build directory.
single-goals := $(filter-out /%,$(filter %.o %.i %.s,$(MAKECMDGOALS)))
ifneq ($(single-goals),)
PHONY += $(single-goals)
$(single-goals): %: $(objtree)/% ;
endif

# libhakmem.a holds one object, all objects linked together (ld -r): a
# static link then takes all of hakmem or nothing. With one archive member
# per source file, a program that calls only malloc and free would get
# hakmem's malloc.o, and libc.a's own malloc.o would come in later for a
# realloc that libc calls internally: "multiple definition of malloc".
#
# hakmem.o, the partial link, still has every internal function and
# variable as a global symbol (hidden visibility: -fvisibility=hidden keeps
# them out of the shared library, but a static link sees them). The white-box
# unit tests link it directly. The archive gets libhakmem.o, the same object
# with every hidden symbol made local (objcopy --localize-hidden): only the
# __export'ed names (hak_* and, with CONFIG_EXPORT_MALLOC, the C library
# names of include/hakmem.h) stay global, exactly the dynamic symbols of
# libhakmem.so, so a program with a heap_init() or os_init() of its own
# links with libhakmem.a (namespace-check below tests both).
quiet_cmd_ld_r = LD      $(qtarget)
      cmd_ld_r = $(CC) -nostdlib -r -o $@ $(objs)

$(objtree)/hakmem.o: $(objs) FORCE
	$(call if_changed,ld_r)

quiet_cmd_localize = OBJCOPY $(qtarget)
      cmd_localize = $(OBJCOPY) --localize-hidden $< $@

$(objtree)/libhakmem.o: $(objtree)/hakmem.o FORCE
	$(call if_changed,localize)

quiet_cmd_ar = AR      $(qtarget)
      cmd_ar = rm -f $@; $(AR) crsD $@ $<

$(objtree)/libhakmem.a: $(objtree)/libhakmem.o FORCE
	$(call if_changed,ar)

quiet_cmd_link_so = LD      $(qtarget)
      cmd_link_so = $(CC) $(HK_LDFLAGS_SO) -o $@ $(objs) $(HK_LIBS)

$(objtree)/libhakmem.so: $(objs) $(srctree)/scripts/libhakmem.map FORCE
	$(call if_changed,link_so)

quiet_cmd_symlink = LN      $(qtarget)
      cmd_symlink = ln -sfn $(notdir $<) $@

$(objtree)/$(SONAME): $(objtree)/libhakmem.so
	$(call cmd,symlink)

# Saved commands and dependencies of what was built before.
cmd-files := $(wildcard $(foreach f,$(objs) $(addprefix $(objtree)/,libhakmem.a libhakmem.so \
		hakmem.o libhakmem.o hakmem.pc),$(dir $(f)).$(notdir $(f)).cmd))
ifneq ($(cmd-files),)
  $(cmd-files): ;
  include $(cmd-files)
endif

# ---------------------------------------------------------------------------
# size, freestanding-check

PHONY += size
size: $(objtree)/libhakmem.a
	$(Q)cd $(objtree) && $(SIZE) -t $(all-objs)

# The arena backend must not need the C library: link the objects into one
# relocatable object and list what is still undefined. Weak references
# (errno, write and abort for reports) are optional by construction and
# not listed. With CONFIG_THREADS the arena registers its fork handler
# with pthread_atfork, and the lock table's bounds come from the linker.
FREESTANDING_ALLOWED ?= memcpy memset memmove memcmp __errno_location \
	_GLOBAL_OFFSET_TABLE_ __stack_chk_fail __stack_chk_guard \
	$(if $(CONFIG_THREADS),pthread_atfork __start_hk_locks __stop_hk_locks)
PHONY += freestanding-check
freestanding-check: $(objtree)/hakmem.o
ifeq ($(CONFIG_BACKEND_ARENA),y)
	$(Q)undef=$$($(NM) -u $< | awk '$$1 == "U" { print $$NF }' | sort -u); \
	echo "  FREESTANDING undefined symbols: $$(echo $$undef)"; \
	bad=; for s in $$undef; do \
		case " $(FREESTANDING_ALLOWED) " in *" $$s "*) ;; \
		*) case $$s in __aarch64_*) ;; *) bad="$$bad $$s";; esac;; esac; \
	done; \
	if [ -n "$$bad" ]; then \
		echo >&2 "*** freestanding-check: the arena build needs symbols a freestanding"; \
		echo >&2 "*** environment does not provide:$$bad"; \
		echo >&2 "*** (allowed: $(FREESTANDING_ALLOWED)); override with FREESTANDING_ALLOWED=..."; \
		exit 1; \
	fi
else
	@echo >&2 "*** freestanding-check needs CONFIG_BACKEND_ARENA=y (e.g. make embedded_defconfig)."; exit 1
endif

# ---------------------------------------------------------------------------
# namespace-check: libhakmem.a exports the public API and nothing else.
#
# 1. The global symbols defined in libhakmem.a are exactly the dynamic
#    symbols of libhakmem.so.
# 2. tests/namespace/own_names.c defines heap_init() and os_init() of its
#    own, and own_names_gen.c (generated) every other internal global of
#    hakmem.o; linked with libhakmem.a (no "multiple definition") the
#    program must run with its own functions and a working allocator
#    (natively; cross builds only link it).

ns-dir := $(objtree)/namespace-check
ns-native := $(filter $(SRCARCH),$(HOSTARCH))

PHONY += namespace-check
namespace-check: $(objtree)/libhakmem.a $(objtree)/libhakmem.so $(objtree)/hakmem.o
	@echo '  NSCHECK libhakmem.a'
	$(Q)mkdir -p $(ns-dir)
	$(Q)$(NM) -g --defined-only $(objtree)/libhakmem.a | awk 'NF == 3 { print $$3 }' | sort > $(ns-dir)/archive.syms
	$(Q)$(NM) -D --defined-only $(objtree)/libhakmem.so | awk '{ print $$NF }' | sort > $(ns-dir)/shared.syms
	$(Q)if ! cmp -s $(ns-dir)/archive.syms $(ns-dir)/shared.syms; then \
		echo >&2 "*** namespace-check: libhakmem.a and libhakmem.so export different symbols"; \
		echo >&2 "*** (< only in libhakmem.a, > only in libhakmem.so):"; \
		diff $(ns-dir)/archive.syms $(ns-dir)/shared.syms | grep '^[<>]' >&2; exit 1; \
	fi
	$(Q)$(NM) -g --defined-only $(objtree)/hakmem.o | awk 'NF == 3 { print $$3 }' | sort | \
		comm -23 - $(ns-dir)/archive.syms | \
		grep -v -x -e heap_init -e os_init | \
		awk '{ printf("char %s[1] = { 1 };\n", $$1) }' > $(ns-dir)/own_names_gen.c
	$(Q)$(CC) -std=gnu11 -O1 -fno-builtin -I$(objtree)/include -I$(srctree)/include \
		-o $(ns-dir)/own_names $(srctree)/tests/namespace/own_names.c \
		$(ns-dir)/own_names_gen.c $(objtree)/libhakmem.a $(HK_LIBS)
	$(Q)$(if $(ns-native),$(ns-dir)/own_names >$(ns-dir)/own_names.out || \
		{ cat $(ns-dir)/own_names.out >&2; echo >&2 "*** namespace-check: own_names failed"; exit 1; })
	@echo "  NSCHECK $$(wc -l < $(ns-dir)/archive.syms) exported symbols, as libhakmem.so;" \
		"own_names (defines heap_init, os_init and the $$(wc -l < $(ns-dir)/own_names_gen.c) other internal names)" \
		"$(if $(ns-native),linked and ran,linked)"

# ---------------------------------------------------------------------------
# Tests and benchmarks: Makefiles owned by tests/ and tools/bench/.

PHONY += check check-long fuzz bench callgrind
check: all namespace-check $(if $(filter y,$(CONFIG_BACKEND_ARENA)),freestanding-check)
check-long fuzz: all

check check-long fuzz:
	@test -f $(TESTS_MAKEFILE) || { echo >&2 "*** make $@: $(TESTS_MAKEFILE) does not exist (the test suite is not in this tree yet)."; exit 1; }
	$(Q)$(MAKE) -f $(TESTS_MAKEFILE) $(sub-make-vars) $@

bench callgrind: all
	@test -f $(BENCH_MAKEFILE) || { echo >&2 "*** make $@: $(BENCH_MAKEFILE) does not exist (the benchmarks are not in this tree yet)."; exit 1; }
	$(Q)$(MAKE) -f $(BENCH_MAKEFILE) $(sub-make-vars) $@

# ---------------------------------------------------------------------------
# install

# A static C++ link: the weak references of mm/api/new.c pull in no
# archive member, so name libstdc++'s new_handler and bad_alloc thrower
# (harmless in a C link: nothing refers to them).
LIBS_PRIVATE := $(HK_LIBS) $(if $(CONFIG_CXX_NEW),-Wl$(comma)-u$(comma)_ZSt17__throw_bad_allocv -Wl$(comma)-u$(comma)_ZSt15get_new_handlerv)

quiet_cmd_pc = GEN     $(qtarget)
      cmd_pc = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
		   -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(HAKMEM_VERSION)|g' \
		   -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|g' $< > $@

$(objtree)/hakmem.pc: $(srctree)/hakmem.pc.in FORCE
	$(call if_changed,pc)

PHONY += install uninstall
install: all $(objtree)/hakmem.pc
	@echo '  INSTALL $(DESTDIR)$(PREFIX)'
	$(Q)$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(Q)$(INSTALL) -m 644 $(objtree)/libhakmem.a $(DESTDIR)$(LIBDIR)/libhakmem.a
	$(Q)$(INSTALL) -m 755 $(objtree)/libhakmem.so $(DESTDIR)$(LIBDIR)/libhakmem.so.$(HAKMEM_VERSION)
	$(Q)ln -sfn libhakmem.so.$(HAKMEM_VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	$(Q)ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libhakmem.so
	$(Q)$(INSTALL) -m 644 $(srctree)/include/hakmem.h $(DESTDIR)$(INCLUDEDIR)/hakmem.h
	$(Q)$(INSTALL) -m 644 $(objtree)/hakmem.pc $(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc

uninstall:
	$(Q)rm -f $(DESTDIR)$(LIBDIR)/libhakmem.a $(DESTDIR)$(LIBDIR)/libhakmem.so \
		$(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libhakmem.so.$(HAKMEM_VERSION) \
		$(DESTDIR)$(INCLUDEDIR)/hakmem.h $(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc

else
# ===========================================================================
# Targets that need no configuration

PHONY += clean mrproper distclean help ab version kernelversion kconfig-doc kconfig-doc-check config-ifdefs check-mutants

# Only the directories this Makefile builds: an in-tree 'make clean' must not
# touch O= build directories that live inside the source tree.
clean-dirs := $(wildcard $(addprefix $(objtree)/,lib mm arch))

clean:
	@echo '  CLEAN   $(objtree)'
	$(Q)$(if $(clean-dirs),find $(clean-dirs) \( -name '*.o' -o -name '.*.cmd' -o -name '.*.d' \
		-o -name '.*.tmp' -o -name '*.i' -o -name '*.s' \) -type f -delete)
	$(Q)rm -f $(addprefix $(objtree)/,libhakmem.a libhakmem.so $(SONAME) hakmem.pc \
		.libhakmem.a.cmd .libhakmem.so.cmd .hakmem.pc.cmd hakmem.o .hakmem.o.cmd \
		libhakmem.o .libhakmem.o.cmd)
	$(Q)rm -rf $(objtree)/namespace-check

mrproper distclean: clean
	$(Q)rm -rf $(addprefix $(objtree)/,.config .config.old .defconfig.merged defconfig include/generated \
		include/config scripts/fixdep)
	$(Q)if [ "$(objtree)" != "$(srctree)" ] && [ -f $(objtree)/Makefile ] && \
		grep -q 'Generated by hakmem' $(objtree)/Makefile; then rm -f $(objtree)/Makefile; fi

# A/B benchmark of two configurations: make ab A=x_defconfig B=y_defconfig
ab:
	@test -f $(BENCH_MAKEFILE) || { echo >&2 "*** make ab: $(BENCH_MAKEFILE) does not exist (the benchmarks are not in this tree yet)."; exit 1; }
	$(Q)$(MAKE) -f $(BENCH_MAKEFILE) $(sub-make-vars) $(if $(A),A=$(A)) $(if $(B),B=$(B)) ab

# Each box configured off in turn: object absent, no symbol, suites pass.
# BOXES="MID STATS" for some only; SUITES= STRESS_TIME= as for check.
PHONY += boxes-check
boxes-check:
	$(Q)srctree=$(srctree) BOXES_OUT=$(objtree)/build/boxes MAKE='$(MAKE)' NM=$(NM) \
		$(SHELL) $(srctree)/scripts/boxes-check.sh $(BOXES)

version kernelversion:
	@echo $(HAKMEM_VERSION)

# Deliberate defects that the tests must catch (tests/mutants/*.mut), each
# built in its own copy of the tree: make check-mutants [MUTANTS="a b"]
# [MUTANTS_CI=1 for the CI subset]. Needs no configuration.
MUTANTS_DIR = $(objtree)/$(if $(filter $(srctree),$(objtree)),build/)mutants
check-mutants:
	$(Q)$(PYTHON) $(srctree)/tests/mutants/run.py --workdir $(MUTANTS_DIR) \
		$(if $(filter 1,$(MUTANTS_CI)),--ci) $(MUTANTS)

# N random configurations, each built in its own directory and tested
# (unit and stress suites): scripts/randconfig-check.sh.
N ?= 20
RANDCONFIG_DIR ?= $(if $(KBUILD_OUTPUT),$(objtree)/randconfig,$(srctree)/build/randconfig)
randconfig-check:
	$(Q)srctree=$(srctree) MAKE='$(MAKE)' RANDCONFIG_DIR=$(RANDCONFIG_DIR) \
		JOBS=$(or $(JOBS),2) KCONFIG_SEED=$(KCONFIG_SEED) \
		MAKEARGS='$(if $(filter command line,$(origin ARCH)),ARCH=$(ARCH)) $(if $(filter command line,$(origin CROSS_COMPILE)),CROSS_COMPILE=$(CROSS_COMPILE)) $(if $(filter command line,$(origin CC)),CC=$(CC))' \
		bash $(srctree)/scripts/randconfig-check.sh $(N)

# Documentation/kconfig.md from the Kconfig help texts.
kconfig-doc:
	$(Q)srctree=$(srctree) $(PYTHON) $(srctree)/scripts/kconfig-doc.py $(srctree)/Documentation/kconfig.md

# Documentation/kconfig.md as make kconfig-doc would write it now (CI):
# a Kconfig help text or a configs/ fragment changed without it fails.
kconfig-doc-check:
	$(Q)tmp=$$(mktemp) && \
	srctree=$(srctree) $(PYTHON) $(srctree)/scripts/kconfig-doc.py $$tmp >/dev/null && \
	if diff -u $(srctree)/Documentation/kconfig.md $$tmp; then rm -f $$tmp; \
	else rm -f $$tmp; echo 'kconfig-doc-check: Documentation/kconfig.md is stale: run make kconfig-doc' >&2; exit 1; fi

# No #if on a CONFIG_ symbol inside a function body (IS_ENABLED() or a stub).
config-ifdefs:
	$(Q)cd $(srctree) && $(PYTHON) scripts/config-ifdefs.py $(sort $(patsubst $(srctree)/%,%,$(wildcard $(srctree)/mm/*.c $(srctree)/mm/*/*.c $(srctree)/lib/*.c $(srctree)/arch/*/*.c $(srctree)/arch/*/*/*.c)))

help:
	@echo 'Configuration (kconfiglib, run with $(PYTHON)):'
	@echo '  defconfig         .config from configs/$(DEFCONFIG) (aarch64_defconfig for ARCH=aarch64)'
	@echo '  <name>_defconfig  .config from configs/<name>_defconfig:'
	@echo '                    $(notdir $(wildcard $(srctree)/configs/*_defconfig))'
	@echo '                    or $(DEFCONFIG) + the fragment configs/<name>.config (A/B halves):'
	@echo '                    $(patsubst %.config,%_defconfig,$(notdir $(wildcard $(srctree)/configs/*.config)))'
	@echo '                    (tiny_defconfig: the old name of embedded_defconfig)'
	@echo '  <name>.config     merge the fragment configs/<name>.config onto .config'
	@echo '  menuconfig        edit .config in a terminal UI'
	@echo '  olddefconfig      update .config, new symbols take their defaults'
	@echo '  alldefconfig      .config with every symbol at its default'
	@echo '  allnoconfig       .config with every option that can be n set to n'
	@echo '  allyesconfig      .config with every option that can be y set to y'
	@echo '  randconfig        random .config (prints its seed; KCONFIG_SEED=n repeats it,'
	@echo '                    KCONFIG_ALLCONFIG=file pins the options the file sets)'
	@echo '  listnewconfig     list symbols missing from .config'
	@echo '  savedefconfig     write the minimal config to $$(objtree)/defconfig'
	@echo ''
	@echo 'Building:'
	@echo '  all (default)     libhakmem.a, libhakmem.so (soname $(SONAME))'
	@echo '  dir/file.o|.i|.s  one object, preprocessed or assembly file'
	@echo '  size              text/data/bss of the library objects'
	@echo '  freestanding-check  (arena backend) only memcpy/memset-like symbols undefined'
	@echo '  namespace-check   libhakmem.a exports only the public API (part of check)'
	@echo '  install           PREFIX=$(PREFIX) DESTDIR= LIBDIR= INCLUDEDIR= PKGCONFIGDIR='
	@echo '  uninstall'
	@echo '  clean             objects and libraries (keeps .config)'
	@echo '  mrproper          clean, and .config and generated files'
	@echo '  kconfig-doc       regenerate Documentation/kconfig.md from the Kconfig help'
	@echo '  kconfig-doc-check fail if Documentation/kconfig.md differs from what kconfig-doc writes'
	@echo '  config-ifdefs     list #if CONFIG_ inside function bodies of .c files (must be none)'
	@echo ''
	@echo 'Testing and benchmarks:'
	@echo '  check             unit tests (tests/Makefile)'
	@echo '  check-long, fuzz  long tests (and every mutant), fuzzing (tests/Makefile)'
	@echo '  check-mutants     deliberate defects the tests must catch (tests/mutants;'
	@echo '                    MUTANTS="a b", MUTANTS_CI=1 for the CI subset)'
	@echo '  bench             benchmark against the system malloc and others'
	@echo '  ab A=x_defconfig B=y_defconfig   A/B benchmark of two configurations'
	@echo '  callgrind         instruction counts of the fast paths (tools/bench/Makefile)'
	@echo '  randconfig-check N=20   build N random configurations (each in build/randconfig/'
	@echo '                    <seed>, or $$(O)/randconfig/<seed>) and run the unit and stress'
	@echo '                    suites on each; prints the seed of any failure. KCONFIG_SEED=n'
	@echo '                    repeats a run; SUITES=, STRESS_TIME=5, JOBS=2, RANDCONFIG_KEEP=1'
	@echo '                    configurations matching scripts/randconfig-known-bugs are'
	@echo '                    drawn again (RANDCONFIG_KNOWN_BUGS= tests them too)'
	@echo '  boxes-check       build with each box off: no object, no symbol, unit+stress pass'
	@echo '                    (BOXES="MID STATS" for some; SUITES=, STRESS_TIME=)'
	@echo ''
	@echo 'Variables:'
	@echo '  O=dir             build directory (default: the current directory)'
	@echo '  V=1               show full commands'
	@echo '  C=1 | C=2         run sparse on compiled files | on all files'
	@echo '  ARCH=aarch64      cross build (SRCARCH=aarch64);'
	@echo '  CROSS_COMPILE=aarch64-linux-gnu-   (the default when ARCH differs from the host)'
	@echo '  WERROR=0          warnings are not errors'
	@echo '  W=1 | W=2 | W=3   extra compiler warnings (combine: W=12; W=1e: as errors)'
	@echo '  KCFLAGS=...       extra compiler flags (also KCPPFLAGS, KAFLAGS, KLDFLAGS)'
	@echo '  CC=... HOSTCC=...'

endif

.PHONY: $(PHONY)
