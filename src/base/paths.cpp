#include "base/paths.h"

#include <cstdlib>

namespace bulwark {

std::string default_home()
{
    if (const char* h = std::getenv("BULWARK_HOME"); h && *h)
        return h;
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
        return std::string(x) + "/bulwark";
    const char* home = std::getenv("HOME");
    return std::string(home && *home ? home : "/root") + "/.local/share/bulwark";
}

}  // namespace bulwark
