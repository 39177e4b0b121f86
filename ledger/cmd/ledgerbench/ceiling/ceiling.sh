#!/usr/bin/env bash
# ceiling.sh measures what PostgreSQL itself allows for group-committed transfers on this machine:
# pgbench's C client writes exactly the rows ledgerbench's transfers write (an entry and two
# postings each, into the ledger's own tables with all their indexes, plus the accounts' update),
# :n transfers per transaction, with none of the ledger's work (no balance checks, no hashes, no
# JSON, no Go). A second run writes to a minimal schema (one index per table: entries by id,
# postings by account and sequence) to show what a leaner layout could reach.
#
# Usage: ledger/cmd/ledgerbench/ceiling/ceiling.sh [ADMIN_DSN] [SECONDS]
#   ADMIN_DSN: a PostgreSQL server the script may create and drop a database on
#              (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)
#   SECONDS:   length of each pgbench run (default 10)
# Each transaction goes out as one pipeline: one round trip and one flush. It prints transfers/s
# (pgbench's TPS times the batch size) for 20 and 200 transfers per transaction on one and two
# connections: the ledger's group committer is one connection, and 20 workers make batches of at
# most 20. Run it from any directory; it needs go, psql and pgbench (PostgreSQL 14 or later).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../../../.."
admin="${1:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
secs="${2:-10}"

pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -1)
[ -x "$pgbench" ] || { echo "ceiling.sh: pgbench not found" >&2; exit 1; }
db="settle_ceiling_$$"
dsn="${admin%%\?*}"
dsn="${dsn%/*}/$db?sslmode=disable"
psql "$admin" -qc "CREATE DATABASE $db"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

# The ledger's schema and 50 funded accounts, made by the ledger itself.
out=$(go run ./ledger/cmd/ledgerbench -dsn "$dsn" -accounts 50 -workers 1 -warmup 0 -duration 100ms 2>&1) ||
  { echo "$out" >&2; exit 1; }
psql "$dsn" -q <<'SQL'
CREATE TABLE ceiling_accounts AS
  SELECT row_number() OVER (ORDER BY id)::int AS i, id FROM ledger_accounts WHERE code LIKE 'bench:%:acct:%';
CREATE UNIQUE INDEX ON ceiling_accounts (i);
CREATE SEQUENCE ceiling_seq START 1000000000;
CREATE TABLE ceiling_entries (id TEXT PRIMARY KEY, idempotency_key TEXT, request_hash TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL, hash BYTEA);
CREATE TABLE ceiling_postings (entry_id TEXT NOT NULL, account_id TEXT NOT NULL, seq BIGINT NOT NULL,
  direction TEXT NOT NULL, amount NUMERIC(78,0) NOT NULL, balance_before NUMERIC(78,0) NOT NULL,
  balance_after NUMERIC(78,0) NOT NULL, created_at TIMESTAMPTZ NOT NULL, prev_hash BYTEA,
  PRIMARY KEY (account_id, seq));
SQL

printf '%-8s %-6s %-7s %s\n' schema batch clients transfers/s
for schema in ledger minimal; do
  if [ "$schema" = ledger ]; then e=ledger_entries p=ledger_postings; else e=ceiling_entries p=ceiling_postings; fi
  sed "s/ENTRIES/$e/; s/POSTINGS/$p/" "$here/transfers.sql" >"$tmp/$schema.sql"
  for run in "20 1" "20 2" "200 1" "200 2"; do
    read -r n c <<<"$run"
    out=$("$pgbench" -n -M extended -f "$tmp/$schema.sql" -D n="$n" -D accounts=50 \
      -c "$c" -j "$((c < 2 ? c : 2))" -T "$secs" "$dsn" 2>&1) || { echo "$out" >&2; exit 1; }
    printf '%s\n' "$out" | awk -v s="$schema" -v n="$n" -v c="$c" \
      '/^tps/ {printf "%-8s %-6s %-7s %.0f\n", s, n, c, $3 * n; found = 1} END {exit !found}'
  done
done

# The runs above must have written what they claim: every entry has its two postings.
psql "$dsn" -Atq -v ON_ERROR_STOP=1 <<'SQL' | { read -r bad; [ "$bad" = 0 ] || { echo "ceiling.sh: $bad entries without exactly two postings" >&2; exit 1; }; }
SELECT (SELECT count(*) FROM (SELECT e.id FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id
          WHERE e.id LIKE 'je_ceiling_%' GROUP BY e.id HAVING count(p.entry_id) <> 2) x)
     + (SELECT count(*) FROM (SELECT e.id FROM ceiling_entries e LEFT JOIN ceiling_postings p ON p.entry_id = e.id
          GROUP BY e.id HAVING count(p.entry_id) <> 2) x)
     + (SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM ceiling_entries);
SQL
