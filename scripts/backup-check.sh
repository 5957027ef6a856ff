#!/usr/bin/env bash
# Back up and restore AI-SOC's data as docs/deploy.md ("Backup and restore")
# says, and check that the restored copy holds the same records.
#
#   bash scripts/backup-check.sh             # both: embedded data directory, then PostgreSQL
#   bash scripts/backup-check.sh embedded    # or postgres
#
# embedded: ingest the demo's fixture events into a fresh data directory with
#   the CLI, archive it with tar (the server stopped: here, none runs),
#   restore the archive into a new directory and compare the counts (events,
#   alerts, incidents, cases, dead letters); then ingest the same files into
#   the restored copy: it must take them as duplicates (it is a working
#   database that knows its events, not just readable files).
# postgres: the same against PostgreSQL (AISOC_TEST_DATABASE_URL, default
#   postgres://postgres@127.0.0.1:5432/test, trust auth) in a throwaway
#   database: pg_dump -Fc, pg_restore into a second throwaway database,
#   compare. Both databases are dropped at the end.
#
# Prints one line per check and "backup-check: N passed, 0 failed" at the end;
# exits non-zero on the first difference.
set -euo pipefail
cd "$(dirname "$0")/.."

MODES=${1:-embedded postgres}
FILES=(content/demo/cloudtrail.json content/demo/suricata-eve.json content/demo/wazuh-alerts.json)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/aisoc-backup-check.XXXXXX")
PASSED=0
DROP=()

cleanup() {
  for db in "${DROP[@]}"; do
    psql -q -d "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

aisoc() { node bin/aisoc.mjs --log-level warn "$@"; }
counts() { node --import tsx scripts/store-counts.ts "$@"; }

same() {
  local label=$1 before=$2 after=$3
  if [ "$before" != "$after" ]; then
    echo "FAIL $label: before $before, after restore $after" >&2
    exit 1
  fi
  if ! grep -q '"events":[1-9]' <<<"$before" || ! grep -q '"alerts":[1-9]' <<<"$before" \
    || ! grep -q '"incidents":[1-9]' <<<"$before"; then
    echo "FAIL $label: the source holds too little to compare: $before" >&2
    exit 1
  fi
  echo "ok   $label: $after"
  PASSED=$((PASSED + 1))
}

duplicates_only() {
  local label=$1 summary=$2
  if ! grep -q '"new_events":0,' <<<"$summary"; then
    echo "FAIL $label: ingesting the same files again stored new events: $summary" >&2
    exit 1
  fi
  echo "ok   $label"
  PASSED=$((PASSED + 1))
}

embedded() {
  local src=$WORK/data dst=$WORK/restored archive=$WORK/aisoc-data.tar.gz
  aisoc --data-dir "$src" ingest "${FILES[@]}" --json >/dev/null
  local before after
  before=$(counts --data-dir "$src")
  # Backup: the whole data directory, owners and modes kept (the server stopped).
  tar -C "$src" -cpzf "$archive" .
  # Restore into a fresh directory, private to its owner as AI-SOC makes it.
  mkdir -m 0700 "$dst"
  tar -C "$dst" -xpzf "$archive"
  after=$(counts --data-dir "$dst")
  same "embedded data directory restored from tar" "$before" "$after"
  duplicates_only "embedded: the restored copy knows its events" \
    "$(aisoc --data-dir "$dst" ingest "${FILES[@]}" --json)"
}

postgres() {
  ADMIN_URL=${AISOC_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
  for tool in psql pg_dump pg_restore; do
    if ! command -v "$tool" >/dev/null; then
      echo "FAIL postgres: $tool is not installed (apt-get install postgresql-client)" >&2
      exit 1
    fi
  done
  if ! psql -q -d "$ADMIN_URL" -c 'SELECT 1' >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
      echo "FAIL postgres: $ADMIN_URL is unreachable" >&2
      exit 1
    fi
    echo "skip postgres: $ADMIN_URL is unreachable"
    return
  fi
  local suffix="$$_$RANDOM" src_db dst_db dump=$WORK/aisoc.dump
  src_db="aisoc_backup_src_$suffix"
  dst_db="aisoc_backup_dst_$suffix"
  DROP+=("$src_db" "$dst_db")
  psql -q -d "$ADMIN_URL" -c "CREATE DATABASE $src_db" -c "CREATE DATABASE $dst_db" >/dev/null
  local src_url=${ADMIN_URL%/*}/$src_db dst_url=${ADMIN_URL%/*}/$dst_db
  AISOC_DATABASE_URL=$src_url aisoc --data-dir "$WORK/pg-src" ingest "${FILES[@]}" --json >/dev/null
  local before after
  before=$(AISOC_DATABASE_URL=$src_url counts --data-dir "$WORK/pg-src")
  # Backup: the custom format (compressed, restorable in parallel and selectively).
  pg_dump --format=custom --file="$dump" "$src_url"
  # Restore into an empty database; --no-owner: the restoring role owns what it creates.
  pg_restore --no-owner --no-acl --exit-on-error --dbname="$dst_url" "$dump"
  after=$(AISOC_DATABASE_URL=$dst_url counts --data-dir "$WORK/pg-dst")
  same "PostgreSQL restored from pg_dump" "$before" "$after"
  duplicates_only "PostgreSQL: the restored copy knows its events" \
    "$(AISOC_DATABASE_URL=$dst_url aisoc --data-dir "$WORK/pg-dst" ingest "${FILES[@]}" --json)"
}

for mode in $MODES; do
  case $mode in
    embedded) embedded ;;
    postgres) postgres ;;
    *)
      echo "unknown mode $mode (embedded or postgres)" >&2
      exit 2
      ;;
  esac
done
echo "backup-check: $PASSED passed, 0 failed"
