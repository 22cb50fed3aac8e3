// `streamforge ctl ping|stop --queue-id ID [--expect-pong] [--repeat N]`: sends control commands
// to workers and prints ping round trips. It talks to a running `streamforge run` through its
// API (SF_API_URL, default http://127.0.0.1:8080), which publishes on its bus.
#pragma once

namespace sf::tools {

int ctl_main(int argc, char** argv);

}  // namespace sf::tools
