#include "vuln/installed.h"

#include "inspect/dpkg_status.h"
#include "inspect/os_release.h"

namespace bulwark::vuln {

OsIdentity os_identity_from(const inspect::OsRelease& os)
{
    return OsIdentity { os.id, os.version_id };
}

std::vector<InstalledPackage> installed_from(const inspect::DpkgStatus& status)
{
    std::vector<InstalledPackage> out;
    out.reserve(status.installed.size() + status.incomplete.size());
    auto add = [&](const inspect::DpkgPackage& p) {
        out.push_back(InstalledPackage { p.name, p.version, p.architecture, p.source_name, p.source_version });
    };
    // Both lists are in file order; merged by the line their stanza starts at.
    auto installed = status.installed.begin();
    auto incomplete = status.incomplete.begin();
    while (installed != status.installed.end() || incomplete != status.incomplete.end()) {
        if (incomplete == status.incomplete.end() || (installed != status.installed.end() && installed->line < incomplete->line))
            add(*installed++);
        else
            add(*incomplete++);
    }
    return out;
}

} // namespace bulwark::vuln
