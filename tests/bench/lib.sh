# shellcheck shell=bash disable=SC2034,SC2154
# (it sets variables for its callers and reads theirs: hg_bin, here, log)
# What the benchmark scripts share: the private network namespace, CPU
# pinning, the load generator and echo server, starting hushgate and
# stopping what was started, and the statistics of the report.
#   . "$here/lib.sh"     (with $here set to tests/bench)
# Every function expects `set -euo pipefail` and a `log` function.

# Outside the namespace: re-exec the calling script ($1, then its
# arguments) in a private network and mount namespace; inside, return.
bench_enter_ns() {
	local script=$1 name
	shift
	name=$(basename "$script")
	[ -z "${HUSHGATE_BENCH_NS:-}" ] || return 0
	[ "$(id -u)" = 0 ] || { echo "$name: needs root (private network namespace)" >&2; exit 2; }
	[ -x "$hg_bin" ] || { echo "$name: no hushgate binary at $hg_bin (build it, or --hushgate PATH)" >&2; exit 2; }
	command -v unshare >/dev/null || { echo "$name: unshare (util-linux) not found" >&2; exit 2; }
	export HUSHGATE_BENCH_NS=1
	exec unshare --net --mount --propagation private -- bash "$script" "$@"
}

# Loopback up, room for many short connections, and PROXY_CPU /
# CLIENT_CPU: the proxy on CPU 0, the clients and servers on CPU 1.
bench_setup() {
	ip link set lo up
	sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null || true
	sysctl -qw net.ipv4.ip_local_port_range="1024 65000" 2>/dev/null || true
	sysctl -qw net.core.somaxconn=8192 2>/dev/null || true
	sysctl -qw net.ipv4.tcp_max_syn_backlog=8192 2>/dev/null || true
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	ncpu=$(nproc)
	if [ "$ncpu" -ge 2 ]; then
		PROXY_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1)
	else
		log "only one CPU: running without pinning"
		PROXY_CPU=(); CLIENT_CPU=()
	fi
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	pids=()
}

stop_pid() { # pid: TERM, wait up to 3 s, then KILL
	local p=$1
	kill -0 "$p" 2>/dev/null || return 0
	kill -TERM "$p" 2>/dev/null || true
	for _ in $(seq 1 60); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
}

# A temporary directory $tmp whose processes ($pids) are stopped and
# which is removed on exit.
bench_tmp() { # name
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/hushgate-$1.XXXXXX")
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}
bench_cleanup() {
	local p
	for p in "${pids[@]}"; do stop_pid "$p"; done
	rm -rf "$tmp"
}

# $tmp/loadgen and $tmp/echod, built; LG runs the generator on the
# clients' CPU.
bench_tools() {
	local cc=${CC:-cc}
	log "compiling loadgen and echod"
	$cc -O2 -Wall -Wextra -o "$tmp/loadgen" "$here/loadgen.c" \
		"$here/loadgen_clients.c" "$here/loadgen_oneshot.c" "$here/loadgen_hello.c"
	$cc -O2 -Wall -Wextra -o "$tmp/echod" "$here/echod.c"
	LG=("${CLIENT_CPU[@]}" "$tmp/loadgen")
}

# The echo server on the clients' CPU (echod's arguments: --echo-port N
# for a fixed port); ECHO_PORT is where it echoes.
bench_echod() {
	"${CLIENT_CPU[@]}" "$tmp/echod" --lifetime 3600 "$@" > "$tmp/echod.out" 2> "$tmp/echod.err" &
	pids+=($!)
	for _ in $(seq 1 100); do grep -q '^ready' "$tmp/echod.out" 2>/dev/null && break; sleep 0.05; done
	grep -q '^ready' "$tmp/echod.out" || { echo "echod did not start" >&2; cat "$tmp/echod.err" >&2; exit 1; }
	ECHO_PORT=$(awk '/^echo/ { split($2, a, ":"); print a[2] }' "$tmp/echod.out")
}

# Start hushgate on $tmp/hushgate-NAME.yaml (checked with -t first) on the
# proxy's CPU and wait until it relays a tunnel to TARGET (loadgen's
# arguments after it, e.g. --client-hello NAME); BENCH_PORT and BENCH_PID.
bench_hushgate() { # name target [loadgen args...]
	local name=$1 target=$2 port="" ok=0 pid
	shift 2
	if ! "$hg_bin" -t -c "$tmp/hushgate-$name.yaml" > "$tmp/check-$name.out" 2>&1; then
		echo "hushgate -t rejected the $name configuration:" >&2
		head -n 20 "$tmp/check-$name.out" >&2
		exit 1
	fi
	(cd "$tmp" && exec "${PROXY_CPU[@]}" "$hg_bin" -c "hushgate-$name.yaml") > "$tmp/stderr-$name.log" 2>&1 &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 1 200); do
		grep -q 'listening on' "$tmp/stderr-$name.log" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/stderr-$name.log" | head -n1)
	if [ -n "$port" ]; then
		for _ in $(seq 1 100); do
			if "$tmp/loadgen" tunnels --proxy "127.0.0.1:$port" --target "$target" \
				"$@" -c 1 -n 1 -d 2 --warmup 0 --timeout 2 2>/dev/null | grep -q ' ok=1 '; then
				ok=1; break
			fi
			sleep 0.05
		done
	fi
	if [ "$ok" != 1 ]; then
		echo "hushgate ($name) did not relay a tunnel:" >&2
		tail -n 20 "$tmp/stderr-$name.log" >&2
		exit 1
	fi
	BENCH_PORT=$port
	BENCH_PID=$pid
}

kv() { # line key -> value
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1" | head -n1
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime + stime
stats() { # values... -> median min max
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
		m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
		printf "%.1f %.1f %.1f\n", m, a[1], a[NR] }'
}
paired() { # "rates of A" "rates of B" (round order) -> median min max of the per-round ratio A/B, in %
	awk -v d="$1" -v l="$2" 'BEGIN { n = split(d, a, " "); split(l, b, " ")
		for (i = 1; i <= n; i++) r[i] = (a[i] / b[i] - 1) * 100
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
		m = (n % 2) ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
		printf "%+.1f %% (%+.1f … %+.1f)\n", m, r[1], r[n] }'
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (a / b - 1) * 100 }'; }
fmt() { printf '%.0f' "$1"; }
