// GPT-2's byte-level alphabet (bytes_to_unicode), as tokenizer.json's ByteLevel pre-tokenizer and decoder
// spell bytes: each of the 256 bytes is one printable character (' ' is "Ġ", '\n' is "Ċ"), so a vocabulary of
// byte strings can be written as JSON text. No LibTorch here.
#pragma once

#include <string>
#include <string_view>

namespace grpo {

// The byte-level spelling of `bytes`, as UTF-8: each byte becomes its character (one or two bytes).
std::string byte_level_encode(std::string_view bytes);

// The bytes the byte-level spelling `spelled` stands for, into `bytes` (cleared first); false when
// `spelled` is not valid UTF-8 or a character is outside the alphabet (the ByteLevel decoder then falls
// back to the spelling's own UTF-8, as Rust's does), leaving `bytes` unspecified.
bool byte_level_decode(std::string_view spelled, std::string& bytes);

}  // namespace grpo
