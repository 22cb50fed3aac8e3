#!/usr/bin/env bash
# Installs what is missing, builds, starts the real servers the tests use (an Apache Kafka broker
# and a PostgreSQL server, both on 127.0.0.1, both stopped again on exit), and runs the whole
# test suite with ctest. Exits non-zero on any failure.
# Tests read real Binance data from ../shared/data (or $SF_SHARED_DATA) and skip with a message
# where it is absent. SF_TEST_NO_SERVERS=1 skips starting the servers (their tests then skip).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/install-test-python.sh  # ccxt, the independent client the exchange-sim tests use
bash scripts/build.sh

if [ "${SF_TEST_NO_SERVERS:-0}" != "1" ]; then
  # Absolute paths: the trap runs after `cd build` below (relative ones left both servers running).
  root="$PWD"
  cleanup() {
    bash "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
    [ -x "$root/scripts/postgres.sh" ] && bash "$root/scripts/postgres.sh" stop >/dev/null 2>&1 || true
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
  fi
  echo "test servers: kafka $SF_TEST_KAFKA_BOOTSTRAP${SF_TEST_POSTGRES_DSN:+, postgres at ${SF_TEST_POSTGRES_DSN##*@}}" >&2
fi

cd build
ctest --output-on-failure -j "${SF_TEST_JOBS:-2}" --timeout 600
