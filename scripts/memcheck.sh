#!/bin/bash
# The module under valgrind memcheck: runs the t/ files that exercise the
# module (t/stream_autostart*.t, among them the client-disconnect storm and
# the reload with held requests of t/stream_autostart_storm.t) against the
# vendored nginx, whose master and every worker run under valgrind, then
# reads valgrind's logs. Exits non-zero on any invalid read or write, use
# of uninitialised memory, bad free, or definitely/indirectly lost block,
# whatever it is attributed to, and prints a summary with the stacks.
#
#   scripts/memcheck.sh [T_FILE...]      (default: t/stream_autostart*.t)
#
# nginx runs through a wrapper (TEST_NGINX_BINARY) that execs valgrind
# with --trace-children=yes (a binary upgrade execs nginx again) and one
# log per process (%p: workers are forked, each gets its own log).
# TEST_NGINX_SLOW lengthens t/lib's waits for nginx; the tests run under
# this project's Test::Nginx only (nginx-tests' waits 5 s for nginx's pid
# file, too short under valgrind). Suppressions: scripts/memcheck.supp.
# Environment: MEMCHECK_KEEP=1 keeps the logs; PROVE_JOBS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v valgrind >/dev/null || { echo "memcheck: no valgrind (scripts/setup.sh installs it)" >&2; exit 2; }
stage=$(sh scripts/build.sh | tail -n 1)

run=$(mktemp -d /tmp/stream-autostart-memcheck.XXXXXX)
chmod 755 "$run"
mkdir "$run/vg"
cleanup() { [ "${MEMCHECK_KEEP:-0}" = 1 ] || rm -rf "$run"; }
trap cleanup EXIT
# Copies, so that a build meanwhile (build.sh copies over the stage's
# files in place) cannot change what valgrind is reading.
cp "$stage/sbin/nginx" "$stage/modules/ngx_http_stream_autostart_module.so" \
    "$stage/bin/stream-supervisor" "$stage/bin/test-origin" "$run/"
nginx="$run/nginx.bin"
mv "$run/nginx" "$nginx"
so="$run/ngx_http_stream_autostart_module.so"

cat >"$run/nginx" <<EOF
#!/bin/sh
# -V, -v and -t ask nginx about itself: no need to check those.
# (--keep-debuginfo: nginx unloads the module before a worker's leak
# report; without it the module's frames would print as ???.)
for a in "\$@"; do
    case \$a in -V | -v | -t | -T) exec "$nginx" "\$@" ;; esac
done
exec valgrind --tool=memcheck --trace-children=yes --child-silent-after-fork=no \\
    --log-file="$run/vg/vg.%p.log" --num-callers=40 --error-limit=no \\
    --leak-check=full --show-leak-kinds=definite,indirect \\
    --errors-for-leak-kinds=definite,indirect --track-origins=yes \\
    --keep-debuginfo=yes \\
    --suppressions="$root/scripts/memcheck.supp" \\
    "$nginx" "\$@"
EOF
chmod 755 "$run/nginx"

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(t/stream_autostart*.t)
globals="load_module $so;"
[ "$(id -u)" -ne 0 ] || globals="user root; $globals"

echo "== memcheck: ${files[*]}" >&2
t0=$(date +%s)
tests=0
TEST_NGINX_BINARY="$run/nginx" TEST_NGINX_GLOBALS="$globals" TEST_NGINX_SLOW=4 \
    TEST_SUPERVISOR_BINARY="$run/stream-supervisor" TEST_ORIGIN_BINARY="$run/test-origin" \
    prove -j"${PROVE_JOBS:-1}" "${files[@]}" || tests=1
secs=$(($(date +%s) - t0))

# One log per process. A process is the master or a worker (or a binary
# upgrade's new master): its first "Command:" line and "Parent PID:" say.
echo "== memcheck: valgrind logs ($(find "$run/vg" -name 'vg.*.log' | wc -l) processes, $secs s)" >&2
vg=0
perl - "$run/vg" <<'EOF' || vg=$?
use strict;
use warnings;

my ($dir) = @ARGV;
my ($procs, $errors, $module_errors, $lost) = (0, 0, 0, 0);
my (%kinds, @shown);
my $module = qr/ngx_http_stream_autostart|stream_autostart_module|\/src\/module\/|\bsrc\/[a-z_]+\.rs/;

foreach my $log (sort glob "$dir/vg.*.log") {
	open my $fh, '<', $log or die "$log: $!\n";
	my @lines = map { s/^==\d+== ?//r } <$fh>;
	close $fh;
	$procs++;
	my $text = join '', @lines;
	my ($summary) = $text =~ /ERROR SUMMARY: (\d+) errors/;
	unless (defined $summary) {
		# A process killed before its summary (nginx's workers end by
		# exit(), so this is rare): say so, it is not a pass.
		print "$log: no ERROR SUMMARY (process killed?)\n";
		$errors++;
		next;
	}
	$errors += $summary;
	$lost += $1 =~ s/,//gr if $text =~ /definitely lost: ([\d,]+) bytes/;
	# Errors are blocks separated by blank lines, starting with a
	# description line, followed by "at"/"by" frames.
	foreach my $block (split /\n\s*\n/, $text) {
		my @b = split /\n/, $block;
		next unless @b && $b[0] =~ /^(Invalid (read|write|free)|Mismatched free|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Argument .* of function|\d[\d,]* (\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are (definitely|indirectly) lost)/;
		my $kind = $b[0] =~ s/ of size \d+//r
			=~ s/^[\d,]+ .*bytes in.* are (\w+) lost.*/$1 lost (leak)/r;
		$kinds{$kind}++;
		my $ours = grep { /$module/ } @b;
		$module_errors++ if $ours;
		push @shown, "$log" . ($ours ? ' [module]' : '') . ":\n    "
			. join("\n    ", grep { /\S/ } @b[0 .. ($#b < 30 ? $#b : 30)]) . "\n"
			if @shown < 20;
	}
}

print "processes checked:   $procs\n";
print "errors (valgrind):   $errors\n";
print "  in module frames:  $module_errors\n";
print "definitely lost:     $lost bytes\n";
print "  $_: $kinds{$_}\n" foreach sort keys %kinds;
print "\n", join("\n", @shown) if @shown;
exit($errors || !$procs ? 1 : 0);
EOF
if [ "$tests" != 0 ]; then
    echo "memcheck: some tests failed under valgrind (see prove's output above)" >&2
fi
if [ "$vg" != 0 ] || [ "$tests" != 0 ]; then
    [ "${MEMCHECK_KEEP:-0}" = 1 ] && echo "memcheck: logs kept in $run/vg" >&2
    echo "memcheck: FAIL" >&2
    exit 1
fi
echo "memcheck: PASS: no memory error in $(find "$run/vg" -name 'vg.*.log' | wc -l) nginx processes" >&2
