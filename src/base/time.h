#pragma once

#include <cstdint>
#include <string>

namespace bulwark {

// Wall-clock time as RFC 3339 UTC with milliseconds, e.g. 2026-11-24T10:00:00.123Z.
std::string now_rfc3339();
std::string format_rfc3339(int64_t unix_ms);
int64_t now_unix_ms();
// Monotonic clock in nanoseconds, for durations.
uint64_t monotonic_ns();

}  // namespace bulwark
