// `streamforge ctl ping|stop --queue-id ID [--expect-pong] [--repeat N]`: sends control commands
// to workers and prints ping round trips. With KAFKA_BOOTSTRAP_SERVERS set it talks to the
// workers through Kafka; otherwise through a running `streamforge run`'s API (SF_API_URL,
// default http://127.0.0.1:8080), which publishes on its in-process bus.
#pragma once

namespace sf::tools {

int ctl_main(int argc, char** argv);

}  // namespace sf::tools
