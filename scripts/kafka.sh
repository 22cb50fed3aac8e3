#!/usr/bin/env bash
# Runs a real, single-node Apache Kafka broker (KRaft, no ZooKeeper) on 127.0.0.1 for tests.
#
#   scripts/kafka.sh install          fetch the broker + tools jars from Maven Central (cached)
#   scripts/kafka.sh start            format a fresh log dir and start the broker; prints the
#                                     PLAINTEXT bootstrap address (and nothing else) on stdout
#   scripts/kafka.sh stop             stop the broker and delete its data (idempotent)
#   scripts/kafka.sh status           exit 0 and print the address if running, else exit 1
#   scripts/kafka.sh restart-broker   SIGKILL the broker and start it again on the same data/ports
#   scripts/kafka.sh perf-test ARGS   run org.apache.kafka.tools.ProducerPerformance with ARGS
#   scripts/kafka.sh env              print export lines for the addresses, SCRAM credentials
#                                     and the test CA certificate
#   scripts/kafka.sh add-scram-user NAME PASSWORD   SCRAM-SHA-512 credentials on the running broker
#
# Listeners: PLAINTEXT, SASL_PLAINTEXT (SCRAM-SHA-512) and SASL_SSL (SCRAM-SHA-512 over TLS, with a
# throw-away CA and broker certificate for 127.0.0.1/localhost generated once per state dir by
# `start` and kept by `restart-broker`; clients trust <state dir>/tls/ca.pem).
#
# Kafka is pinned to 3.9.x: Debian 12's librdkafka 2.0.2 turns idempotence off against 4.x brokers
# (librdkafka issue #4948, fixed in librdkafka 2.8).
#
# Environment (all optional):
#   SF_KAFKA_VERSION          Kafka version (default 3.9.2)
#   SF_KAFKA_HOME             jar cache (default ~/.cache/streamforge/kafka-<version>; jars in libs/)
#   SF_KAFKA_PORT             PLAINTEXT listener port (default 19092)
#   SF_KAFKA_SASL_PORT        SASL_PLAINTEXT (SCRAM-SHA-512) listener port (default 19093)
#   SF_KAFKA_SSL_PORT         SASL_SSL (SCRAM-SHA-512 over TLS) listener port (default 19095)
#   SF_KAFKA_CONTROLLER_PORT  KRaft controller listener port (default 19094)
#   SF_KAFKA_STATE_DIR        pid, config, data and logs (default /tmp/streamforge-kafka-<port>)
#   SF_KAFKA_HEAP_OPTS        broker JVM heap (default "-Xms64m -Xmx512m")
#   SF_KAFKA_TOOLS_HEAP_OPTS  perf-test JVM heap (default "-Xmx256m")
#   SF_KAFKA_START_TIMEOUT    seconds to wait for the broker to be ready (default 90)
#   SF_KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
# Progress messages go to stderr; the broker logs to <state dir>/logs/server.log.
set -euo pipefail

LOG_NAME="kafka.sh"
# shellcheck source-path=SCRIPTDIR source=lib/server.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/server.sh"

KAFKA_VERSION="${SF_KAFKA_VERSION:-3.9.2}"
SLF4J_VERSION="1.7.36"     # what Kafka 3.9 ships with
RELOAD4J_VERSION="1.2.25"  # idem
MVN_DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

KAFKA_HOME="${SF_KAFKA_HOME:-${HOME:-/tmp}/.cache/streamforge/kafka-${KAFKA_VERSION}}"
LIBS="$KAFKA_HOME/libs"
PORT="${SF_KAFKA_PORT:-19092}"
SASL_PORT="${SF_KAFKA_SASL_PORT:-19093}"
CONTROLLER_PORT="${SF_KAFKA_CONTROLLER_PORT:-19094}"
SSL_PORT="${SF_KAFKA_SSL_PORT:-19095}"
HOST="127.0.0.1"
STATE_DIR="${SF_KAFKA_STATE_DIR:-/tmp/streamforge-kafka-${PORT}}"
HEAP_OPTS="${SF_KAFKA_HEAP_OPTS:--Xms64m -Xmx512m}"
TOOLS_HEAP_OPTS="${SF_KAFKA_TOOLS_HEAP_OPTS:--Xmx256m}"
START_TIMEOUT="${SF_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${SF_KAFKA_STOP_TIMEOUT:-30}"
SCRAM_USER="streamforge"
SCRAM_PASSWORD="streamforge-secret"

ADDR="$HOST:$PORT"
SASL_ADDR="$HOST:$SASL_PORT"
SSL_ADDR="$HOST:$SSL_PORT"
TLS_DIR="$STATE_DIR/tls"
CA_FILE="$TLS_DIR/ca.pem"              # what clients trust
KEYSTORE="$TLS_DIR/broker.p12"         # broker key + certificate chain
TRUSTSTORE="$TLS_DIR/truststore.p12"   # the CA, for the broker
STORE_PASSWORD="streamforge-test-store"
PID_FILE="$STATE_DIR/broker.pid"
MARKER="$STATE_DIR/.streamforge-kafka"   # proves the dir is ours before rm -rf
INSTALLED_MARKER="$LIBS/.installed-$KAFKA_VERSION"

apt_install() {
  log "installing Debian packages: $*"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >&2
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# ---------------------------------------------------------------------------------------------
# install

cmd_install() {
  if [ -f "$INSTALLED_MARKER" ] && [ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]; then
    log "Kafka $KAFKA_VERSION already installed in $LIBS"
    return 0
  fi
  command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || apt_install openjdk-17-jre-headless
  command -v mvn >/dev/null 2>&1 || apt_install maven
  command -v kcat >/dev/null 2>&1 || apt_install kcat || log "warning: kcat not installed; readiness check falls back to port polling"

  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS"
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/streamforge-kafka-install.XXXXXX")"
  CLEANUP_DIR="$work"
  trap 'rm -rf "$CLEANUP_DIR"' EXIT
  cat >"$work/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>streamforge</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <!-- ZooKeeper's logback binding would fight reload4j; KRaft mode needs neither -->
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
      <exclusions>
        <exclusion><groupId>ch.qos.logback</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>$RELOAD4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
  mvn -B -q -f "$work/pom.xml" \
    -Dmaven.wagon.http.retryHandler.count=3 \
    "$MVN_DEP_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$work/libs" >&2 \
    || die "mvn could not fetch Kafka $KAFKA_VERSION (is Maven Central reachable?)"
  [ -f "$work/libs/kafka_2.13-$KAFKA_VERSION.jar" ] || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
  [ -f "$work/libs/kafka-tools-$KAFKA_VERSION.jar" ] || die "kafka-tools-$KAFKA_VERSION.jar missing after mvn"

  mkdir -p "$KAFKA_HOME"
  rm -rf "$LIBS"
  mv "$work/libs" "$LIBS"
  touch "$INSTALLED_MARKER"
  rm -rf "$work"
  log "installed $(find "$LIBS" -name '*.jar' | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) in $LIBS"
}

# ---------------------------------------------------------------------------------------------
# broker process helpers

broker_pid() {  # prints the pid if our broker (kafka.Kafka on our config) is alive, else returns 1
  pid_from_file "$PID_FILE" "kafka.Kafka $STATE_DIR/server.properties"
}

broker_alive() { broker_pid >/dev/null; }

write_configs() {
  mkdir -p "$STATE_DIR/data" "$STATE_DIR/logs"
  touch "$MARKER"
  cat >"$STATE_DIR/server.properties" <<EOF
# Generated by scripts/kafka.sh: single-node KRaft broker+controller for StreamForge tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,SASL_SSL://$HOST:$SSL_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT,SASL_PLAINTEXT://$HOST:$SASL_PORT,SASL_SSL://$HOST:$SSL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$KEYSTORE
listener.name.sasl_ssl.ssl.keystore.password=$STORE_PASSWORD
listener.name.sasl_ssl.ssl.key.password=$STORE_PASSWORD
listener.name.sasl_ssl.ssl.truststore.type=PKCS12
listener.name.sasl_ssl.ssl.truststore.location=$TRUSTSTORE
listener.name.sasl_ssl.ssl.truststore.password=$STORE_PASSWORD
listener.name.sasl_ssl.ssl.client.auth=none

log.dirs=$STATE_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# after a SIGKILL (restart-broker) the controller refuses to re-register node 1 until the old
# registration's session expires: keep that short (default 9 s)
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500

# small footprint: the machine is shared
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
log.segment.bytes=67108864
log.retention.hours=24
EOF
  cat >"$STATE_DIR/log4j.properties" <<'EOF'
# Generated by scripts/kafka.sh: the broker logs to ${kafka.logs.dir}/server.log (bounded size).
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel$=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
}

# A throw-away CA and a broker certificate for 127.0.0.1/localhost signed by it, generated once per
# state dir (restart-broker keeps them; stop deletes them with the state dir).
generate_certs() {
  [ -s "$CA_FILE" ] && [ -s "$KEYSTORE" ] && [ -s "$TRUSTSTORE" ] && return 0
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  local keytool
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/keytool" ]; then keytool="$JAVA_HOME/bin/keytool"; else keytool=keytool; fi
  command -v "$keytool" >/dev/null 2>&1 || die "keytool not found (it comes with the JDK/JRE)"
  log "generating a test CA and broker certificate in $TLS_DIR"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
      -subj "/CN=StreamForge test CA" -keyout ca-key.pem -out ca.pem \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
      -keyout broker-key.pem -out broker.csr
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >broker-ext.cnf
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 \
      -days 825 -extfile broker-ext.cnf -out broker.pem
    openssl pkcs12 -export -name broker -in broker.pem -inkey broker-key.pem -certfile ca.pem \
      -passout "pass:$STORE_PASSWORD" -out broker.p12
    "$keytool" -importcert -noprompt -alias streamforge-test-ca -file ca.pem \
      -keystore truststore.p12 -storetype PKCS12 -storepass "$STORE_PASSWORD"
  ) >"$TLS_DIR/generate.log" 2>&1 || { cat "$TLS_DIR/generate.log" >&2; die "could not generate the test certificates"; }
  rm -f "$TLS_DIR/broker.csr" "$TLS_DIR/broker-ext.cnf" "$TLS_DIR/generate.log"
}

tools_log4j() {  # tools log warnings to stderr; stdout stays theirs
  local f="$KAFKA_HOME/tools-log4j.properties"
  if [ ! -f "$f" ]; then
    mkdir -p "$KAFKA_HOME"
    cat >"$f.tmp.$$" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
    mv "$f.tmp.$$" "$f"
  fi
  echo "$f"
}

new_cluster_id() {  # Kafka Uuid: 16 random bytes, base64url without padding, not starting with '-'
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [ "${id:0:1}" != "-" ] && [ "${#id}" -eq 22 ] && break
  done
  echo "$id"
}

format_storage() {
  local cluster_id
  cluster_id="$(new_cluster_id)"
  log "formatting KRaft storage in $STATE_DIR/data (cluster id $cluster_id)"
  "$(java_bin)" -Xmx256m -cp "$LIBS/*" -Dlog4j.configuration="file:$(tools_log4j)" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE_DIR/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]" >&2 \
    || die "kafka.tools.StorageTool format failed"
}

launch_broker() {  # the pid file holds the JVM's pid; its stdout/stderr go to logs/broker.out
  # shellcheck disable=SC2086  # HEAP_OPTS is several options
  launch_detached broker "$PID_FILE" "$STATE_DIR/logs/broker.out" \
    "$(java_bin)" $HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dkafka.logs.dir="$STATE_DIR/logs" \
    -Dlog4j.configuration="file:$STATE_DIR/log4j.properties" \
    -cp "$LIBS/*" kafka.Kafka "$STATE_DIR/server.properties"
}

broker_ready() {
  port_open "$PORT" && port_open "$SASL_PORT" && port_open "$SSL_PORT" || return 1
  if command -v kcat >/dev/null 2>&1; then
    kcat -b "$ADDR" -L -m 3 2>/dev/null | grep -q "broker 1 at $ADDR" || return 1
    kcat -b "$SASL_ADDR" -L -m 3 -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-512 \
      -X sasl.username="$SCRAM_USER" -X sasl.password="$SCRAM_PASSWORD" 2>/dev/null \
      | grep -q "broker 1 at" || return 1
    kcat -b "$SSL_ADDR" -L -m 3 -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 \
      -X sasl.username="$SCRAM_USER" -X sasl.password="$SCRAM_PASSWORD" \
      -X ssl.ca.location="$CA_FILE" 2>/dev/null \
      | grep -q "broker 1 at" || return 1
  fi
}

wait_ready() {
  local start=$SECONDS rc=0
  wait_until "$START_TIMEOUT" 0.5 broker_alive broker_ready || rc=$?
  if [ "$rc" -eq 1 ]; then
    log "broker exited during startup; last lines of its logs:"
    tail -n 30 "$STATE_DIR/logs/broker.out" "$STATE_DIR/logs/server.log" >&2 2>/dev/null || true
    exit 1
  elif [ "$rc" -ne 0 ]; then
    log "broker not ready after ${START_TIMEOUT}s; last lines of $STATE_DIR/logs/server.log:"
    tail -n 30 "$STATE_DIR/logs/server.log" >&2 2>/dev/null || true
    kill_broker KILL
    exit 1
  fi
  log "broker ready at $ADDR (SASL/SCRAM at $SASL_ADDR, SASL/SCRAM over TLS at $SSL_ADDR) after $((SECONDS - start))s; logs in $STATE_DIR/logs"
}

kill_broker() {  # kill_broker TERM|KILL: signal the broker and wait for it to exit
  local pid
  pid="$(broker_pid)" || return 0
  [ "$1" = TERM ] || log "killing broker (pid $pid) with SIGKILL"
  kill_and_wait broker "$1" "$STOP_TIMEOUT" "$pid"
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
  with_lock kafka "$PORT" 300   # serialize start/stop/restart on the same port
  if broker_pid >/dev/null; then
    log "broker already running"
    grep -q "SASL_SSL://$HOST:$SSL_PORT" "$STATE_DIR/server.properties" 2>/dev/null \
      || log "warning: that broker was started by an older kafka.sh and has no SASL_SSL listener; 'stop' it first"
    echo "$ADDR"
    return 0
  fi
  cmd_install
  remove_state_dir "$STATE_DIR" "$MARKER"   # stale leftovers of a crashed run
  require_ports_free "$PORT" "$SASL_PORT" "$SSL_PORT" "$CONTROLLER_PORT"
  local t0=$SECONDS
  write_configs
  generate_certs
  format_storage
  log "starting Kafka $KAFKA_VERSION broker (heap $HEAP_OPTS)"
  launch_broker
  wait_ready
  log "start took $((SECONDS - t0))s"
  echo "$ADDR"
}

cmd_stop() {
  with_lock kafka "$PORT" 300
  kill_broker TERM
  remove_state_dir "$STATE_DIR" "$MARKER"
  log "stopped"
}

cmd_status() { print_if_running broker_alive "$ADDR"; }

cmd_restart_broker() {
  with_lock kafka "$PORT" 300
  [ -f "$MARKER" ] && [ -f "$STATE_DIR/server.properties" ] \
    || die "no broker state in $STATE_DIR; run 'scripts/kafka.sh start' first"
  kill_broker KILL
  generate_certs   # no-op: the certificates from start stay
  log "restarting broker on the same data dir"
  launch_broker
  wait_ready
  echo "$ADDR"
}

cmd_perf_test() {
  [ -f "$INSTALLED_MARKER" ] || cmd_install
  exec "$(java_bin)" $TOOLS_HEAP_OPTS -Dlog4j.configuration="file:$(tools_log4j)" \
    -cp "$LIBS/*" org.apache.kafka.tools.ProducerPerformance "$@"
}

cmd_add_scram_user() {  # tests that need credentials of their own (tests/services/queue_manager)
  [ $# -eq 2 ] || die "usage: kafka.sh add-scram-user NAME PASSWORD"
  [ -f "$INSTALLED_MARKER" ] || cmd_install
  "$(java_bin)" $TOOLS_HEAP_OPTS -Dlog4j.configuration="file:$(tools_log4j)" -cp "$LIBS/*" \
    kafka.admin.ConfigCommand --bootstrap-server "$ADDR" --alter --entity-type users \
    --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$2]" >&2 \
    || die "kafka.admin.ConfigCommand could not add SCRAM user $1"
}

cmd_env() {
  cat <<EOF
export SF_KAFKA_BOOTSTRAP='$ADDR'
export SF_KAFKA_SASL_BOOTSTRAP='$SASL_ADDR'
export SF_KAFKA_SCRAM_USER='$SCRAM_USER'
export SF_KAFKA_SCRAM_PASSWORD='$SCRAM_PASSWORD'
export SF_KAFKA_SSL_BOOTSTRAP='$SSL_ADDR'
export SF_KAFKA_CA_FILE='$CA_FILE'
EOF
}

usage() { usage_from_header 14; }

[ $# -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart-broker) cmd_restart_broker ;;
  perf-test) cmd_perf_test "$@" ;;
  env) cmd_env ;;
  add-scram-user) cmd_add_scram_user "$@" ;;
  -h|--help|help) usage ;;
  *) log "unknown command: $cmd"; usage ;;
esac
