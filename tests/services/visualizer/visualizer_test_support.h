// An embedded platform for the dashboard's route tests: in-process bus, a temporary SQLite store,
// any free port, no queue-manager; stopped and its store removed at the end of the test.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "services/platform/platform.h"

namespace sf::services::visualizer {

class TestPlatform {
 public:
  explicit TestPlatform(const std::string& name)
      : db_(std::filesystem::temp_directory_path() /
            ("sf_" + name + "_" + std::to_string(::getpid()) + ".db")) {
    PlatformOptions o;
    o.store_url = "sqlite:" + db_.string();
    o.port = 0;
    o.queue_manager = false;
    auto started = Platform::start(o);
    if (started)
      platform_ = std::move(*started);
    else
      error_ = started.error();
  }
  ~TestPlatform() {
    platform_.reset();
    std::filesystem::remove(db_);
  }
  TestPlatform(const TestPlatform&) = delete;
  TestPlatform& operator=(const TestPlatform&) = delete;

  bool ok() const { return platform_ != nullptr; }
  const std::string& error() const { return error_; }
  Platform& operator*() { return *platform_; }

 private:
  std::filesystem::path db_;
  std::unique_ptr<Platform> platform_;
  std::string error_;
};

}  // namespace sf::services::visualizer
