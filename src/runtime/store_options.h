// The store options every service that reads or writes the store takes (arango-connector,
// graph-builder, gnn-trainer, gnn-infer), and the store URL they resolve to. Plain strings: the
// runtime does not depend on the store library.
#pragma once

#include <string>

#include "runtime/config.h"

namespace sf::runtime {

// SF_STORE, ARANGO_URL, ARANGO_DB, ARANGO_USER, ARANGO_PASSWORD, COLLECTION_NAME.
void add_store_options(ConfigParser& parser);

// True when the configuration names a store (SF_STORE or ARANGO_URL): a hosted stage then uses
// it instead of the platform's embedded store.
bool names_own_store(const Config& config);

// SF_STORE, else ARANGO_URL + ARANGO_DB/USER/PASSWORD + COLLECTION_NAME as an arango:// URL
// (docs/arango.md), else the POSTGRES_DSN environment variable, else sqlite:./data/streamforge.db.
std::string store_url_from(const Config& config);

}  // namespace sf::runtime
