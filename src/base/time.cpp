#include "base/time.h"

#include <chrono>
#include <ctime>

namespace bulwark {

int64_t now_unix_ms()
{
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_rfc3339(int64_t unix_ms)
{
    time_t secs = static_cast<time_t>(unix_ms / 1000);
    struct tm tm {};
    ::gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(unix_ms % 1000));
    return out;
}

std::string now_rfc3339() { return format_rfc3339(now_unix_ms()); }

uint64_t monotonic_ns()
{
    using namespace std::chrono;
    return static_cast<uint64_t>(duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count());
}

}  // namespace bulwark
