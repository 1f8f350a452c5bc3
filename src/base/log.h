// Logging to stderr (bulwarkd redirects it to its log file). Secrets are never passed here.
#pragma once

#include <string>

namespace bulwark::log {

enum class Level { Debug, Info, Warn, Error };

void set_level(Level level);
void write(Level level, const std::string& message);
inline void debug(const std::string& m) { write(Level::Debug, m); }
inline void info(const std::string& m) { write(Level::Info, m); }
inline void warn(const std::string& m) { write(Level::Warn, m); }
inline void error(const std::string& m) { write(Level::Error, m); }

}  // namespace bulwark::log
