#!/usr/bin/env bash
# Installs what is missing, builds, starts the real servers the tests use (an Apache Kafka broker,
# a PostgreSQL server and a SeaweedFS S3 server, all on 127.0.0.1, all stopped again on exit), and
# runs the whole test suite with ctest. Exits non-zero on any failure.
# Tests read real Binance data from ../shared/data (or $SF_SHARED_DATA) and skip with a message
# where it is absent. SF_TEST_NO_SERVERS=1 skips starting the servers (their tests then skip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --test
bash scripts/install-test-python.sh  # ccxt, the independent client the exchange-sim tests use
bash scripts/build.sh

if [ "${SF_TEST_NO_SERVERS:-0}" != "1" ]; then
  # Absolute paths: the trap runs after `cd build` below (relative ones left both servers running).
  root="$PWD"
  cleanup() {
    bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
    [ -x "$root/scripts/postgres.sh" ] && bash "$root/scripts/postgres.sh" stop >/dev/null 2>&1 || true
    bash "$root/scripts/s3.sh" stop >/dev/null 2>&1 || true
  }
  trap cleanup EXIT
  SF_TEST_KAFKA_BOOTSTRAP=$(bash scripts/kafka.sh start)
  export SF_TEST_KAFKA_BOOTSTRAP
  eval "$(bash scripts/kafka.sh env)"
  export SF_TEST_KAFKA_SASL_BOOTSTRAP="$SF_KAFKA_SASL_BOOTSTRAP"
  export SF_TEST_KAFKA_USER="$SF_KAFKA_SCRAM_USER" SF_TEST_KAFKA_PASSWORD="$SF_KAFKA_SCRAM_PASSWORD"
  export SF_TEST_KAFKA_SSL_BOOTSTRAP="$SF_KAFKA_SSL_BOOTSTRAP"
  export SF_TEST_KAFKA_CA_FILE="$SF_KAFKA_CA_FILE"
  if [ -x scripts/postgres.sh ]; then
    SF_TEST_POSTGRES_DSN=$(bash scripts/postgres.sh start)
    export SF_TEST_POSTGRES_DSN
    # Suites that can run without the servers by hand (python/tests) must not skip here.
    export SF_REQUIRE_SERVERS=1
  fi
  # S3 (SeaweedFS, tests/ml/model_store S3RealServer.*). Its first install builds it from its Go
  # module (~8 min, then cached in ~/.cache/streamforge); an install or start failure fails the
  # run. SF_S3_INSTALL=0 skips it when it is not installed yet (those tests then skip).
  if [ "${SF_S3_INSTALL:-1}" != "0" ] || bash scripts/s3.sh installed; then
    SF_TEST_S3_ENDPOINT=$(bash scripts/s3.sh start)
    eval "$(bash scripts/s3.sh env)"
    export SF_TEST_S3_ENDPOINT SF_TEST_S3_ACCESS_KEY SF_TEST_S3_SECRET_KEY
  else
    echo "scripts/test.sh: SF_S3_INSTALL=0 and SeaweedFS not installed; S3RealServer tests skip" >&2
  fi
  echo "test servers: kafka $SF_TEST_KAFKA_BOOTSTRAP${SF_TEST_POSTGRES_DSN:+, postgres at ${SF_TEST_POSTGRES_DSN##*@}}${SF_TEST_S3_ENDPOINT:+, s3 at $SF_TEST_S3_ENDPOINT}" >&2
fi

cd build
# The console log is kept for check-skips.sh: a test that skipped because CI lacked something it
# should provide (a server, a venv, data, a tool) fails the run (tests/skips.allowed lists the
# legitimate skips and why).
set +e
ctest --output-on-failure -j "${SF_TEST_JOBS:-2}" --timeout 600 2>&1 | tee ctest.log
rc=${PIPESTATUS[0]}
set -e
skips=0
if [[ "${SF_TEST_NO_SERVERS:-0}" != "1" ]]; then
  allowed=../tests/skips.allowed
  if [[ -z "${SF_TEST_S3_ENDPOINT:-}" ]]; then  # SF_S3_INSTALL=0 said so above
    allowed=skips.allowed.local
    { cat ../tests/skips.allowed; echo 'S3RealServer\..*'; } > "$allowed"
  fi
  bash ../scripts/check-skips.sh ctest.log "$allowed" || skips=1
fi
if ((rc != 0)); then exit "$rc"; fi
exit "$skips"
