#include "services/visualizer/client_queue.h"

#include <algorithm>
#include <utility>

namespace sf::services::visualizer {

ClientQueue::ClientQueue(std::size_t max_items, std::size_t max_keys)
    : max_items_(std::max<std::size_t>(max_items, 1)),
      max_keys_(std::max<std::size_t>(max_keys, 1)) {}

// Puts notify only a consumer that waits: at thousands of updates a second a notify per put was
// most of the hub's cost (futex wake-ups for a consumer that was busy anyway).
void ClientQueue::put_latest(std::string key, std::string message) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    auto it = latest_.find(key);
    if (it != latest_.end()) {
      it->second = std::move(message);  // latest wins; its place in the order stays
    } else {
      if (latest_.size() >= max_keys_) {
        latest_.erase(latest_order_.front());
        latest_order_.pop_front();
        ++dropped_since_take_;
        ++dropped_total_;
      }
      latest_order_.push_back(key);
      latest_.emplace(std::move(key), std::move(message));
    }
    wake = waiting_;
  }
  if (wake) cv_.notify_one();
}

void ClientQueue::put_stream(std::string message) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (stream_.size() >= max_items_) {
      stream_.pop_front();
      ++dropped_since_take_;
      ++dropped_total_;
    }
    stream_.push_back(std::move(message));
    wake = waiting_;
  }
  if (wake) cv_.notify_one();
}

void ClientQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

ClientQueue::Batch ClientQueue::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto ready = [this] {
    return closed_ || !latest_.empty() || !stream_.empty() || dropped_since_take_ > 0;
  };
  if (!ready()) {
    waiting_ = true;
    cv_.wait_for(lock, timeout, ready);
    waiting_ = false;
  }
  Batch batch;
  batch.messages.reserve(latest_order_.size() + stream_.size());
  for (auto& key : latest_order_) batch.messages.push_back(std::move(latest_.at(key)));
  latest_.clear();
  latest_order_.clear();
  for (auto& m : stream_) batch.messages.push_back(std::move(m));
  stream_.clear();
  batch.dropped = std::exchange(dropped_since_take_, 0);
  batch.closed = closed_ && batch.messages.empty();
  return batch;
}

std::uint64_t ClientQueue::dropped_total() const {
  std::lock_guard lock(mu_);
  return dropped_total_;
}

std::size_t ClientQueue::queued() const {
  std::lock_guard lock(mu_);
  return latest_.size() + stream_.size();
}

}  // namespace sf::services::visualizer
