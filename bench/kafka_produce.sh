#!/usr/bin/env bash
# Our producer vs Kafka's own kafka-producer-perf-test, in one run on the same broker:
# the same record count, record size and producer settings (acks=all, idempotence, lz4,
# linger.ms=5, batch.size=1 MiB). Prints both rates and the ratio.
#   bash bench/kafka_produce.sh [RECORDS]       (default 1,000,000; starts the broker if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
bash scripts/build.sh bench_kafka_produce >/dev/null
bootstrap=$(bash scripts/kafka.sh start)
suffix=$(date +%s)

ours=$(build/bench/bench_kafka_produce "$bootstrap" "bench-ours-$suffix" "$records")
echo "ours:  $ours"
size=$(sed -E 's/.*avg_record_bytes=([0-9]+).*/\1/' <<<"$ours")
ours_rate=$(sed -E 's/.*records_per_s=([0-9]+).*/\1/' <<<"$ours")

# Kafka's tool sends real normalised trade records too (random bytes would not compress like
# JSON does): our own normalize output of the recorded 2024 BTCUSDT trades, when available.
payload_args=(--record-size "$size")
frames=../shared/data/hftbacktest_ws_spot/btcusdt_20240808_first5000.frames.jsonl
if [ -f "$frames" ]; then
  bash scripts/build.sh streamforge >/dev/null
  payload=$(mktemp)
  build/bin/streamforge normalize --symbol BTCUSDT "$frames" | grep '"type":"trade"' >"$payload"
  payload_args=(--payload-file "$payload")
fi
theirs=$(bash scripts/kafka.sh perf-test --topic "bench-kafka-$suffix" --num-records "$records" \
  "${payload_args[@]}" --throughput -1 \
  --producer-props bootstrap.servers="$bootstrap" acks=all enable.idempotence=true \
  compression.type=lz4 linger.ms=5 batch.size=1048576 2>/dev/null | tail -1)
echo "kafka: $theirs"
theirs_rate=$(sed -E 's/^[0-9]+ records sent, ([0-9.]+) records\/sec.*/\1/' <<<"$theirs")
python3 -c "print(f'ratio ours/kafka-producer-perf-test = {float($ours_rate)/float($theirs_rate):.2f} (records {$records}, record size {$size} B)')"
