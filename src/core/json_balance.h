// Whether a JSON text's braces and brackets balance and match (outside strings).
//
// simdjson's On Demand API (3.0.1, Debian 12) does not check this before it navigates: on an
// unbalanced document a field lookup can walk past the last structural and read out of bounds.
// `printf '{"a":{"b":1}\n' | streamforge normalize` died with SIGSEGV that way (issue 16). Every
// On Demand parse of outside input (WebSocket frames, REST bodies, bus records, files) checks this
// first and reports malformed JSON instead.
//
// It sits in front of every frame's parse, so it is vectorised like simdjson's own first stage:
// 64 bytes at a time, quotes to a string mask by carry-less multiplication (prefix XOR), then only
// the brackets outside strings are visited (~50 ns for a 230-byte depth frame against ~250 ns
// byte by byte). Text with a backslash (rare in market data) takes the byte loop, which handles
// escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__AVX2__) && defined(__PCLMUL__)
#include <immintrin.h>
#define SF_JSON_BALANCE_SIMD 1
#endif

namespace sf {
namespace json_balance_detail {

inline constexpr std::size_t kMaxDepth = 1024;  // simdjson's own default maximum depth

struct Stack {
  char open[kMaxDepth];
  std::size_t depth = 0;
  // A bracket outside strings; false when it closes the wrong one or nests too deep.
  bool take(char c) noexcept {
    switch (c) {
      case '{':
      case '[':
        if (depth == kMaxDepth) return false;
        open[depth++] = c;
        return true;
      case '}':
        return depth != 0 && open[--depth] == '{';
      case ']':
        return depth != 0 && open[--depth] == '[';
      default:
        return true;
    }
  }
};

inline bool balanced_bytewise(std::string_view text) noexcept {
  Stack stack;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    const char c = *p++;
    if (c == '"') {
      // Skip the string: a backslash escapes the next byte, whatever it is.
      while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
      if (p >= end) return false;  // unterminated
      ++p;
    } else if (!stack.take(c)) {
      return false;
    }
  }
  return stack.depth == 0;
}

#ifdef SF_JSON_BALANCE_SIMD
// Bit i set where byte i of the 64 equals c.
inline std::uint64_t eq_mask(__m256i lo, __m256i hi, char c) noexcept {
  const __m256i v = _mm256_set1_epi8(c);
  const auto l = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, v)));
  const auto h = static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, v)));
  return std::uint64_t{l} | (std::uint64_t{h} << 32);
}

// Bit i = XOR of bits 0..i: set from an opening quote up to (not including) its closing one.
inline std::uint64_t prefix_xor(std::uint64_t bits) noexcept {
  const __m128i all_ones = _mm_set1_epi8(-1);
  const __m128i product =
      _mm_clmulepi64_si128(_mm_set_epi64x(0, static_cast<long long>(bits)), all_ones, 0);
  return static_cast<std::uint64_t>(_mm_cvtsi128_si64(product));
}

// Every quote opens or closes a string as long as the text has no backslash; at the first block
// with one, the byte loop decides.
inline bool balanced_simd(std::string_view text) noexcept {
  Stack stack;
  std::uint64_t inside = 0;  // all ones while the previous block ended inside a string
  for (std::size_t at = 0; at < text.size(); at += 64) {
    const char* block = text.data() + at;
    alignas(32) char tail[64];
    if (text.size() - at < 64) {  // zero bytes match nothing
      std::memset(tail, 0, sizeof tail);
      std::memcpy(tail, block, text.size() - at);
      block = tail;
    }
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
    if (eq_mask(lo, hi, '\\') != 0) return balanced_bytewise(text);  // escapes: the byte loop
    const std::uint64_t strings = prefix_xor(eq_mask(lo, hi, '"')) ^ inside;
    inside = static_cast<std::uint64_t>(static_cast<std::int64_t>(strings) >> 63);
    std::uint64_t brackets = (eq_mask(lo, hi, '{') | eq_mask(lo, hi, '}') | eq_mask(lo, hi, '[') |
                              eq_mask(lo, hi, ']')) &
                             ~strings;
    while (brackets != 0) {
      if (!stack.take(block[__builtin_ctzll(brackets)])) return false;
      brackets &= brackets - 1;
    }
  }
  return stack.depth == 0 && inside == 0;
}
#endif

}  // namespace json_balance_detail

inline bool json_balanced(std::string_view text) noexcept {
#ifdef SF_JSON_BALANCE_SIMD
  return json_balance_detail::balanced_simd(text);
#else
  return json_balance_detail::balanced_bytewise(text);
#endif
}

}  // namespace sf
