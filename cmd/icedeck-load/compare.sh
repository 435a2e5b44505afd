#!/bin/sh
# compare.sh runs icedeck-load against icedeck at each latency and against
# Debian's icecast2, alternating, a fresh server process for every run,
# PASSES times, and prints each run's RESULT line with the load average it
# started at. Loopback only. Run it from the repository's root as root
# (Icecast is started as the icecast2 user) on an otherwise quiet machine:
# before each run it waits, up to WAIT seconds, for the CPUs to be idle;
# each RESULT line ends with the idle share and 1-minute load it began at.
# icedeck runs without the audio analysis (Icecast has none; it costs
# about 2% of a core per mount, whatever the listeners); with INTERFACE=1
# it runs with its interface, in a 160x48 tmux window, instead of
# headless.
#
#	N=10000 KBPS=128 LATENCIES="250ms 100ms 50ms 25ms" sh cmd/icedeck-load/compare.sh
set -eu
N=${N:-10000}
KBPS=${KBPS:-128}
PASSES=${PASSES:-2}
LATENCIES=${LATENCIES:-"250ms 50ms"}
MEASURE=${MEASURE:-20s}
RAMP=${RAMP:-1000}
WAIT=${WAIT:-600}
INTERFACE=${INTERFACE:-0}
ICECAST=${ICECAST:-1} # 0: icedeck alone
PORT=${PORT:-18000}
PW=load-$$
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# REV=HEAD (or any revision) measures that commit instead of the working tree.
src=.
if [ -n "${REV:-}" ]; then
	src=$dir/src
	mkdir "$src"
	git archive "$REV" | tar -x -C "$src"
fi
(cd "$src" && go build -o "$dir/icedeck" ./cmd/icedeck && go build -o "$dir/icedeck-load" ./cmd/icedeck-load)
chmod 755 "$dir"
printf '[analysis]\nenabled = false\n' >"$dir/icedeck.toml"

load1() { cut -d' ' -f1 /proc/loadavg; }

# idle prints the percentage of CPU time idle over the next 3 seconds.
idle() {
	a=$(head -1 /proc/stat)
	sleep 3
	b=$(head -1 /proc/stat)
	echo "$a
$b" | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; tot[NR] = t; idl[NR] = $5 + $6 }
		END { printf "%d", 100 * (idl[2] - idl[1]) / (tot[2] - tot[1]) }'
}

# quiet waits, up to WAIT seconds, until no test suite runs and the CPUs
# are at least 95% idle: what the last run left in the load average is
# not a reason to wait.
quiet() {
	waited=0
	while [ "$waited" -lt "$WAIT" ]; do
		if ! pgrep -f 'go test|\.test ' >/dev/null && [ "$(idle)" -ge 95 ]; then
			return
		fi
		sleep 7
		waited=$((waited + 10))
	done
	echo "not quiet after ${WAIT}s: measuring anyway" >&2
}

measure() { # label pid
	"$dir/icedeck-load" -addr 127.0.0.1:$PORT -password "$PW" -listeners "$N" -kbps "$KBPS" \
		-ramp "$RAMP" -measure "$MEASURE" -pid "$2" -label "$1" | grep '^RESULT' | sed "s/\$/ $3/"
}

icedeck() { # latency
	quiet
	l="idle_pct_at_start=$(idle) load1_at_start=$(load1)"
	lat=$1
	set -- "$dir/icedeck" --config "$dir/icedeck.toml" --listen 127.0.0.1:$PORT --source-password "$PW" \
		--admin-password "$PW" --latency "$lat" --log-level warn
	if [ "$INTERFACE" = 1 ]; then
		tmux new-session -d -s icedeck-load -x 160 -y 48 "exec $* --log-file $dir/icedeck.log"
		pid=$(tmux list-panes -t icedeck-load -F '#{pane_pid}')
		label=icedeck-interface-$lat
	else
		"$@" --headless 2>"$dir/icedeck.log" &
		pid=$!
		label=icedeck-$lat
	fi
	sleep 1
	measure "$label" "$pid" "$l"
	kill "$pid"
	if [ "$INTERFACE" = 1 ]; then
		while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	else
		wait "$pid" || true
	fi
}

icecast() {
	quiet
	l="idle_pct_at_start=$(idle) load1_at_start=$(load1)"
	cat >"$dir/icecast.xml" <<EOF
<icecast>
  <limits>
    <clients>20000</clients><sources>4</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout><source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect><burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>$PW</source-password><admin-user>admin</admin-user><admin-password>$PW</admin-password>
  </authentication>
  <listen-socket><port>$PORT</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths>
    <basedir>/usr/share/icecast2</basedir><logdir>$dir</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>1</loglevel></logging>
  <security><chroot>0</chroot></security>
</icecast>
EOF
	touch "$dir/error.log" "$dir/access.log"
	chown icecast2 "$dir/error.log" "$dir/access.log"
	setpriv --reuid icecast2 --regid icecast --init-groups icecast2 -c "$dir/icecast.xml" &
	pid=$!
	sleep 1
	measure icecast2 $pid "$l"
	kill $pid
	wait $pid || true
}

for _ in $(seq "$PASSES"); do
	for lat in $LATENCIES; do
		icedeck "$lat"
		if [ "$ICECAST" = 1 ]; then icecast; fi
	done
done
