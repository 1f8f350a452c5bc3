#pragma once

#include <optional>
#include <string>

namespace bulwark {

std::string base64_encode(const std::string& in);
// Decodes standard base64 (padding optional). nullopt on any invalid character.
std::optional<std::string> base64_decode(const std::string& in);

}  // namespace bulwark
