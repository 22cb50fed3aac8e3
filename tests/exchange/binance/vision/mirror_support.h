// Test helper: files in data.binance.vision's form (a zip holding one CSV, a .CHECKSUM beside it),
// for local mirrors built from the real data in ../shared/data.
#pragma once

#include <gtest/gtest.h>
#include <zip.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "exchange/binance/vision/checksum.h"

namespace sf::testing {

namespace fs = std::filesystem;

inline void write_file(const fs::path& path, std::string_view content) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}


// A zip as Binance packs it: one member <name>.csv inside <name>.zip.
inline void write_zip(const fs::path& zip_path, const std::string& content) {
  fs::create_directories(zip_path.parent_path());
  int error = 0;
  zip_t* archive = zip_open(zip_path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(archive, nullptr) << zip_path;
  zip_source_t* source = zip_source_buffer(archive, content.data(), content.size(), 0);
  ASSERT_NE(source, nullptr);
  const std::string member = zip_path.stem().string() + ".csv";
  const zip_int64_t index = zip_file_add(archive, member.c_str(), source, ZIP_FL_OVERWRITE);
  ASSERT_GE(index, 0);
  // Deflate like Binance, at the fastest level: the mirror is rebuilt in every test process.
  ASSERT_EQ(zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 1),
            0);
  ASSERT_EQ(zip_close(archive), 0) << zip_path;
}

inline void write_checksum(const fs::path& zip) {
  auto digest = binance::sha256_file_hex(zip);
  ASSERT_TRUE(digest.ok()) << digest.error().to_string();
  fs::path checksum = zip;
  checksum += ".CHECKSUM";
  write_file(checksum, *digest + "  " + zip.filename().string() + "\n");
}


}  // namespace sf::testing
