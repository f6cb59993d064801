# Shared by the end-to-end runs in bench/ (instances-check.sh, faults-check.sh,
# scale-check.sh): a feed farm served on loopback, a throwaway PostgreSQL,
# wirewatch processes, and the figures read from /proc. Sourced, not run.
#
# A script calls bench_init NAME first. Outside a database it checks for the
# feedfarm tool (skipping with a message when it is absent), builds what it
# needs and runs itself again under `bin/devdb with`, which gives it a
# throwaway cluster in DATABASE_URL and removes it afterwards. Every process
# started through bench_bg is stopped on exit, whatever the exit.

FEEDFARM=${FEEDFARM:-../shared/bench/feedfarm}
CLK_TCK=$(getconf CLK_TCK)
bench_pids=()
work=

bench_init() {
  bench_name=$1
  shift
  if [ -z "${BENCH_IN_DEVDB:-}" ]; then
    if [ ! -f "$FEEDFARM/go.mod" ]; then
      echo "$bench_name: no feedfarm at $FEEDFARM (set FEEDFARM); skipped"
      exit 0
    fi
    go build -o bin/devdb ./cmd/devdb
    BENCH_IN_DEVDB=1 exec bin/devdb with -- "bench/$(basename "$0")" "$@"
  fi
  work=$(mktemp -d "${TMPDIR:-/tmp}/wirewatch-$bench_name-XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # The checks count rows: they need a database of their own.
  if [ "$(sql "SELECT to_regclass('public.feeds') IS NOT NULL")" = t ]; then
    echo "$bench_name: FAIL: the database in DATABASE_URL already has wirewatch tables; unset DATABASE_URL" \
      "so that a throwaway cluster is used" >&2
    exit 1
  fi
  go build -C "$FEEDFARM" -o "$work/feedfarm" .
  go build -o "$work/wirewatch" ./cmd/wirewatch
}

bench_cleanup() {
  local status=$? i pid
  # Last started first: the wirewatch processes stop before the farm they
  # poll, so no poll of theirs meets a farm that is going away.
  for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
    pid=${bench_pids[i]}
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ] && [ -n "$work" ] && [ -z "${BENCH_KEEP:-}" ]; then
    echo "$bench_name: logs of the failed run:" >&2
    for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; }; done
  fi
  if [ -n "${BENCH_KEEP:-}" ]; then
    echo "$bench_name: kept $work" >&2
  elif [ -n "$work" ]; then
    rm -rf "$work"
  fi
}

# bench_bg LOG CMD...: start CMD in the background, its output in LOG; its
# pid is in $bg_pid and is stopped at exit.
bench_bg() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  bg_pid=$!
  bench_pids+=("$bg_pid")
}

# sql QUERY: one psql query, unaligned, no headers; stops on error.
sql() { psql "$DATABASE_URL" -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }

# sql_table QUERY: the same, as an aligned table for the summary.
sql_table() { psql "$DATABASE_URL" -X -q -P footer=off -v ON_ERROR_STOP=1 -c "$1"; }

# farm_gen ARGS...: feedfarm gen into $work/farm.
farm_gen() { "$work/feedfarm" gen -out "$work/farm" "$@"; }

# farm_serve ARGS...: serve $work/farm on loopback; the feed URLs go to
# $work/urls.txt, the server's base URL to $farm_url.
farm_serve() {
  local feeds
  feeds=$(wc -l <"$work/farm/feeds.txt")
  : >"$work/urls.txt"
  "$work/feedfarm" serve -dir "$work/farm" -addr 127.0.0.1:0 "$@" >"$work/urls.txt" 2>"$work/serve.log" &
  bench_pids+=("$!")
  for _ in $(seq 300); do
    [ "$(wc -l <"$work/urls.txt")" -ge "$feeds" ] && break
    sleep 0.1
  done
  if [ "$(wc -l <"$work/urls.txt")" -lt "$feeds" ]; then
    echo "$bench_name: FAIL: feedfarm serve did not list its feeds" >&2
    exit 1
  fi
  farm_url=$(head -1 "$work/urls.txt" | sed -E 's#^(http://[^/]+)/.*#\1#')
}

farm_stats() { curl -fsS "$farm_url/_stats"; }
farm_stats_reset() { curl -fsS -X POST "$farm_url/_stats/reset" >/dev/null; }

# write_config FILE SCHEDULE FETCH_YAML [LOG_LEVEL]: a configuration over the
# farm's feeds with the shipped watchlist, no HTTP endpoint, loopback allowed
# and the extra fetch keys given (indented lines).
write_config() {
  {
    echo "schedule: '$2'"
    echo "feeds_file: $work/urls.txt"
    sed -n '/^watchlist:/,/^http:/p' config/wirewatch.yaml | sed '$d'
    printf 'http:\n  listen: "off"\n'
    printf 'fetch:\n  allow_private_networks: true\n%s\n' "$3"
    printf 'log:\n  level: %s\n' "${4:-info}"
  } >"$1"
}

# peak_rss_mib PID: the process's peak resident set (VmHWM), in MiB.
peak_rss_mib() { awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# cpu_seconds PID: user + system CPU time of the process so far.
cpu_seconds() {
  sed 's/^.*) //' "/proc/$1/stat" | awk -v hz="$CLK_TCK" '{ printf "%.1f", ($12 + $13) / hz }'
}

# pg_cpu_seconds: user + system CPU time of the PostgreSQL cluster so far:
# the postmaster, its live children, and the children it has reaped
# (backends of closed connections). Empty when the server is not local.
pg_cpu_seconds() {
  local dir pm
  dir=$(sql "SHOW data_directory" 2>/dev/null) || return 0
  pm=$(head -1 "$dir/postmaster.pid" 2>/dev/null) || return 0
  [ -r "/proc/$pm/stat" ] || return 0
  {
    sed 's/^.*) //' "/proc/$pm/stat" | awk '{ print $12 + $13 + $14 + $15 }'
    for f in /proc/[0-9]*/stat; do
      sed 's/^.*) //' "$f" 2>/dev/null | awk -v pm="$pm" '$2 == pm { print $12 + $13 + $14 + $15 }'
    done
  } | awk -v hz="$CLK_TCK" '{ s += $1 } END { printf "%.1f", s / hz }'
}

# machine: one line about where the figures come from.
machine() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "$(nproc) cores ($model), $(go version | awk '{print $3}'), $(sql 'SHOW server_version' | awk '{print "PostgreSQL " $1}'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%d)"
}

# wait_until SECONDS WHAT CMD...: run CMD every second until it succeeds
# (a function, so that what it checks is read again each time); fail after
# SECONDS.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    if [ "$SECONDS" -ge "$end" ]; then
      echo "$bench_name: FAIL: $what did not happen within ${limit}s" >&2
      exit 1
    fi
    sleep 1
  done
}

# sleep_until EPOCH: sleep until that Unix time.
sleep_until() {
  local now
  now=$(date +%s.%N)
  sleep "$(awk -v t="$1" -v n="$now" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')"
}
