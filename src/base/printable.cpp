#include "base/printable.h"

namespace bulwark {

std::string printable_text(std::string_view bytes, size_t max_bytes, Backslash backslash)
{
    static const char* digits = "0123456789abcdef";
    auto plain = [backslash](unsigned char c) { return c >= 0x20 && c < 0x7f && (c != '\\' || backslash == Backslash::Keep); };
    size_t full = 0;
    for (unsigned char c : bytes)
        full += plain(c) ? 1 : 4;
    // When everything does not fit, leave room for "..." and never cut an escape in half.
    bool cut = full > max_bytes;
    size_t budget = !cut ? full : (max_bytes >= 3 ? max_bytes - 3 : 0);
    std::string out;
    out.reserve(budget + 3);
    for (unsigned char c : bytes) {
        size_t need = plain(c) ? 1 : 4;
        if (out.size() + need > budget)
            break;
        if (need == 1) {
            out.push_back(static_cast<char>(c));
        } else {
            char escaped[4] = { '\\', 'x', digits[c >> 4], digits[c & 15] };
            out.append(escaped, 4);
        }
    }
    if (cut && max_bytes >= 3)
        out += "...";
    return out;
}

} // namespace bulwark
