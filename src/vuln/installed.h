// What a Debian image has installed, as the matcher needs it: the OS identity from
// /etc/os-release and the packages from /var/lib/dpkg/status. Both files come from an
// untrusted image: sizes and counts are limited and every value is validated.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace bulwark::vuln {

struct OsIdentity {
    std::string id; // os-release ID: "debian"
    std::string version_id; // os-release VERSION_ID: "12"; "" on testing/unstable
};

inline constexpr size_t k_max_os_release_bytes = size_t { 64 } * 1024;

// Parses os-release(5) text: KEY=VALUE lines, values optionally in single or double quotes.
// ID defaults to "linux" as os-release(5) says. ID and VERSION_ID must be short and made of
// [a-z0-9._-] (an InvalidArgument error otherwise).
Result<OsIdentity> parse_os_release(std::string_view text);

struct InstalledPackage {
    std::string name; // the binary package: "libssl3"
    std::string version; // its version: "3.0.11-1~deb12u2"
    std::string architecture; // "amd64", "all", ... ("" when unknown)
    std::string source_name; // "openssl"; "" means the same as name
    std::string source_version; // "" means the same as version
};

struct DpkgStatusLimits {
    size_t max_bytes = 64 << 20;
    size_t max_packages = 100000;
};

// Parses dpkg's status file (deb822 paragraphs). Only packages whose files are on disk are
// returned: every state except not-installed and config-files. "Source: name (version)"
// gives the source package; without it the source is the binary package itself, and without
// the "(version)" the source version is the binary version. Corrupt is returned for a
// paragraph without Package or Version, an invalid package name or an invalid version.
Result<std::vector<InstalledPackage>> parse_dpkg_status(std::string_view text, const DpkgStatusLimits& limits = {});

} // namespace bulwark::vuln
