// Depth levels as compact JSON, [["61837.63000000","0.02000000"],...], the format both stores use
// for a snapshot's bids and asks. Decimals stay JSON strings, so they keep their written text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/events.h"

namespace sf::store {

void append_levels_json(const std::vector<PriceLevel>& levels, std::string* out);
// Parses what append_levels_json writes; whitespace between tokens is tolerated (PostgreSQL's
// JSONB prints `[["1.0", "2"], ...]`). Returns false on anything else.
bool parse_levels_json(std::string_view json, std::vector<PriceLevel>* out);

}  // namespace sf::store
