#include "services/visualizer/topic_feed.h"

// GCC 12 reports a false -Wrestrict on std::string concatenation at -O3 (GCC bug 105329).
#pragma GCC diagnostic ignored "-Wrestrict"

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/json_writer.h"
#include "runtime/log.h"
#include "runtime/worker.h"
#include "services/visualizer/viewer_consumer.h"

namespace sf::services::visualizer {
namespace {

constexpr std::size_t kPollBatch = 500;

std::string record_json(const bus::Message& m) {
  std::string out;
  runtime::JsonWriter j(out);
  j.begin_object()
      .field("type", "record")
      .field("topic", m.topic)
      .field("partition", static_cast<std::int64_t>(m.partition))
      .field("offset", m.offset)
      .field("key", m.key)
      .field("timestamp_ms", m.timestamp_ms)
      .field("value", m.value)
      .end_object();
  return out;
}

}  // namespace

struct TopicFeed::Watch {
  std::unique_ptr<bus::Consumer> consumer;
  std::mutex mu;  // guards subscribers
  std::map<ClientId, std::pair<std::shared_ptr<ClientQueue>, RecordFilter>> subscribers;
  std::atomic<bool> stop{false};
  std::thread thread;

  void run() {
    simdjson::dom::parser parser;
    std::vector<std::pair<std::shared_ptr<ClientQueue>, RecordFilter>> subs;
    run_viewer_consumer(*consumer, stop, kPollBatch, [&](const std::vector<bus::Message>& batch) {
      {
        std::lock_guard lock(mu);
        subs.clear();
        for (const auto& [id, sub] : subscribers) subs.push_back(sub);
      }
      for (const auto& m : batch) {
        const std::string json = record_json(m);
        // The record's type and symbol, read only when some client filters.
        std::optional<std::pair<std::string, std::string>> keys;
        for (const auto& [queue, filter] : subs) {
          if (!filter.type.empty() || !filter.symbol.empty()) {
            if (!keys) {
              keys.emplace();
              simdjson::dom::element doc;
              std::string_view v;
              if (!parser.parse(m.value).get(doc)) {
                if (!doc["type"].get_string().get(v)) keys->first = std::string(v);
                if (!doc["symbol"].get_string().get(v)) keys->second = std::string(v);
              }
            }
            if (!filter.type.empty() && filter.type != keys->first) continue;
            if (!filter.symbol.empty() && filter.symbol != keys->second) continue;
          }
          queue->put_stream(json);
        }
      }
    });
  }
};

TopicFeed::TopicFeed(bus::Bus& bus) : bus_(bus), instance_(runtime::short_id(8)) {}

TopicFeed::~TopicFeed() {
  std::lock_guard lock(mu_);
  while (!watches_.empty()) stop_watch_locked(watches_.begin()->first);
}

TopicFeed::ClientId TopicFeed::add_client(std::shared_ptr<ClientQueue> queue) {
  std::lock_guard lock(mu_);
  const ClientId id = ++next_client_;
  clients_.emplace(id, std::move(queue));
  return id;
}

void TopicFeed::remove_client(ClientId client) {
  std::lock_guard lock(mu_);
  std::vector<std::string> idle;
  for (const auto& [topic, w] : watches_) {
    std::lock_guard wl(w->mu);
    w->subscribers.erase(client);
    if (w->subscribers.empty()) idle.push_back(topic);
  }
  for (const auto& topic : idle) stop_watch_locked(topic);
  clients_.erase(client);
}

Result<void, std::string> TopicFeed::watch(ClientId client, const std::string& topic,
                                           RecordFilter filter) {
  if (!bus::valid_topic_name(topic))
    return unexpected("\"" + topic.substr(0, 64) +
                      "\" is not a topic name ([A-Za-z0-9._-]{1,249})");
  std::lock_guard lock(mu_);
  auto c = clients_.find(client);
  if (c == clients_.end()) return unexpected(std::string("unknown client"));
  auto it = watches_.find(topic);
  if (it == watches_.end()) {
    auto w = std::make_shared<Watch>();
    auto so = viewer_subscription(instance_, topic);
    auto consumer = bus_.subscribe(so);
    if (!consumer) return unexpected("cannot read " + topic + ": " + consumer.error().message);
    w->consumer = std::move(*consumer);
    Watch* raw = w.get();
    w->thread = std::thread([raw] { raw->run(); });
    it = watches_.emplace(topic, std::move(w)).first;
    log::info("visualizer", "watching topic", {{"topic", topic}});
  }
  std::lock_guard wl(it->second->mu);
  it->second->subscribers[client] = {c->second, std::move(filter)};
  return {};
}

void TopicFeed::unwatch(ClientId client, const std::string& topic) {
  std::lock_guard lock(mu_);
  auto it = watches_.find(topic);
  if (it == watches_.end()) return;
  bool idle = false;
  {
    std::lock_guard wl(it->second->mu);
    it->second->subscribers.erase(client);
    idle = it->second->subscribers.empty();
  }
  if (idle) stop_watch_locked(topic);
}

void TopicFeed::stop_watch_locked(const std::string& topic) {
  auto it = watches_.find(topic);
  if (it == watches_.end()) return;
  auto w = it->second;
  watches_.erase(it);
  w->stop = true;
  if (w->thread.joinable()) w->thread.join();  // within one poll timeout
  log::info("visualizer", "stopped watching topic", {{"topic", topic}});
}

std::size_t TopicFeed::watched_topics() const {
  std::lock_guard lock(mu_);
  return watches_.size();
}

}  // namespace sf::services::visualizer
