// Where Bulwark keeps its state by default: $BULWARK_HOME, else $XDG_DATA_HOME/bulwark, else
// ~/.local/share/bulwark. Shared by bulwarkd and the CLI so they always agree.
#pragma once

#include <string>

namespace bulwark {

std::string default_home();

}  // namespace bulwark
