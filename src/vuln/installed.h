// What a Debian image has installed, as the matcher needs it: the OS identity and the
// packages. The image's /etc/os-release and /var/lib/dpkg/status are parsed by the inspection
// parsers (inspect/os_release.h, inspect/dpkg_status.h: limits, quoting, malformed stanzas
// skipped with warnings); the functions here only pick out what matching uses.
#pragma once

#include <string>
#include <vector>

namespace bulwark::inspect {
struct OsRelease;
struct DpkgStatus;
} // namespace bulwark::inspect

namespace bulwark::vuln {

struct OsIdentity {
    std::string id; // os-release ID: "debian"
    std::string version_id; // os-release VERSION_ID: "12"; "" on testing/unstable
};

struct InstalledPackage {
    std::string name; // the binary package: "libssl3"
    std::string version; // its version: "3.0.11-1~deb12u2"
    std::string architecture; // "amd64", "all", ... ("" when unknown)
    std::string source_name; // "openssl"; "" means the same as name
    std::string source_version; // "" means the same as version
};

// ID and VERSION_ID, as the file gives them (ID is "linux" when absent). They are not
// validated here: the matcher refuses any ID but "debian", and a VERSION_ID no advisory names
// matches only the entries for every release.
OsIdentity os_identity_from(const inspect::OsRelease& os);

// The packages whose files are on disk, in the order of the status file: the installed ones
// and the incomplete ones (half-installed, unpacked, half-configured, reinstreq), whose
// files, vulnerable or not, are there too. Removed (config-files) and not-installed packages
// are left out, as are the stanzas the parser skipped: the caller decides what the parser's
// diagnostics (status.diagnostics.truncated above all) mean for the assessment.
std::vector<InstalledPackage> installed_from(const inspect::DpkgStatus& status);

} // namespace bulwark::vuln
