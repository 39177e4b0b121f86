-- One pgbench transaction: :n two-leg transfers written as the ledger writes a group-commit batch,
-- with none of the ledger's work (no balance check, no hashing, no JSON, no Go): lock the touched
-- accounts in id order, insert :n entries and 2·:n postings, update the accounts, commit. The
-- statements go out as one pipeline (one round trip and one flush per transaction); values come
-- from the server. Transfer g moves between accounts src(g) and dst(g), pseudo-random from :r and
-- always distinct. ENTRIES and POSTINGS are replaced by table names (ceiling.sh).
\set r random(1, 1000000000)
\startpipeline
BEGIN;
SELECT count(*) FROM (SELECT 1 FROM ledger_accounts WHERE id IN (
  SELECT c.id FROM ceiling_accounts c, generate_series(1, :n) g
  WHERE c.i IN (1 + abs(hashint4(:r + g)) % :accounts,
                1 + (abs(hashint4(:r + g)) % :accounts + 1 + abs(hashint4(:r - g)) % (:accounts - 1)) % :accounts))
  ORDER BY id FOR UPDATE) locked;
WITH t AS (SELECT nextval('ceiling_seq') AS k, 1 + abs(hashint4(:r + g)) % :accounts AS s,
             1 + (abs(hashint4(:r + g)) % :accounts + 1 + abs(hashint4(:r - g)) % (:accounts - 1)) % :accounts AS d
           FROM generate_series(1, :n) g),
e AS (INSERT INTO ENTRIES (id, idempotency_key, request_hash, created_at, hash)
      SELECT 'je_ceiling_' || k, 'ceiling-' || k, repeat('0', 64), now(), '\x00'::bytea FROM t RETURNING id)
INSERT INTO POSTINGS (entry_id, account_id, seq, amount, balance_before, balance_after, direction, created_at, prev_hash)
SELECT 'je_ceiling_' || t.k, c.id, nextval('ceiling_seq'), 5, 100, 95, 'debit', now(), '\x00'::bytea
FROM t JOIN ceiling_accounts c ON c.i IN (t.s, t.d);
UPDATE ledger_accounts SET debits_posted = debits_posted + 5, credits_posted = credits_posted + 5,
  seq = seq + 1, head = '\x01'::bytea
WHERE id IN (SELECT c.id FROM ceiling_accounts c, generate_series(1, :n) g
  WHERE c.i IN (1 + abs(hashint4(:r + g)) % :accounts,
                1 + (abs(hashint4(:r + g)) % :accounts + 1 + abs(hashint4(:r - g)) % (:accounts - 1)) % :accounts));
COMMIT;
\endpipeline
