// The dpkg status database (/var/lib/dpkg/status): which Debian packages an image has.
//
// Format (deb822(5), dpkg(1)): stanzas separated by blank lines (or lines of only spaces and
// tabs). A stanza is "Field: value" lines; a line starting with a space or tab continues the
// previous field. Field names are case-insensitive. The fields read here:
//   Package, Version, Architecture, Status ("<want> <flag> <state>"), Source ("name" or
//   "name (version)"), Installed-Size (KiB), Maintainer, Essential, Description (the first
//   line, the synopsis, only).
// A package whose Status state is installed, triggers-awaited or triggers-pending with flag
// "ok" is installed (files unpacked and configured, as dpkg-query shows it); half-installed,
// unpacked and half-configured packages, and any with flag "reinstreq", are reported apart as
// incomplete. config-files and not-installed stanzas are only counted.
//
// A malformed stanza (no Package, an invalid name or version, no or a bad Status) is skipped
// with a warning; a malformed line inside a stanza is skipped with a warning.
// Limits: 64 MiB of input, 8 M lines, 64 KiB a line, 512 fields a stanza, 200 000 packages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inspect/parse.h"

namespace bulwark::inspect {

inline constexpr LineLimits k_dpkg_status_limits { 64ULL << 20, 8u << 20, 64 * 1024 };
inline constexpr size_t k_dpkg_max_fields_per_stanza = 512;
inline constexpr size_t k_dpkg_max_packages = 200000;

struct DpkgPackage {
    std::string name;
    std::string version;
    std::string architecture;
    std::string source_name; // from Source, else the package name
    std::string source_version; // from "Source: name (version)", else the binary version
    std::optional<uint64_t> installed_size_kib;
    std::string maintainer;
    std::string description; // the synopsis: the first line of Description
    bool essential = false;
    std::string want; // the three words of Status
    std::string flag;
    std::string state;
    size_t line = 0; // where the stanza starts
};

struct DpkgStatus {
    std::vector<DpkgPackage> installed;
    std::vector<DpkgPackage> incomplete; // half-installed, unpacked, half-configured, reinstreq
    size_t config_files = 0; // removed packages whose configuration files remain
    size_t not_installed = 0;
    Diagnostics diagnostics;
};

DpkgStatus parse_dpkg_status(std::string_view text);

// Checks on names and versions as dpkg writes them (policy §5.6.1, §5.6.12).
bool valid_dpkg_package_name(std::string_view name);
bool valid_dpkg_version(std::string_view version);

} // namespace bulwark::inspect
