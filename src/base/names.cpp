#include "base/names.h"

#include <cstdio>

namespace bulwark {

VoidResult validate_name(const std::string& name, const std::string& what)
{
    if (name.empty())
        return Error(ErrorKind::InvalidArgument, what + " must not be empty");
    if (name.size() > 63)
        return Error(ErrorKind::InvalidArgument, what + " '" + name.substr(0, 63) + "...' is longer than 63 characters");
    auto is_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!is_alnum(name[0]))
        return Error(ErrorKind::InvalidArgument, what + " must start with a lowercase letter or a digit");
    for (char c : name) {
        if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
            std::string shown = (c >= 0x20 && c < 0x7f) ? std::string(1, c) : std::string(hex);
            return Error(ErrorKind::InvalidArgument, what + " may contain only a-z, 0-9, '.', '_' and '-' (found '" + shown + "')");
        }
    }
    return {};
}

}  // namespace bulwark
