// The Apache Kafka bus (librdkafka), behind the same interface as the in-process bus.
//
// Producer: idempotent (enable.idempotence, acks=all), batching (linger.ms, batch.size), lz4 by
// default, key = symbol so per-symbol order holds, Java-compatible murmur2 partitioning (the
// in-process bus uses the same hash). Every delivery report is checked: a failed delivery is
// counted and returned by the next flush() as kDeliveryFailed, never only logged. In-flight memory
// is bounded (queue.buffering.max.*); a full queue blocks publish() up to publish_timeout, then
// kBackpressure.
// Consumer: consumer groups with manual commit of exactly what poll() returned; subscribe() waits
// for the group assignment so that "latest" means latest as of subscribe(); a rebalance drops
// uncommitted positions, which the group then reads again (at-least-once).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bus/bus.h"

namespace sf::bus {

struct KafkaBusOptions {
  std::string bootstrap_servers = "127.0.0.1:9092";
  // PLAINTEXT, SASL_PLAINTEXT, SSL or SASL_SSL. Empty: SASL_SSL when a user and a CA are set,
  // SASL_PLAINTEXT with a user only, SSL with a CA only, else PLAINTEXT.
  std::string security_protocol;
  std::string sasl_mechanism = "SCRAM-SHA-512";
  std::string username;
  std::string password;  // never logged
  std::string ca_path;   // PEM file of the CA that signed the brokers' certificates
  std::string compression = "lz4";
  int linger_ms = 5;
  int batch_size_bytes = 1 << 20;
  int max_inflight_kbytes = 256 * 1024;  // producer queue bound
  std::chrono::milliseconds publish_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds assignment_timeout{std::chrono::seconds(30)};
  int topic_replication_factor = 1;
  // Topic-level settings for topics this bus creates, e.g. {"retention.ms", "604800000"}.
  std::vector<std::pair<std::string, std::string>> topic_configs;
  // Called with librdkafka's statistics JSON every statistics_interval_ms (from its threads).
  std::function<void(std::string_view json)> on_statistics;
  std::int32_t default_partitions = 1;
  int statistics_interval_ms = 0;  // > 0: export librdkafka statistics as Prometheus metrics
  std::string client_id = "streamforge";
};

// Fills user/password/CA from the environment the original StreamForge used: KAFKA_USER and
// KAFKA_PASSWORD (or the _PRODUCER / _CONSUMER variants for `role` "producer"/"consumer"),
// CA_PATH (or KAFKA_CA_PATH), KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_COMPRESSION
// (lz4, zstd, gzip, snappy or none).
KafkaBusOptions kafka_options_from_env(const std::string& bootstrap, const std::string& role = "");

// Where librdkafka's own log lines go (syslog level, facility, text). The default writes one JSON
// object per line to stderr; services route it into their logger. Process-wide.
using KafkaLogSink =
    std::function<void(int level, std::string_view facility, std::string_view text)>;
void set_kafka_log_sink(KafkaLogSink sink);

class KafkaBus final : public Bus {
 public:
  // Connects (creating the producer); a bad configuration or unreachable cluster is an error.
  static BusResult<std::unique_ptr<KafkaBus>> open(const KafkaBusOptions& options);
  ~KafkaBus() override;

  BusResult<DeliveryReport> publish(std::string_view topic, std::string_view key,
                                    std::string_view value) override;
  BusResult<void> flush(std::chrono::milliseconds timeout) override;
  BusResult<std::unique_ptr<Consumer>> subscribe(const SubscribeOptions& options) override;
  BusResult<void> create_topic(std::string_view topic, std::int32_t partitions) override;
  // As create_topic, with topic settings (retention.ms, cleanup.policy, ...) for this topic.
  BusResult<void> create_topic_with(
      std::string_view topic, std::int32_t partitions,
      const std::vector<std::pair<std::string, std::string>>& configs);
  BusResult<std::map<std::int32_t, PartitionRange>> partition_ranges(
      std::string_view topic) override;
  std::string_view kind() const override { return "kafka"; }

  // Deliveries confirmed / failed since the bus opened.
  std::int64_t delivered() const;
  std::int64_t delivery_failures() const;

  struct Impl;

 private:
  explicit KafkaBus(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sf::bus
