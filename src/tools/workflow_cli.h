// `streamforge workflow start|list|show|stop|events`: the queue-manager API from the terminal
// (SF_API_URL, default http://127.0.0.1:8080; SF_API_TOKEN for the mutating commands).
#pragma once

namespace sf::tools {

int workflow_main(int argc, char** argv);

}  // namespace sf::tools
