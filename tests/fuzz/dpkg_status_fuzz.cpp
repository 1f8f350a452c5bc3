// Fuzzes the package metadata parsers of golden-image inspection (src/inspect): the dpkg
// status database (and its conversion to the vulnerability matcher's input) and, on the same
// bytes, os-release.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string_view>

#include "inspect/dpkg_status.h"
#include "inspect/os_release.h"
#include "vuln/installed.h"

using namespace bulwark::inspect;

static void check(bool condition)
{
    if (!condition)
        std::abort();
}

static void check_diagnostics(const Diagnostics& d)
{
    check(d.warnings.size() <= k_max_warnings);
    check(d.dropped_warnings == 0 || d.warnings.size() == k_max_warnings);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    std::string_view text(reinterpret_cast<const char*>(data), size);

    DpkgStatus status = parse_dpkg_status(text);
    check_diagnostics(status.diagnostics);
    check(status.installed.size() + status.incomplete.size() <= k_dpkg_max_packages);
    for (const auto* list : { &status.installed, &status.incomplete }) {
        for (const auto& p : *list) {
            // What the vulnerability matcher relies on.
            check(valid_dpkg_package_name(p.name));
            check(valid_dpkg_version(p.version));
            check(valid_dpkg_package_name(p.source_name));
            check(valid_dpkg_version(p.source_version));
            check(p.line >= 1);
            check(p.flag == "ok" || p.flag == "reinstreq");
            check(p.state != "not-installed" && p.state != "config-files");
        }
    }
    for (const auto& p : status.installed)
        check(p.flag == "ok" && (p.state == "installed" || p.state == "triggers-awaited" || p.state == "triggers-pending"));
    // What the matcher is given: every package on disk, once.
    check(bulwark::vuln::installed_from(status).size() == status.installed.size() + status.incomplete.size());

    OsRelease os = parse_os_release(text);
    check_diagnostics(os.diagnostics);
    check(os.fields.size() <= k_os_release_max_keys);
    check(os.id_like.size() <= k_os_release_max_id_like);
    check(!os.id.empty() || os.fields.count("ID"));
    return 0;
}
