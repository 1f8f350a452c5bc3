// The safe set for names of images, versions, guests and snapshots. Names end up in file
// paths, QEMU arguments and logs, so the set is small on purpose.
#pragma once

#include <string>

#include "base/result.h"

namespace bulwark {

// 1 to 63 characters: lowercase letters, digits, '.', '_' and '-', starting with a letter or
// a digit. `what` names the thing in the error ("guest name", "image version").
VoidResult validate_name(const std::string& name, const std::string& what);

}  // namespace bulwark
