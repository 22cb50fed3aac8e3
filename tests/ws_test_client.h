// A blocking WebSocket client for tests of the servers' WebSocket routes. Every read runs under a
// watchdog: a message that never comes fails the test (read() returns "") instead of hanging it.
#pragma once

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <string>

namespace sf::testing {

class WsTestClient {
 public:
  // Connects to ws://127.0.0.1:<port><target> (target may carry a query); with `origin` the
  // handshake carries it as a browser's would. A refused handshake throws
  // boost::system::system_error.
  WsTestClient(std::uint16_t port, const std::string& target,
               std::chrono::seconds watchdog = std::chrono::seconds(25),
               const std::string& origin = "")
      : ws_(io_) {
    ws_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    if (!origin.empty())
      ws_.set_option(boost::beast::websocket::stream_base::decorator(
          [origin](boost::beast::websocket::request_type& request) {
            request.set(boost::beast::http::field::origin, origin);
          }));
    ws_.handshake("127.0.0.1:" + std::to_string(port), target);
    watchdog_ = std::async(std::launch::async, [this, watchdog, done = finished_.get_future()] {
      if (done.wait_for(watchdog) == std::future_status::timeout)
        ::shutdown(ws_.next_layer().native_handle(), SHUT_RDWR);
    });
  }
  ~WsTestClient() { close(); }
  WsTestClient(const WsTestClient&) = delete;
  WsTestClient& operator=(const WsTestClient&) = delete;

  // The next message; "" once the connection failed, closed or the watchdog fired. A frame that
  // carries several messages, one per line (the dashboard's feeds), gives them one by one.
  std::string read() {
    if (pending_.empty()) {
      boost::beast::flat_buffer buffer;
      boost::beast::error_code ec;
      ws_.read(buffer, ec);
      if (ec) return std::string();
      const std::string frame = boost::beast::buffers_to_string(buffer.data());
      std::size_t start = 0;
      while (start <= frame.size()) {
        auto end = frame.find('\n', start);
        if (end == std::string::npos) end = frame.size();
        pending_.push_back(frame.substr(start, end - start));
        start = end + 1;
      }
    }
    std::string message = std::move(pending_.front());
    pending_.pop_front();
    return message;
  }
  void send(const std::string& text) {
    ws_.text(true);
    boost::beast::error_code ec;
    ws_.write(boost::asio::buffer(text), ec);
  }
  // Closes normally and stops the watchdog. Idempotent.
  void close() {
    if (closed_) return;
    closed_ = true;
    boost::beast::error_code ec;
    ws_.close(boost::beast::websocket::close_code::normal, ec);
    finished_.set_value();
    watchdog_.wait();
  }

 private:
  std::deque<std::string> pending_;  // messages of a frame not read yet
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  std::promise<void> finished_;
  std::future<void> watchdog_;
  bool closed_ = false;
};

}  // namespace sf::testing
