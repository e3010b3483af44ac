#!/usr/bin/env bash
# npm test: the whole suite on SQLite, then the same files on PostgreSQL when a server is
# reachable (TEST_DATABASE_URL). Under CI=true an unreachable PostgreSQL fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."

pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}

echo "== backend: SQLite =="
PREFERENCES_TEST_BACKEND=sqlite npx tap "$@" || exit 1

if node --import tsx scripts/pg-reachable.ts "$pg_url"; then
  echo "== backend: PostgreSQL ($pg_url) =="
  PREFERENCES_TEST_BACKEND=postgres TEST_DATABASE_URL=$pg_url npx tap --disable-coverage "$@" || exit 1
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable at $pg_url, and CI=true: failing instead of skipping." >&2
  exit 1
else
  echo "== backend: PostgreSQL SKIPPED: no server at $pg_url (set TEST_DATABASE_URL to run it) =="
fi
