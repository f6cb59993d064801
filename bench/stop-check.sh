#!/usr/bin/env bash
# Stop check: `wirewatch run` polls 1,000 feeds that each answer after 2 s,
# 64 at a time, and gets SIGTERM once the first polls are recorded, with
# polls in flight. It must exit 0 within shutdown_timeout (5 s) + 3 s and
# leave no feed half-written (a poll record with its feed state, items and
# sightings, or none of them) and no claim; a following `wirewatch poll`
# must then store the rest, each item once.
# Needs the feedfarm tool (FEEDFARM, default ../shared/bench/feedfarm).
set -euo pipefail
cd "$(dirname "$0")/.."
FEEDFARM=${FEEDFARM:-../shared/bench/feedfarm}
FEEDS=${FEEDS:-1000}
ITEMS=${ITEMS:-20}
# Over shutdown_timeout (LATENCY=8s), the polls in flight are cut off instead.
LATENCY=${LATENCY:-2s}
SHUTDOWN_TIMEOUT=5
if [ ! -f "$FEEDFARM/go.mod" ]; then
  echo "stop-check: no feedfarm at $FEEDFARM (set FEEDFARM); skipped"
  exit 0
fi

# The PostgreSQL server may run as another user (devdb does so as root), so
# the work directory must be readable by others.
work=$(mktemp -d -t wirewatch-stop.XXXXXX)
chmod 755 "$work"
serve_pid= daemon_pid= db_started= ok=
cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  [ -n "$db_started" ] && "$work/devdb" stop -dir "$work/pg" >/dev/null 2>&1
  if [ -z "$ok" ]; then
    for f in run.log serve.log devdb.log poll.out poll.log; do
      [ -s "$work/$f" ] && { echo "--- last lines of $f"; tail -n 25 "$work/$f"; }
    done
    [ -s "$work/pg/server.log" ] && { echo "--- last lines of the PostgreSQL log"; tail -n 15 "$work/pg/server.log"; }
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

go build -C "$FEEDFARM" -o "$work/feedfarm" .
go build -o "$work/wirewatch" ./cmd/wirewatch
go build -o "$work/farmcheck" ./bench/farmcheck
go build -o "$work/devdb" ./cmd/devdb

"$work/feedfarm" gen -out "$work/farm" -feeds "$FEEDS" -items "$ITEMS" -seed 1
"$work/feedfarm" serve -dir "$work/farm" -addr 127.0.0.1:0 -hosts 4 -latency "$LATENCY" \
  > "$work/urls.txt" 2> "$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do
  [ "$(wc -l < "$work/urls.txt")" -ge "$FEEDS" ] && break
  sleep 0.1
done
[ "$(wc -l < "$work/urls.txt")" -ge "$FEEDS" ] || fail "feedfarm serve did not list $FEEDS feeds"

db_started=1
db_url=$("$work/devdb" start -dir "$work/pg" -db stop 2> "$work/devdb.log")
export DATABASE_URL=$db_url
q() { psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
{
  echo "schedule: '@every 1h'"
  echo "feeds_file: urls.txt"
  sed -n '/^watchlist:/,/^http:/p' config/wirewatch.yaml | sed '$d'
  printf 'http:\n  listen: "127.0.0.1:%s"\n' "$port"
  # 64 polls at once over the farm's 4 loopback addresses.
  printf 'fetch:\n  allow_private_networks: true\n  concurrency: 64\n  per_host_concurrency: 16\n  per_host_interval: 0s\n'
  printf 'shutdown_timeout: %ss\n' "$SHUTDOWN_TIMEOUT"
} > "$work/wirewatch.yaml"
# Schema first, so that the run below starts polling at once.
"$work/wirewatch" migrate --config "$work/wirewatch.yaml" > "$work/migrate.log" 2>&1

"$work/wirewatch" run --config "$work/wirewatch.yaml" > "$work/run.log" 2>&1 &
daemon_pid=$!
alive() { kill -0 "$daemon_pid" 2>/dev/null; }
metric() { curl -s -m 5 "$base/metrics" | awk -v re="^$1" '$0 ~ re { s += $NF } END { print s + 0 }'; }
recorded=0
for _ in $(seq 300); do
  alive || fail "wirewatch run exited before any poll was recorded"
  recorded=$(q "SELECT count(*) FROM polls" 2>/dev/null || echo 0)
  [ "$recorded" -gt 0 ] && break
  sleep 0.1
done
[ "$recorded" -gt 0 ] || fail "no poll recorded within 30s"
# The first polls all started together and end together: the next ones are
# a second into their wait.
sleep 1
recorded=$(q "SELECT count(*) FROM polls")
in_flight=$(metric 'wirewatch_polls_in_flight ')
echo "== SIGTERM with $recorded polls recorded and $in_flight in flight"
t0=$(date +%s.%N)
kill -TERM "$daemon_pid"
deadline=$(( $(date +%s) + SHUTDOWN_TIMEOUT + 3 ))
while alive && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
alive && fail "wirewatch run still running $(( SHUTDOWN_TIMEOUT + 3 ))s after SIGTERM"
rc=0; wait "$daemon_pid" || rc=$?
daemon_pid=
stop_s=$(echo "$(date +%s.%N) - $t0" | bc)
printf 'wirewatch run exited with status %s %.2fs after SIGTERM (shutdown_timeout %ss)\n' "$rc" "$stop_s" "$SHUTDOWN_TIMEOUT"
[ "$rc" = 0 ] || fail "wirewatch run exited with status $rc"
[ "$in_flight" -gt 0 ] || echo "warning: no poll was in flight when SIGTERM was sent"

echo "== half-written feeds?"
# Feeds of the farm whose items include one in English that mentions a
# watch subject: those must have sightings once polled.
jq -r 'select(.lang == "en" and (.mentions | length) > 0) | .feed' "$work/farm/truth.jsonl" | sort -u > "$work/matching-feeds.txt"
checks=$(psql "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE matching (path text PRIMARY KEY);
\copy matching FROM '$work/matching-feeds.txt'
CREATE TEMP VIEW f AS
SELECT f.id, f.last_polled_at IS NOT NULL AS polled_at, f.etag <> '' AS etag, f.lease_owner,
       EXISTS (SELECT 1 FROM polls p WHERE p.feed_id = f.id) AS polled,
       (SELECT count(*) FROM polls p WHERE p.feed_id = f.id) AS polls,
       EXISTS (SELECT 1 FROM item_sightings s WHERE s.feed_id = f.id) AS sighted,
       EXISTS (SELECT 1 FROM items i WHERE i.feed_id = f.id) AS items,
       substring(f.url from '/(feeds/[^/]+)$') IN (SELECT path FROM matching) AS matching
FROM feeds f;
SELECT 'feeds', count(*) FROM f;
SELECT 'with a poll record', count(*) FROM f WHERE polled;
SELECT 'last_polled_at without a poll record', count(*) FROM f WHERE polled_at AND NOT polled;
SELECT 'poll record without last_polled_at', count(*) FROM f WHERE polled AND NOT polled_at;
SELECT 'etag without a poll record', count(*) FROM f WHERE etag AND NOT polled;
SELECT 'poll record without etag', count(*) FROM f WHERE polled AND NOT etag;
SELECT 'sightings without a poll record', count(*) FROM f WHERE sighted AND NOT polled;
SELECT 'items without a poll record', count(*) FROM f WHERE items AND NOT polled;
SELECT 'polled feeds with English mentions but no sighting', count(*) FROM f WHERE polled AND matching AND NOT sighted;
SELECT 'more than one poll record', count(*) FROM f WHERE polls > 1;
SELECT 'claimed', count(*) FROM f WHERE lease_owner <> '';
SQL
)
echo "$checks" | column -s'|' -t | sed 's/^/  /'
bad=$(echo "$checks" | awk -F'|' 'NR > 2 && $2 != 0' || true)
[ -z "$bad" ] || fail "half-written feeds or claims left: $(echo "$bad" | tr '\n' ';')"

echo "== wirewatch poll"
"$work/wirewatch" poll --config "$work/wirewatch.yaml" > "$work/poll.out" 2> "$work/poll.log" ||
  fail "wirewatch poll failed"
head -n 1 "$work/poll.out"
"$work/farmcheck" -truth "$work/farm/truth.jsonl"
dups=$(q "SELECT count(*) FROM (SELECT link FROM item_sightings WHERE link <> '' GROUP BY link HAVING count(DISTINCT item_id) > 1) d")
keys=$(q "SELECT count(*) - count(DISTINCT key) FROM items")
unpolled=$(q "SELECT count(*) FROM feeds f WHERE NOT EXISTS (SELECT 1 FROM polls p WHERE p.feed_id = f.id)")
claimed=$(q "SELECT count(*) FROM feeds WHERE lease_owner <> ''")
echo "links (not empty) seen under more than one item: $dups; duplicate item keys: $keys; feeds never polled: $unpolled; claimed: $claimed"
[ "$dups" = 0 ] && [ "$keys" = 0 ] || fail "an item was stored more than once"
[ "$unpolled" = 0 ] && [ "$claimed" = 0 ] || fail "feeds left unpolled or claimed after wirewatch poll"
ok=1
printf 'OK: stopped in %.2fs with %s polls in flight, nothing half-written; the poll after it stored the rest once\n' "$stop_s" "$in_flight"
