// The one error type of the data.binance.vision reader (vision.h). Every expected failure -- a
// missing file, a failed download, a checksum mismatch, a damaged zip, a bad CSV row -- comes
// back as a VisionError in a Result; nothing in this module throws for them.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace sf::binance {

enum class VisionErrc : std::uint8_t {
  kConfig,            // bad options or request: unknown URL scheme, missing mirror directory,
                      // empty time range, klines without an interval, no cache directory
  kNotFound,          // the file is not in the local mirror, or the server answered 404
  kFetch,             // a download failed: connection, TLS (certificate not trusted), timeout,
                      // too many redirects, or an HTTP status other than 200/404
  kIo,                // a local file could not be read or written (cache directory, temp file)
  kChecksumMissing,   // require_checksum is set and no .CHECKSUM exists beside the zip
  kBadChecksumFile,   // a .CHECKSUM that is not one `<64 hex>  <zip name>` line for this zip
  kChecksumMismatch,  // the zip's sha256 differs from its .CHECKSUM: the file is never read
  kBadArchive,        // not a zip, or a member fails to inflate or its CRC check
  kBadRow,            // a CSV row the parser rejects (with BadRowPolicy::kStop)
};

// "config", "not_found", "fetch", "io", "checksum_missing", "bad_checksum_file",
// "checksum_mismatch", "bad_archive", "bad_row".
const char* to_string(VisionErrc code);

struct VisionError {
  VisionErrc code = VisionErrc::kConfig;
  std::string location{};  // URL or local path of the file at fault; "" when no file is
  std::uint64_t line = 0;  // 1-based line in the CSV for kBadRow; 0 otherwise
  std::string message{};   // what went wrong, for people

  // "bad_row: /mirror/.../BTCUSDT-5m-2020-07-01.zip line 5: column 1: bad_character"
  std::string to_string() const;
};

template <class T>
using VisionResult = Result<T, VisionError>;

inline Unexpected<VisionError> vision_error(VisionErrc code, std::string location,
                                            std::string message, std::uint64_t line = 0) {
  return unexpected(VisionError{
      .code = code, .location = std::move(location), .line = line, .message = std::move(message)});
}

}  // namespace sf::binance
