// `streamforge indicators`: Binance kline CSV rows (or normalised candle records) in, a CSV with
// a header and one column per indicator value out. See docs/analytics.md.
#pragma once

namespace sf::tools {

// streamforge indicators [--config JSON] [FILE...]   (INDICATORS_CONFIG when --config is absent)
int indicators_main(int argc, char** argv);

}  // namespace sf::tools
