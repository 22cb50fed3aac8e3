#include "runtime/control_client.h"

#include <cmath>
#include <vector>

#include "core/time.h"
#include "runtime/worker.h"

namespace sf::runtime {

Result<void, std::string> send_command(bus::Bus& bus, const Topics& topics,
                                       const ControlCommand& command) {
  auto r = bus.publish(topics.control, command.queue_id, encode_command(command));
  if (!r) return unexpected("publish to " + topics.control + " failed: " + r.error().message);
  if (auto f = bus.flush(std::chrono::seconds(10)); !f)
    return unexpected("flush failed: " + f.error().message);
  return {};
}

Result<PongReply, std::string> ping(bus::Bus& bus, const Topics& topics,
                                    const std::string& queue_id, const std::string& target,
                                    std::chrono::milliseconds timeout) {
  // Listen before sending, so the pong cannot slip past.
  auto consumer = bus.subscribe({.topics = {topics.events},
                                 .group = "ctl-" + short_id(10),
                                 .start = bus::StartFrom::kLatest,
                                 .offsets = {}});
  if (!consumer)
    return unexpected("cannot subscribe to " + topics.events + ": " + consumer.error().message);
  auto& c = *consumer;
  // Drain whatever is pending so that "latest" is fixed before the ping goes out.
  (void)c->poll(std::chrono::milliseconds(0));
  // A worker announces `started` after it subscribed to commands, but a ping may be sent before
  // a just-launched worker got that far: the ping is repeated every second until a pong comes
  // (pings are idempotent); the round trip counts from the ping that was answered.
  struct Sent {
    double sent_at;
    std::chrono::steady_clock::time_point at;
  };
  std::vector<Sent> sent;
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + timeout;
  auto next_send = t0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() >= next_send) {
      ControlCommand cmd{
          .command = "ping", .queue_id = queue_id, .target = target, .sent_at = now_unix_seconds()};
      if (auto s = send_command(bus, topics, cmd); !s) return unexpected(s.error());
      sent.push_back({cmd.sent_at, std::chrono::steady_clock::now()});
      next_send = sent.back().at + std::chrono::seconds(1);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto batch = c->poll(std::min(left, std::chrono::milliseconds(100)));
    if (!batch) return unexpected("poll failed: " + batch.error().message);
    for (const auto& m : *batch) {
      auto e = decode_telemetry(m.value);
      if (!e || e->status != kStatusPong || e->queue_id != queue_id) continue;
      if (!target.empty() && e->producer != target) continue;
      // The pong carries the ping's send time: match it to ours (other pings may be in flight).
      auto pos = e->extra.find("\"ping_ts\":");
      if (pos == std::string::npos) continue;
      double ping_ts = std::strtod(e->extra.c_str() + pos + 10, nullptr);
      const Sent* ours = nullptr;
      for (const auto& s : sent)
        if (std::fabs(ping_ts - s.sent_at) <= 1e-3) ours = &s;
      if (ours == nullptr) continue;
      PongReply reply;
      reply.sent_at = ours->sent_at;
      auto pp = e->extra.find("\"ponged_at\":");
      reply.ponged_at =
          pp == std::string::npos ? 0 : std::strtod(e->extra.c_str() + pp + 12, nullptr);
      reply.rtt_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - ours->at)
              .count();
      reply.pong = std::move(e).value();
      c->close();
      return reply;
    }
  }
  c->close();
  return unexpected("no pong from queue " + queue_id + " within " +
                    std::to_string(timeout.count()) + " ms");
}

}  // namespace sf::runtime
