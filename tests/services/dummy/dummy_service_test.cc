// dummy-service lifecycle over the in-process bus: the worker contract end to end.
#include "services/dummy/dummy_service.h"

#include <gtest/gtest.h>

#include <future>

#include "bus/inproc_bus.h"
#include "runtime/control_client.h"
#include "runtime/protocol.h"
#include "telemetry_collector.h"

namespace sf::services {
namespace {

using namespace std::chrono_literals;
using runtime::ControlCommand;
using runtime::encode_command;
using sf::testing::has_status;
using sf::testing::TelemetryCollector;

runtime::WorkerSettings settings(const std::string& queue_id, const std::string& producer) {
  runtime::WorkerSettings s;
  s.service = "dummy-service";
  s.queue_id = queue_id;
  s.producer = producer;
  s.symbol = "DUMMYUSDT";
  s.type = "dummy";
  s.telemetry_interval = 100ms;
  return s;
}

struct Running {
  std::unique_ptr<runtime::Worker> worker;
  std::future<int> exit_code;
};

Running start(bus::Bus& bus, runtime::WorkerSettings s, DummyOptions o) {
  Running r;
  r.worker = std::make_unique<runtime::Worker>(bus, std::move(s));
  auto* w = r.worker.get();
  r.exit_code = std::async(std::launch::async, [w, o] { return w->run(dummy_body(o)); });
  return r;
}

void send(bus::Bus& bus, const std::string& command, const std::string& queue_id,
          double sent_at = 0) {
  ControlCommand c{.command = command, .queue_id = queue_id, .target = "", .sent_at = sent_at};
  ASSERT_TRUE(bus.publish("queue-control", queue_id, encode_command(c)).ok());
}

std::vector<std::string> statuses(const std::vector<TelemetryEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.status);
  return out;
}

TEST(DummyService, StartedLoadingThenStopGivesInterrupted) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto run = start(bus, settings("q1", "dummy__a"), {.simulate_loading = true});
  ASSERT_TRUE(events.wait_until([](const auto& ev) {
    int loading = 0;
    for (const auto& e : ev) loading += e.status == "loading" && e.records_written > 0;
    return loading >= 2;
  }));
  send(bus, "stop", "q1");
  ASSERT_EQ(run.exit_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(run.exit_code.get(), 0);
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__a", "interrupted"); }));
  auto mine = events.of("dummy__a");
  ASSERT_GE(mine.size(), 3u);
  EXPECT_EQ(mine.front().status, "started");
  EXPECT_EQ(mine.back().status, "interrupted");
  EXPECT_TRUE(mine.back().finished);
  EXPECT_EQ(mine.back().message, "stop command");
  // records_written never decreases and the terminal event is the only finished one.
  std::int64_t last = 0;
  int terminal = 0;
  for (const auto& e : mine) {
    EXPECT_GE(e.records_written, last);
    last = e.records_written;
    terminal += runtime::is_terminal_status(e.status);
    EXPECT_EQ(e.queue_id, "q1");
    EXPECT_EQ(e.symbol, "DUMMYUSDT");
  }
  EXPECT_EQ(terminal, 1);
  EXPECT_GT(mine.back().records_written, 0);
}

TEST(DummyService, FailAfterGivesErrorAndExitCodeOne) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto run = start(bus, settings("q2", "dummy__b"), {.fail_after_s = 0.2});
  ASSERT_EQ(run.exit_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(run.exit_code.get(), 1);
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__b", "error"); }));
  auto mine = events.of("dummy__b");
  EXPECT_EQ(mine.back().status, "error");
  EXPECT_NE(mine.back().message.find("simulated failure"), std::string::npos);
}

TEST(DummyService, ExitAfterGivesFinished) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto run = start(bus, settings("q3", "dummy__c"), {.exit_after_s = 0.2});
  ASSERT_EQ(run.exit_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(run.exit_code.get(), 0);
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__c", "finished"); }));
  EXPECT_EQ(run.worker->outcome(), runtime::Outcome::kFinished);
}

TEST(DummyService, PingIsAnsweredWithPongCarryingTheSendTime) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto run = start(bus, settings("q4", "dummy__d"), {});
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__d", "started"); }));
  send(bus, "ping", "q4", 1722500000.125);
  send(bus, "ping", "other-queue", 1.0);  // not ours: no pong
  ASSERT_TRUE(events.wait_until([](const auto& ev) { return has_status(ev, "dummy__d", "pong"); }));
  TelemetryEvent pong;
  int pongs = 0;
  for (const auto& e : events.of("dummy__d"))
    if (e.status == "pong") pong = e, ++pongs;
  EXPECT_EQ(pongs, 1);
  EXPECT_NE(pong.extra.find("\"ping_ts\":1722500000.125"), std::string::npos) << pong.extra;
  EXPECT_NE(pong.extra.find("\"ponged_at\":"), std::string::npos);
  send(bus, "stop", "q4");
  EXPECT_EQ(run.exit_code.get(), 0);
}

TEST(DummyService, ExitOnPingFinishes) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto run = start(bus, settings("q5", "dummy__e"), {.exit_on_ping = true});
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__e", "started"); }));
  send(bus, "ping", "q5", 1.0);
  ASSERT_EQ(run.exit_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(run.worker->outcome(), runtime::Outcome::kFinished);
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__e", "finished"); }));
  auto mine = events.of("dummy__e");
  EXPECT_EQ(statuses(mine).back(), "finished");
}

// Regression: `started` goes out before the body runs, so a ping could arrive before the body set
// its ping hook; the hook must still get it (exit-on-ping once hung under load this way).
TEST(DummyService, APingBeforeTheBodySetsItsHookStillReachesIt) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  runtime::Worker w(bus, settings("q-race", "dummy__race"));
  std::atomic<bool> pinged_sent{false};
  std::promise<double> got;
  auto done = std::async(std::launch::async, [&] {
    return w.run([&](runtime::WorkerContext& ctx) {
      while (!pinged_sent) std::this_thread::sleep_for(5ms);
      std::this_thread::sleep_for(300ms);  // the ping is surely handled before the hook exists
      ctx.set_ping_hook([&](const ControlCommand& c) { got.set_value(c.sent_at); });
      return runtime::WorkResult{runtime::Outcome::kFinished, "done", "{}"};
    });
  });
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__race", "started"); }));
  send(bus, "ping", "q-race", 42.0);
  pinged_sent = true;
  auto f = got.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 42.0);
  EXPECT_EQ(done.get(), 0);
}

// Regression: a ping sent before a just-launched worker subscribed to commands was lost (the API's
// ping answered 504 under load); ping() repeats it until a pong comes.
TEST(DummyService, APingSentBeforeTheWorkerListensIsRepeatedUntilAnswered) {
  bus::InProcBus bus;
  auto reply = std::async(std::launch::async, [&] {
    return runtime::ping(bus, runtime::Topics{}, "q-early", "", 10s);
  });
  std::this_thread::sleep_for(300ms);  // the first ping is out before the worker exists
  auto run = start(bus, settings("q-early", "dummy__early"), {});
  auto r = reply.get();
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->pong.producer, "dummy__early");
  EXPECT_LT(r->rtt_ms, 1000.0);  // measured from the ping that was answered
  run.worker->request_stop("test");
  EXPECT_EQ(run.exit_code.get(), 0);
}

// The original gave all instances of a queue one consumer group, so only one saw a stop.
TEST(DummyService, TwoInstancesWithOneQueueIdBothStopOnOneStop) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto a = start(bus, settings("shared", "dummy__1"), {});
  auto b = start(bus, settings("shared", "dummy__2"), {});
  ASSERT_TRUE(events.wait_until([](const auto& ev) {
    return has_status(ev, "dummy__1", "started") && has_status(ev, "dummy__2", "started");
  }));
  send(bus, "stop", "shared");
  ASSERT_EQ(a.exit_code.wait_for(5s), std::future_status::ready);
  ASSERT_EQ(b.exit_code.wait_for(5s), std::future_status::ready);
  ASSERT_TRUE(events.wait_until([](const auto& ev) {
    return has_status(ev, "dummy__1", "interrupted") && has_status(ev, "dummy__2", "interrupted");
  }));
}

TEST(DummyService, TargetedStopReachesOnlyItsTarget) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto a = start(bus, settings("tq", "dummy__x"), {});
  auto b = start(bus, settings("tq", "dummy__y"), {});
  ASSERT_TRUE(events.wait_until([](const auto& ev) {
    return has_status(ev, "dummy__x", "started") && has_status(ev, "dummy__y", "started");
  }));
  ControlCommand c{.command = "stop", .queue_id = "tq", .target = "dummy__x", .sent_at = 0};
  ASSERT_TRUE(bus.publish("queue-control", "tq", encode_command(c)).ok());
  ASSERT_EQ(a.exit_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(b.exit_code.wait_for(300ms), std::future_status::timeout);
  b.worker->request_stop("test cleanup");
  EXPECT_EQ(b.exit_code.get(), 0);
}

TEST(DummyService, MalformedControlMessagesAreIgnoredNotFatal) {
  bus::InProcBus bus;
  TelemetryCollector events(bus);
  auto run = start(bus, settings("q6", "dummy__f"), {});
  ASSERT_TRUE(
      events.wait_until([](const auto& ev) { return has_status(ev, "dummy__f", "started"); }));
  ASSERT_TRUE(bus.publish("queue-control", "q6", "{not json").ok());
  ASSERT_TRUE(bus.publish("queue-control", "q6", R"({"command":42,"queue_id":"q6"})").ok());
  send(bus, "stop", "q6");
  ASSERT_EQ(run.exit_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(run.worker->outcome(), runtime::Outcome::kInterrupted);
}

}  // namespace
}  // namespace sf::services
