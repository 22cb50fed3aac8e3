#include "exchange/binance/vision/checksum.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <vector>

namespace sf::binance {
namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

VisionResult<std::string> sha256_file_hex(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    return vision_error(VisionErrc::kNotFound, path.string(), "no such file");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) return vision_error(VisionErrc::kIo, path.string(), "cannot open for reading");
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    return vision_error(VisionErrc::kIo, path.string(), "OpenSSL cannot initialise SHA-256");
  std::vector<unsigned char> buffer(1 << 20);
  for (;;) {
    const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), n) != 1)
      return vision_error(VisionErrc::kIo, path.string(), "OpenSSL SHA-256 update failed");
    if (n < buffer.size()) break;
  }
  if (std::ferror(file.get())) return vision_error(VisionErrc::kIo, path.string(), "read failed");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1)
    return vision_error(VisionErrc::kIo, path.string(), "OpenSSL SHA-256 final failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

VisionResult<std::string> parse_checksum_line(std::string_view text, std::string_view expected_name,
                                              const std::string& location) {
  auto bad = [&](const std::string& why) {
    return vision_error(VisionErrc::kBadChecksumFile, location, why);
  };
  if (text.size() < 64) return bad("shorter than a SHA-256 digest (64 hex digits)");
  std::string digest;
  digest.reserve(64);
  for (std::size_t i = 0; i < 64; ++i) {
    if (!is_hex(text[i])) return bad("the first 64 characters are not a hex SHA-256 digest");
    const char c = text[i];
    digest += static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  }
  std::string_view rest = text.substr(64);
  const auto line_end = rest.find_first_of("\r\n");
  rest = rest.substr(0, line_end);
  if (rest.empty()) return digest;  // a bare digest names no file: nothing more to check
  if (rest[0] != ' ' && rest[0] != '\t') return bad("the digest is longer than 64 hex digits");
  const auto name_start = rest.find_first_not_of(" \t*");
  if (name_start == std::string_view::npos) return digest;
  std::string_view name = rest.substr(name_start);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  // sha256sum may have been run from another directory: compare the last path component.
  const auto slash = name.find_last_of('/');
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  if (name != expected_name)
    return bad("names '" + std::string(name) + "', expected '" + std::string(expected_name) + "'");
  return digest;
}

}  // namespace sf::binance
