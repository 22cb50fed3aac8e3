// SHA-256 of bulk files and Binance's .CHECKSUM files (`sha256sum` output).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "exchange/binance/vision/error.h"

namespace sf::binance {

// Lower-case hex SHA-256 of a file, read in 1 MiB chunks through OpenSSL's EVP interface.
// kNotFound when the file is absent, kIo when it cannot be read.
VisionResult<std::string> sha256_file_hex(const std::filesystem::path& path);

// The digest in one `sha256sum` line, `<64 hex>  <name>` (or `<64 hex> *<name>`, binary mode),
// lower-cased. The line must name `expected_name` when it names a file at all, so that a
// CHECKSUM copied beside the wrong zip is caught. kBadChecksumFile otherwise; `location` is
// only used in the error.
VisionResult<std::string> parse_checksum_line(std::string_view text, std::string_view expected_name,
                                              const std::string& location);

}  // namespace sf::binance
