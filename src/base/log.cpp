#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "base/time.h"

namespace bulwark::log {

static std::atomic<Level> g_level{Level::Info};
static std::mutex g_mutex;

void set_level(Level level) { g_level = level; }

void write(Level level, const std::string& message)
{
    if (level < g_level.load())
        return;
    static const char* names[] = {"debug", "info", "warn", "error"};
    std::lock_guard lock(g_mutex);
    std::fprintf(stderr, "%s %s %s\n", now_rfc3339().c_str(), names[static_cast<int>(level)], message.c_str());
    std::fflush(stderr);
}

}  // namespace bulwark::log
