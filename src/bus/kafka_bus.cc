#include "bus/kafka_bus.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/time.h"

namespace sf::bus {
namespace {

using Clock = std::chrono::steady_clock;

BusError error(BusErrc code, std::string message) {
  return BusError{code, std::move(message)};
}

std::string env_or(const char* name, const std::string& fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::mutex g_log_mu;
KafkaLogSink g_log_sink;

void default_log_sink(int level, std::string_view facility, std::string_view text) {
  std::string line = "{\"ts\":\"" + format_iso8601(now_micros()) + "\",\"level\":\"" +
                     (level <= 3   ? "error"
                      : level <= 4 ? "warn"
                      : level <= 6 ? "info"
                                   : "debug") +
                     "\",\"logger\":\"kafka\",\"facility\":\"" + std::string(facility) +
                     "\",\"msg\":\"";
  for (char c : text) {
    if (c == '"' || c == '\\') line += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    line += c;
  }
  line += "\"}\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void log_cb(const rd_kafka_t*, int level, const char* facility, const char* text) {
  std::lock_guard lock(g_log_mu);
  if (g_log_sink)
    g_log_sink(level, facility, text);
  else
    default_log_sink(level, facility, text);
}

// Applies one setting; librdkafka's message names the key, never the value.
bool set(rd_kafka_conf_t* conf, const char* key, const std::string& value, std::string* err) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    *err = std::string("kafka setting ") + key + ": " + errstr;
    return false;
  }
  return true;
}

// Errors librdkafka reports outside any call (authentication, TLS, all brokers down), kept so that
// a failing call can say why.
struct ErrorSink {
  std::mutex mu;
  std::string last;
  bool auth_failed = false;
  std::string ssl_failure;  // TLS handshake failed: untrusted certificate, wrong CA, not TLS
  bool fatal = false;

  static void callback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<ErrorSink*>(opaque);
    std::lock_guard lock(self->mu);
    self->last =
        std::string(rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))) + ": " + reason;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
        err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED)
      self->auth_failed = true;
    if (err == RD_KAFKA_RESP_ERR__SSL) self->ssl_failure = self->last;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof buf);
      self->last = std::string("fatal: ") + buf;
      self->fatal = true;
    }
  }
  std::string describe() {
    std::lock_guard lock(mu);
    return last;
  }
};

// What librdkafka's callbacks reach through the client's opaque pointer, for producer and
// consumers alike.
struct ClientCallbacks {
  ErrorSink errors;
  std::function<void(std::string_view)> on_statistics;

  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    ErrorSink::callback(rk, err, reason, &static_cast<ClientCallbacks*>(opaque)->errors);
  }
  static int stats_cb(rd_kafka_t*, char* json, std::size_t len, void* opaque) {
    auto* self = static_cast<ClientCallbacks*>(opaque);
    if (self->on_statistics) self->on_statistics(std::string_view(json, len));
    return 0;  // librdkafka frees the JSON
  }
};

std::string effective_protocol(const KafkaBusOptions& o) {
  if (!o.security_protocol.empty()) return o.security_protocol;
  if (!o.username.empty()) return o.ca_path.empty() ? "SASL_PLAINTEXT" : "SASL_SSL";
  return o.ca_path.empty() ? "PLAINTEXT" : "SSL";
}

// Settings shared by producer and consumers: brokers and security.
bool common_config(rd_kafka_conf_t* conf, const KafkaBusOptions& o, std::string* err) {
  const std::string protocol = effective_protocol(o);
  if (!set(conf, "bootstrap.servers", o.bootstrap_servers, err) ||
      !set(conf, "client.id", o.client_id, err) || !set(conf, "security.protocol", protocol, err))
    return false;
  if (protocol.rfind("SASL", 0) == 0) {
    if (!set(conf, "sasl.mechanisms", o.sasl_mechanism, err) ||
        !set(conf, "sasl.username", o.username, err) ||
        !set(conf, "sasl.password", o.password, err))
      return false;
  }
  if (!o.ca_path.empty() && !set(conf, "ssl.ca.location", o.ca_path, err)) return false;
  rd_kafka_conf_set_log_cb(conf, &log_cb);
  rd_kafka_conf_set_error_cb(conf, &ClientCallbacks::error_cb);
  if (o.on_statistics) rd_kafka_conf_set_stats_cb(conf, &ClientCallbacks::stats_cb);
  if (o.statistics_interval_ms > 0 &&
      !set(conf, "statistics.interval.ms", std::to_string(o.statistics_interval_ms), err))
    return false;
  return true;
}

// Waits until the cluster answers a metadata request, failing fast on bad credentials or a TLS
// handshake failure (e.g. a certificate the CA does not verify).
BusResult<void> wait_connected(rd_kafka_t* rk, ErrorSink& errors, std::chrono::milliseconds timeout,
                               const std::string& servers) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    rd_kafka_poll(rk, 0);  // serves error callbacks (authentication failures arrive there)
    const rd_kafka_metadata_t* md = nullptr;
    auto err = rd_kafka_metadata(rk, 0, nullptr, &md, 500);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      return {};
    }
    {
      std::lock_guard lock(errors.mu);
      if (errors.auth_failed)
        return unexpected(error(BusErrc::kConfig,
                                "kafka authentication failed at " + servers + ": " + errors.last));
      if (!errors.ssl_failure.empty())
        return unexpected(error(BusErrc::kConfig, "kafka TLS handshake failed at " + servers +
                                                      ": " + errors.ssl_failure));
    }
  }
  std::string why = errors.describe();
  return unexpected(error(BusErrc::kBrokerError,
                          "cannot reach kafka at " + servers + (why.empty() ? "" : ": " + why)));
}

struct TopicPartition {
  std::string topic;
  std::int32_t partition;
  bool operator<(const TopicPartition& o) const {
    return topic != o.topic ? topic < o.topic : partition < o.partition;
  }
};

}  // namespace

void set_kafka_log_sink(KafkaLogSink sink) {
  std::lock_guard lock(g_log_mu);
  g_log_sink = std::move(sink);
}

KafkaBusOptions kafka_options_from_env(const std::string& bootstrap, const std::string& role) {
  KafkaBusOptions o;
  o.bootstrap_servers = bootstrap;
  std::string suffix = role == "producer" ? "_PRODUCER" : role == "consumer" ? "_CONSUMER" : "";
  o.username = env_or(("KAFKA_USER" + suffix).c_str(), env_or("KAFKA_USER"));
  o.password = env_or(("KAFKA_PASSWORD" + suffix).c_str(), env_or("KAFKA_PASSWORD"));
  o.ca_path = env_or("CA_PATH", env_or("KAFKA_CA_PATH"));
  o.security_protocol = env_or("KAFKA_SECURITY_PROTOCOL");
  o.sasl_mechanism = env_or("KAFKA_SASL_MECHANISM", o.sasl_mechanism);
  o.compression = env_or("KAFKA_COMPRESSION", o.compression);
  return o;
}

// ----------------------------------------------------------------------------------------------
// Consumer

class KafkaConsumer final : public Consumer, public ClientCallbacks {
 public:
  // The consumer exists before its librdkafka handle, because the handle's callbacks need it.
  KafkaConsumer(SubscribeOptions options, std::int64_t subscribed_at_ms,
                std::function<void(std::string_view)> statistics)
      : options_(std::move(options)), subscribed_at_ms_(subscribed_at_ms) {
    on_statistics = std::move(statistics);
  }
  void attach(rd_kafka_t* rk) { rk_ = rk; }

  ~KafkaConsumer() override { close(); }

  static void rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaConsumer*>(static_cast<ClientCallbacks*>(opaque))
        ->on_rebalance(err, partitions);
  }

  BusResult<std::vector<Message>> poll(std::chrono::milliseconds timeout,
                                       std::size_t max_messages) override {
    if (closed_) return unexpected(error(BusErrc::kClosed, "consumer closed"));
    std::vector<Message> out;
    auto deadline = Clock::now() + timeout;
    while (out.size() < max_messages) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      // Once something arrived, only take what is already there.
      int wait = out.empty() ? static_cast<int>(std::max<std::int64_t>(0, left.count())) : 0;
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, wait);
      if (m == nullptr) {
        if (!out.empty() || Clock::now() >= deadline) break;
        continue;
      }
      if (m->err) {
        auto err = m->err;
        std::string what = rd_kafka_message_errstr(m);
        rd_kafka_message_destroy(m);
        if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        if (errors.fatal) return unexpected(error(BusErrc::kBrokerError, errors.describe()));
        if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION)
          return unexpected(error(BusErrc::kConfig, "kafka authentication failed: " + what));
        continue;  // transient (broker restart, leader change): librdkafka retries
      }
      Message msg;
      msg.topic = rd_kafka_topic_name(m->rkt);
      msg.partition = m->partition;
      msg.offset = m->offset;
      if (m->key) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) msg.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_timestamp_type_t tstype;
      msg.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
      rd_kafka_message_destroy(m);
      {
        std::lock_guard lock(mu_);
        TopicPartition tp{msg.topic, msg.partition};
        if (!assigned_.count(tp)) continue;  // revoked meanwhile: its new owner reads it
        next_[tp] = msg.offset + 1;
      }
      out.push_back(std::move(msg));
      if (Clock::now() >= deadline && !out.empty()) break;
    }
    return out;
  }

  BusResult<void> commit() override {
    if (closed_) return unexpected(error(BusErrc::kClosed, "consumer closed"));
    rd_kafka_topic_partition_list_t* list = nullptr;
    {
      std::lock_guard lock(mu_);
      for (const auto& [tp, next] : next_) {
        auto c = committed_.find(tp);
        if (c != committed_.end() && c->second == next) continue;
        if (!list) list = rd_kafka_topic_partition_list_new(static_cast<int>(next_.size()));
        rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = next;
      }
    }
    if (!list) return {};
    auto err = rd_kafka_commit(rk_, list, 0 /* synchronous */);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::lock_guard lock(mu_);
      for (int i = 0; i < list->cnt; ++i)
        committed_[{list->elems[i].topic, list->elems[i].partition}] = list->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return unexpected(
          error(BusErrc::kBrokerError, std::string("commit failed: ") + rd_kafka_err2str(err)));
    return {};
  }

  BusResult<void> commit(const Offsets& next_offsets) override {
    if (closed_) return unexpected(error(BusErrc::kClosed, "consumer closed"));
    rd_kafka_topic_partition_list_t* list = nullptr;
    {
      std::lock_guard lock(mu_);
      for (const auto& [topic, partitions] : next_offsets) {
        for (const auto& [partition, offset] : partitions) {
          TopicPartition tp{topic, partition};
          if (!assigned_.count(tp)) continue;
          auto c = committed_.find(tp);
          if (c != committed_.end() && c->second >= offset) continue;
          if (!list) list = rd_kafka_topic_partition_list_new(4);
          rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
        }
      }
    }
    if (!list) return {};
    auto err = rd_kafka_commit(rk_, list, 0 /* synchronous */);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::lock_guard lock(mu_);
      for (int i = 0; i < list->cnt; ++i)
        committed_[{list->elems[i].topic, list->elems[i].partition}] = list->elems[i].offset;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return unexpected(
          error(BusErrc::kBrokerError, std::string("commit failed: ") + rd_kafka_err2str(err)));
    return {};
  }

  void close() override {
    if (closed_.exchange(true) || rk_ == nullptr) return;
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }

  bool assigned() const override { return assignment_received_.load(); }

  // Asks the brokers for the partitions' ends (cached watermarks are unknown until a fetch).
  std::int64_t lag() const override {
    std::lock_guard lock(mu_);
    std::int64_t lag = 0;
    for (const auto& tp : assigned_) {
      std::int64_t lo = 0, hi = 0;
      // A partition whose end cannot be read now is not known to be caught up: counting it as
      // zero made a reader that stops at the end of its input stop early, with records unread.
      if (rd_kafka_query_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &lo, &hi, 2000) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        lag += 1;
        continue;
      }
      auto it = next_.find(tp);
      std::int64_t pos = it != next_.end() ? it->second : lo;
      if (hi > pos) lag += hi - pos;
    }
    return lag;
  }

 private:
  // Resolves where each newly assigned partition starts: the group's committed offset, else the
  // subscription's start (earliest; latest = the first offset written after subscribe(); or an
  // explicit offset).
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      rd_kafka_committed(rk_, partitions, 10000);
      for (int i = 0; i < partitions->cnt; ++i) {
        auto& p = partitions->elems[i];
        if (p.offset >= 0) continue;  // committed
        p.offset = start_offset(p.topic, p.partition);
      }
      rd_kafka_assign(rk_, partitions);
      std::lock_guard lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        TopicPartition tp{partitions->elems[i].topic, partitions->elems[i].partition};
        assigned_.insert(tp);
        // Where reading starts, so lag() is right before the first message arrives.
        if (partitions->elems[i].offset >= 0) next_[tp] = partitions->elems[i].offset;
      }
      assignment_received_ = true;
    } else {
      {
        std::lock_guard lock(mu_);
        for (int i = 0; i < partitions->cnt; ++i) {
          TopicPartition tp{partitions->elems[i].topic, partitions->elems[i].partition};
          assigned_.erase(tp);
          next_.erase(tp);  // uncommitted reads go back to the group
          committed_.erase(tp);
        }
      }
      rd_kafka_assign(rk_, nullptr);
    }
  }

  std::int64_t start_offset(const char* topic, std::int32_t partition) {
    if (options_.start == StartFrom::kOffsets) {
      auto t = options_.offsets.find(topic);
      if (t != options_.offsets.end()) {
        auto p = t->second.find(partition);
        if (p != t->second.end()) return p->second;
      }
      return RD_KAFKA_OFFSET_BEGINNING;
    }
    if (options_.start == StartFrom::kEarliest) return RD_KAFKA_OFFSET_BEGINNING;
    // Latest as of subscribe(): the first message stamped at or after that moment. The high
    // watermark is read first: if no message is that new yet, anything written after the read
    // lands at or beyond it, so nothing published after subscribe() is skipped.
    std::int64_t low = 0, high = RD_KAFKA_OFFSET_END;
    if (rd_kafka_query_watermark_offsets(rk_, topic, partition, &low, &high, 10000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
      high = RD_KAFKA_OFFSET_END;
    rd_kafka_topic_partition_list_t* q = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(q, topic, partition)->offset = subscribed_at_ms_;
    std::int64_t offset = high;
    if (rd_kafka_offsets_for_times(rk_, q, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        q->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && q->elems[0].offset >= 0)
      offset = std::min(q->elems[0].offset, high >= 0 ? high : q->elems[0].offset);
    rd_kafka_topic_partition_list_destroy(q);
    return offset;
  }

  rd_kafka_t* rk_ = nullptr;
  SubscribeOptions options_;
  std::int64_t subscribed_at_ms_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> assignment_received_{false};
  mutable std::mutex mu_;
  std::set<TopicPartition> assigned_;
  std::map<TopicPartition, std::int64_t> next_;       // next offset after what poll() returned
  std::map<TopicPartition, std::int64_t> committed_;  // what this member committed last
};

// ----------------------------------------------------------------------------------------------
// Producer

struct KafkaBus::Impl : ClientCallbacks {
  KafkaBusOptions options;
  rd_kafka_t* producer = nullptr;
  std::atomic<std::int64_t> delivered{0};
  std::atomic<std::int64_t> failed{0};
  std::atomic<std::int64_t> failed_since_flush{0};
  std::mutex first_failure_mu;
  std::string first_failure;
  std::atomic<bool> stop{false};
  std::thread poller;

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(static_cast<ClientCallbacks*>(opaque));
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->delivered.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    self->failed.fetch_add(1);
    if (self->failed_since_flush.fetch_add(1) == 0) {
      std::lock_guard lock(self->first_failure_mu);
      self->first_failure =
          std::string(rd_kafka_err2str(m->err)) + " (topic " + rd_kafka_topic_name(m->rkt) + ")";
    }
  }

  ~Impl() {
    stop = true;
    if (poller.joinable()) poller.join();
    if (producer) {
      rd_kafka_flush(producer, 10000);
      rd_kafka_destroy(producer);
    }
  }
};

KafkaBus::KafkaBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaBus::~KafkaBus() = default;

BusResult<std::unique_ptr<KafkaBus>> KafkaBus::open(const KafkaBusOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::string err;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  bool ok =
      common_config(conf, options, &err) && set(conf, "enable.idempotence", "true", &err) &&
      set(conf, "acks", "all", &err) && set(conf, "compression.type", options.compression, &err) &&
      set(conf, "linger.ms", std::to_string(options.linger_ms), &err) &&
      set(conf, "batch.size", std::to_string(options.batch_size_bytes), &err) &&
      set(conf, "queue.buffering.max.kbytes", std::to_string(options.max_inflight_kbytes), &err) &&
      set(conf, "queue.buffering.max.messages", "1000000", &err) &&
      set(conf, "batch.num.messages", "100000", &err) &&
      // Java's default partitioner, as the in-process bus: the same key lands on the same
      // partition whichever client produced it.
      set(conf, "partitioner", "murmur2_random", &err) &&
      // A broker restart must not lose messages: retry for up to 5 minutes.
      set(conf, "message.timeout.ms", "300000", &err);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return unexpected(error(BusErrc::kConfig, err));
  }
  impl->on_statistics = options.on_statistics;
  rd_kafka_conf_set_opaque(conf, static_cast<ClientCallbacks*>(impl.get()));
  rd_kafka_conf_set_dr_msg_cb(conf, &Impl::on_delivery);
  char errstr[512];
  impl->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!impl->producer) {
    rd_kafka_conf_destroy(conf);
    return unexpected(
        error(BusErrc::kConfig, std::string("cannot create kafka producer: ") + errstr));
  }
  if (auto c = wait_connected(impl->producer, impl->errors, std::chrono::seconds(15),
                              options.bootstrap_servers);
      !c)
    return unexpected(c.error());
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stop.load()) rd_kafka_poll(raw->producer, 100);  // serves delivery reports
  });
  return std::unique_ptr<KafkaBus>(new KafkaBus(std::move(impl)));
}

BusResult<DeliveryReport> KafkaBus::publish(std::string_view topic, std::string_view key,
                                            std::string_view value) {
  if (topic.empty()) return unexpected(error(BusErrc::kInvalidTopic, "empty topic name"));
  thread_local std::string topic_name;
  topic_name.assign(topic);
  auto deadline = Clock::now() + impl_->options.publish_timeout;
  for (;;) {
    auto err = rd_kafka_producev(impl_->producer, RD_KAFKA_V_TOPIC(topic_name.c_str()),
                                 RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (Clock::now() >= deadline)
        return unexpected(error(BusErrc::kBackpressure,
                                "kafka producer queue full for " +
                                    std::to_string(impl_->options.publish_timeout.count()) +
                                    " ms"));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
      return unexpected(error(BusErrc::kTooLarge, rd_kafka_err2str(err)));
    return unexpected(
        error(BusErrc::kBrokerError, std::string("produce failed: ") + rd_kafka_err2str(err)));
  }
  // The partition and offset are known only on delivery; flush() reports failures.
  return DeliveryReport{std::string(topic), -1, -1};
}

BusResult<void> KafkaBus::flush(std::chrono::milliseconds timeout) {
  auto err = rd_kafka_flush(impl_->producer, static_cast<int>(timeout.count()));
  std::int64_t failed = impl_->failed_since_flush.exchange(0);
  if (failed > 0) {
    std::string first;
    {
      std::lock_guard lock(impl_->first_failure_mu);
      first = impl_->first_failure;
    }
    return unexpected(
        error(BusErrc::kDeliveryFailed,
              std::to_string(failed) + " message(s) were not delivered; first: " + first));
  }
  if (err == RD_KAFKA_RESP_ERR__TIMED_OUT)
    return unexpected(
        error(BusErrc::kBackpressure, std::to_string(rd_kafka_outq_len(impl_->producer)) +
                                          " message(s) still in flight after " +
                                          std::to_string(timeout.count()) + " ms"));
  return {};
}

BusResult<std::unique_ptr<Consumer>> KafkaBus::subscribe(const SubscribeOptions& options) {
  if (options.topics.empty())
    return unexpected(error(BusErrc::kConfig, "no topics to subscribe to"));
  if (options.group.empty()) return unexpected(error(BusErrc::kConfig, "no consumer group"));
  std::string err;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  bool ok = common_config(conf, impl_->options, &err) &&
            set(conf, "group.id", options.group, &err) &&
            set(conf, "enable.auto.commit", "false", &err) &&
            set(conf, "enable.auto.offset.store", "false", &err) &&
            set(conf, "auto.offset.reset",
                options.start == StartFrom::kLatest ? "latest" : "earliest", &err) &&
            set(conf, "session.timeout.ms", "10000", &err) &&
            set(conf, "heartbeat.interval.ms", "1000", &err) &&
            set(conf, "topic.metadata.refresh.interval.ms", "2000", &err);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return unexpected(error(BusErrc::kConfig, err));
  }
  auto consumer = std::make_unique<KafkaConsumer>(options, micros_to_millis(now_micros()),
                                                  impl_->options.on_statistics);
  rd_kafka_conf_set_opaque(conf, static_cast<ClientCallbacks*>(consumer.get()));
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaConsumer::rebalance_cb);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return unexpected(
        error(BusErrc::kConfig, std::string("cannot create kafka consumer: ") + errstr));
  }
  consumer->attach(rk);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(options.topics.size()));
  for (const auto& t : options.topics)
    rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  auto serr = rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (serr != RD_KAFKA_RESP_ERR_NO_ERROR)
    return unexpected(
        error(BusErrc::kBrokerError, std::string("subscribe failed: ") + rd_kafka_err2str(serr)));
  return std::unique_ptr<Consumer>(std::move(consumer));
}

BusResult<void> KafkaBus::create_topic(std::string_view topic, std::int32_t partitions) {
  return create_topic_with(topic, partitions, {});
}

BusResult<void> KafkaBus::create_topic_with(
    std::string_view topic, std::int32_t partitions,
    const std::vector<std::pair<std::string, std::string>>& configs) {
  char errstr[512];
  std::string name(topic);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(
      name.c_str(), partitions, impl_->options.topic_replication_factor, errstr, sizeof errstr);
  if (!nt) return unexpected(error(BusErrc::kInvalidTopic, errstr));
  for (const auto& [key, value] : impl_->options.topic_configs)
    rd_kafka_NewTopic_set_config(nt, key.c_str(), value.c_str());
  for (const auto& [key, value] : configs)
    rd_kafka_NewTopic_set_config(nt, key.c_str(), value.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(impl_->producer);
  rd_kafka_CreateTopics(impl_->producer, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  BusResult<void> result;
  if (!ev) {
    result = unexpected(error(BusErrc::kBrokerError, "create topic timed out"));
  } else {
    const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
    std::size_t n = 0;
    const rd_kafka_topic_result_t** tr =
        res ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = unexpected(error(BusErrc::kBrokerError, rd_kafka_event_error_string(ev)));
    } else if (n == 1) {
      auto e = rd_kafka_topic_result_error(tr[0]);
      if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        result = {};
      } else if (e == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION) {
        result =
            unexpected(error(BusErrc::kInvalidTopic, rd_kafka_topic_result_error_string(tr[0])));
      } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result =
            unexpected(error(BusErrc::kBrokerError, rd_kafka_topic_result_error_string(tr[0])));
      }
    }
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  if (!result) return result;
  // Wait until the new topic's metadata is visible, so the next publish or subscribe sees every
  // partition.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(impl_->producer, name.c_str(), nullptr);
  while (Clock::now() < deadline) {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(impl_->producer, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      bool ready = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   md->topics[0].partition_cnt == partitions;
      rd_kafka_metadata_destroy(md);
      if (ready) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  rd_kafka_topic_destroy(rkt);
  return {};
}

BusResult<std::map<std::int32_t, PartitionRange>> KafkaBus::partition_ranges(
    std::string_view topic) {
  // All topics' metadata rather than the one topic's: asking for a topic by name makes a broker
  // with auto.create.topics.enable create it.
  const rd_kafka_metadata_t* md = nullptr;
  if (auto err = rd_kafka_metadata(impl_->producer, 1, nullptr, &md, 5000);
      err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return unexpected(error(BusErrc::kBrokerError, rd_kafka_err2str(err)));
  std::vector<std::int32_t> partitions;
  bool found = false;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic != md->topics[i].topic) continue;
    found = md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int p = 0; p < md->topics[i].partition_cnt; ++p)
      partitions.push_back(md->topics[i].partitions[p].id);
  }
  rd_kafka_metadata_destroy(md);
  if (!found) return unexpected(error(BusErrc::kUnknownTopic, "no topic " + std::string(topic)));
  std::map<std::int32_t, PartitionRange> ranges;
  const std::string name(topic);
  for (auto p : partitions) {
    std::int64_t low = 0, high = 0;
    if (auto err =
            rd_kafka_query_watermark_offsets(impl_->producer, name.c_str(), p, &low, &high, 5000);
        err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return unexpected(error(BusErrc::kBrokerError, rd_kafka_err2str(err)));
    ranges[p] = {low, high};
  }
  return ranges;
}

std::int64_t KafkaBus::delivered() const {
  return impl_->delivered.load();
}
std::int64_t KafkaBus::delivery_failures() const {
  return impl_->failed.load();
}

}  // namespace sf::bus
