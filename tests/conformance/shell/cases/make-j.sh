# make -j with recursive makes, children that read stdin and a failing target.
mkdir -p sub
cat >Makefile <<'EOT'
PARTS = a b c d e f
all: $(PARTS:%=part-%) sub-all
	@cat $(PARTS:%=part-%) sub/out
part-%:
	@sleep 0.1; echo "part $*" >$@
sub-all:
	@$(MAKE) -C sub
stdin:
	@cat
fail:
	@exit 3
EOT
cat >sub/Makefile <<'EOT'
out: x y z
	@cat x y z >out
x y z:
	@echo "sub $@" >$@
EOT
make -s -j4 --no-print-directory; echo "make -j4: $?"
echo "input for a make recipe" | make -s --no-print-directory stdin; echo "make stdin: $?"
make -s --no-print-directory fail 2>&1; echo "make fail: $?"
make -s -j4 -k --no-print-directory fail all >/dev/null 2>&1; echo "make -k: $?"
