// Untrusted bytes made safe to print: in a terminal, a log line, a message, a JSON string that
// someone reads with jq -r.
//
// Printable ASCII (0x20-0x7e) is kept; every other byte (C0 controls, DEL, and all of
// 0x80-0xff, which may hold C1 controls such as CSI in UTF-8) becomes the four characters \xNN
// (lowercase hex). A backslash is escaped as well (\x5c) unless the caller keeps it: escaped,
// the result is unambiguous (every backslash in it starts an escape); kept, the function is
// idempotent, which is what re-checking text already escaped this way needs.
//
// The result is at most max_bytes long. A text that does not fit is cut before the escape or
// byte that would pass the limit, never inside an escape, and ends with "..." (when max_bytes
// is at least 3; below that the result is empty).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bulwark {

enum class Backslash { Escape, Keep };

std::string printable_text(std::string_view bytes, size_t max_bytes, Backslash backslash = Backslash::Escape);

} // namespace bulwark
