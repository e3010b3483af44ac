#!/usr/bin/env bash
# npm run test:stress: the long-running tests, kept out of npm test.
#   SQLite:     the big fuzz run (FUZZ_RUNS, default 5000), crash safety (SIGKILL rounds),
#               slow clients against the server's real timeouts.
#   PostgreSQL: the big fuzz run, crash safety, and the database outage test. Skipped, with a message,
#               when no server is reachable (TEST_DATABASE_URL), except under CI=true.
set -uo pipefail
cd "$(dirname "$0")/.."

pg_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export FUZZ_RUNS=${FUZZ_RUNS:-5000}
started=$SECONDS

echo "== stress: SQLite (fuzz: $FUZZ_RUNS requests; crash safety; slow clients) =="
PREFERENCES_TEST_BACKEND=sqlite npx tap --disable-coverage --jobs=2 --timeout=600 \
  test/fuzz.test.ts test/stress/crash.test.ts test/stress/slowloris.test.ts "$@" || exit 1

if node --import tsx scripts/pg-reachable.ts "$pg_url"; then
  echo "== stress: PostgreSQL ($pg_url) (fuzz: $FUZZ_RUNS requests; crash safety; outage) =="
  PREFERENCES_TEST_BACKEND=postgres TEST_DATABASE_URL=$pg_url npx tap --disable-coverage --jobs=1 --timeout=600 \
    test/fuzz.test.ts test/stress/crash.test.ts test/stress/outage.test.ts "$@" || exit 1
elif [ "${CI:-}" = "true" ]; then
  echo "PostgreSQL is not reachable at $pg_url, and CI=true: failing instead of skipping." >&2
  exit 1
else
  echo "== stress: PostgreSQL SKIPPED: no server at $pg_url (set TEST_DATABASE_URL to run it) =="
  # Says so itself, and is counted as skipped.
  TEST_DATABASE_URL=$pg_url npx tap --disable-coverage test/stress/outage.test.ts || exit 1
fi
echo "== stress: done in $((SECONDS - started)) s =="
