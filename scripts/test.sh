#!/usr/bin/env bash
# npm test: the whole suite on SQLite, then the same files on PostgreSQL when a server is
# reachable (TEST_DATABASE_URL). Under CI=true an unreachable PostgreSQL fails the run.
# Coverage is checked once, on what both runs covered together: each backend has code only it
# runs, so either run alone would judge the other's code untested.
set -uo pipefail
cd "$(dirname "$0")/.."

pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
# Outside the checkout, and gone when this script ends however it ends.
sqlite_coverage=$(mktemp -d) || exit 1
trap 'rm -rf "$sqlite_coverage"' EXIT

echo "== backend: SQLite =="
PREFERENCES_TEST_BACKEND=sqlite npx tap --allow-incomplete-coverage --coverage-report=none "$@" || exit 1
# The next run clears .tap/coverage first: keep this one's aside.
mv .tap/coverage/* "$sqlite_coverage"/ || exit 1

if node --import tsx scripts/pg-reachable.ts "$pg_url"; then
  echo "== backend: PostgreSQL ($pg_url) =="
  PREFERENCES_TEST_BACKEND=postgres TEST_DATABASE_URL=$pg_url npx tap --allow-incomplete-coverage --coverage-report=none "$@" || exit 1
  cp "$sqlite_coverage"/* .tap/coverage/ || exit 1
  echo "== coverage: both backends =="
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable at $pg_url, and CI=true: failing instead of skipping." >&2
  exit 1
else
  echo "== backend: PostgreSQL SKIPPED: no server at $pg_url (set TEST_DATABASE_URL to run it) =="
  cp "$sqlite_coverage"/* .tap/coverage/ || exit 1
  echo "== coverage: SQLite only (the PostgreSQL code is not run, so the thresholds are not checked) =="
  npx tap report --allow-incomplete-coverage text-summary
  exit
fi
npx tap report text-summary
