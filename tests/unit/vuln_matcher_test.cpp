// The matcher: OSV range semantics with dpkg ordering, source and binary name matching, the
// real Debian feed against an old bookworm image and against this machine's packages, what
// the matcher takes from the inspection's dpkg status and os-release parsers, and the speed of
// matching a large feed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <gtest/gtest.h>
#include <random>
#include <set>

#include "base/system.h"
#include "inspect/dpkg_status.h"
#include "inspect/os_release.h"
#include "test_util.h"
#include "vuln/matcher.h"

namespace bulwark::vuln {
namespace {

using test::fails_with;
using test::is_ok;

std::string data_dir()
{
    return sys::dirname(__FILE__) + "/../data/osv";
}

const OsIdentity k_bookworm { "debian", "12" };

OsvAffected affected_from(const std::string& entry_json)
{
    Json record = { { "id", "TEST-1" }, { "affected", Json::array({ Json::parse(entry_json) }) } };
    auto r = parse_osv_record(record);
    EXPECT_TRUE(is_ok(r));
    if (r.is_error() || !r.value().advisory)
        return OsvAffected {};
    return r.value().advisory->affected.at(0);
}

// "yes" / "no", and the fixed version reported when affected.
std::string verdict(const OsvAffected& a, const std::string& version)
{
    auto v = DpkgVersion::parse(version);
    EXPECT_TRUE(is_ok(v)) << version;
    if (v.is_error())
        return "invalid";
    std::optional<std::string> fixed;
    if (!affected_includes(a, v.value(), &fixed))
        return "no";
    return fixed ? "yes, fixed in " + *fixed : "yes";
}

TEST(VulnMatch, RangeSemantics)
{
    {
        SCOPED_TRACE("introduced 0, fixed: fixed is exclusive, 0 is the very beginning");
        auto a = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p1"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-3"}]}]})");
        EXPECT_EQ(verdict(a, "1.2-2"), "yes, fixed in 1.2-3");
        EXPECT_EQ(verdict(a, "1.2-3~deb12u1"), "yes, fixed in 1.2-3");
        EXPECT_EQ(verdict(a, "1.2-3"), "no");
        EXPECT_EQ(verdict(a, "1.2-03"), "no") << "dpkg-equal to the fixed version";
        EXPECT_EQ(verdict(a, "1.2-3+b1"), "no");
        EXPECT_EQ(verdict(a, "0~"), "yes, fixed in 1.2-3") << "'0' is before everything, even 0~";
        EXPECT_EQ(verdict(a, "1:0.1"), "no") << "an epoch outranks everything after it";
    }
    {
        SCOPED_TRACE("two intervals in one range, events given out of order");
        auto a = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p2"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "4.0"}, {"introduced": "3.0"}, {"fixed": "2.0"}, {"introduced": "1.0"}]}]})");
        EXPECT_EQ(verdict(a, "0.9"), "no");
        EXPECT_EQ(verdict(a, "1.0"), "yes, fixed in 2.0") << "introduced is inclusive";
        EXPECT_EQ(verdict(a, "1.5"), "yes, fixed in 2.0");
        EXPECT_EQ(verdict(a, "2.0"), "no");
        EXPECT_EQ(verdict(a, "2.5"), "no");
        EXPECT_EQ(verdict(a, "3.0~rc1"), "no");
        EXPECT_EQ(verdict(a, "3.0"), "yes, fixed in 4.0");
        EXPECT_EQ(verdict(a, "4.0"), "no");
        EXPECT_EQ(verdict(a, "10.0"), "no");
    }
    {
        SCOPED_TRACE("last_affected is inclusive, with no fixed version to report");
        auto a = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p3"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"last_affected": "1.5"}]}]})");
        EXPECT_EQ(verdict(a, "0.9"), "no");
        EXPECT_EQ(verdict(a, "1.5~"), "yes");
        EXPECT_EQ(verdict(a, "1.5"), "yes");
        EXPECT_EQ(verdict(a, "1.5-0"), "yes");
        EXPECT_EQ(verdict(a, "1.5-1"), "no");
        EXPECT_EQ(verdict(a, "1.5.1"), "no");
    }
    {
        SCOPED_TRACE("introduced only: every later version; a limit ends the range");
        auto a = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p4"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]})");
        EXPECT_EQ(verdict(a, "0.1"), "yes");
        EXPECT_EQ(verdict(a, "99:99"), "yes");
        auto l = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p4"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": "2.0"}]}]})");
        EXPECT_EQ(verdict(l, "1.9"), "yes");
        EXPECT_EQ(verdict(l, "2.0"), "no");
    }
    {
        SCOPED_TRACE("versions[] are matched dpkg-equal; several ranges are OR-ed");
        auto a = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p5"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]},
                       {"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "3.0"}]}],
            "versions": ["5.0-1", "0:6.0"]})");
        EXPECT_EQ(verdict(a, "0.5"), "yes, fixed in 1.0");
        EXPECT_EQ(verdict(a, "1.5"), "no");
        EXPECT_EQ(verdict(a, "2.5"), "yes, fixed in 3.0");
        EXPECT_EQ(verdict(a, "5.0-1"), "yes");
        EXPECT_EQ(verdict(a, "5.00-01"), "yes");
        EXPECT_EQ(verdict(a, "6.0"), "yes");
        EXPECT_EQ(verdict(a, "5.0-2"), "no");
    }
    {
        SCOPED_TRACE("GIT and SEMVER ranges are not evaluated against package versions");
        auto a = affected_from(R"({"package": {"ecosystem": "Debian:12", "name": "p6"},
            "ranges": [{"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "0"}]},
                       {"type": "SEMVER", "events": [{"introduced": "0"}]}]})");
        EXPECT_EQ(verdict(a, "1.0"), "no");
    }
}

// An old bookworm image: its os-release, and the packages as dpkg's status file lists them,
// at the versions just before each fix in tests/data/osv (from the changelogs; see its
// README).
const char* k_bookworm_os_release = R"os(PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
)os";

const char* k_old_status = R"(Package: libc6
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u2
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.

Package: libc6
Status: install ok installed
Architecture: i386
Source: glibc
Version: 2.36-9+deb12u2

Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl
Version: 3.0.11-1~deb12u1

Package: openssl
Status: install ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u1

Package: libssl1.1
Status: deinstall ok config-files
Architecture: amd64
Source: openssl
Version: 1.1.1n-0+deb11u4

Package: openssh-client
Status: install ok installed
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u1

Package: curl
Status: install ok installed
Architecture: amd64
Version: 7.88.1-10+deb12u3

Package: libcurl4
Status: install ok installed
Architecture: amd64
Source: curl
Version: 7.88.1-10+deb12u3

Package: libwebp7
Status: install ok installed
Architecture: amd64
Source: libwebp
Version: 1.2.4-0.2

Package: libnghttp2-14
Status: install ok installed
Architecture: amd64
Source: nghttp2
Version: 1.52.0-1

Package: libexpat1
Status: install ok installed
Architecture: amd64
Source: expat
Version: 2.5.0-1

Package: xz-utils
Status: install ok installed
Architecture: amd64
Version: 5.4.1-0.2

Package: liblzma5
Status: install ok installed
Architecture: amd64
Source: xz-utils
Version: 5.4.1-0.2

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: tar
Status: install ok installed
Architecture: amd64
Version: 1.34+dfsg-1.2

Package: git
Status: install ok installed
Architecture: amd64
Version: 1:2.39.2-1.1

Package: libsystemd0
Status: install ok installed
Architecture: amd64
Source: systemd
Version: 252.20-1~deb12u1

Package: libgnutls30
Status: install ok installed
Architecture: amd64
Source: gnutls28
Version: 3.7.9-2+deb12u1

Package: perl-base
Status: install ok installed
Architecture: amd64
Source: perl
Version: 5.36.0-7

Package: libsqlite3-0
Status: install ok installed
Architecture: amd64
Source: sqlite3
Version: 3.40.1-2

Package: libglib2.0-0
Status: install ok installed
Architecture: amd64
Source: glib2.0
Version: 2.74.6-2

Package: bash
Essential: yes
Status: install ok installed
Architecture: amd64
Source: bash (5.2.15-2)
Version: 5.2.15-2+b8

Package: removed-thing
Status: purge ok not-installed
Architecture: amd64
Version: 1.0
)";

AdvisoryIndex load_real_feed()
{
    auto r = load_feed(data_dir());
    EXPECT_TRUE(is_ok(r));
    return AdvisoryIndex(r.is_ok() ? std::move(r.value().feed) : Feed {});
}

TEST(VulnMatch, OldBookwormImageMatchesTheRealFeed)
{
    AdvisoryIndex index = load_real_feed();
    inspect::OsRelease os_release = inspect::parse_os_release(k_bookworm_os_release);
    ASSERT_TRUE(os_release.diagnostics.warnings.empty()) << os_release.diagnostics.warnings[0].message;
    OsIdentity os = os_identity_from(os_release);
    EXPECT_EQ(os.id, "debian");
    EXPECT_EQ(os.version_id, "12");
    inspect::DpkgStatus status = inspect::parse_dpkg_status(k_old_status);
    ASSERT_TRUE(status.diagnostics.warnings.empty()) << "nothing skipped: " << status.diagnostics.warnings[0].message;
    auto packages = installed_from(status);
    ASSERT_EQ(packages.size(), 21u) << "config-files and not-installed packages are left out";
    auto r = index.match(os, packages);
    ASSERT_TRUE(is_ok(r));
    const auto& findings = r.value();

    std::set<std::string> got;
    for (const auto& f : findings)
        got.insert(f.advisory_id + " " + f.package + (f.architecture == "i386" ? ":i386" : ""));
    const std::set<std::string> expected = {
        "DEBIAN-CVE-2023-4911 libc6",
        "DEBIAN-CVE-2023-4911 libc6:i386",
        "DEBIAN-CVE-2024-2961 libc6",
        "DEBIAN-CVE-2024-2961 libc6:i386",
        "DEBIAN-CVE-2023-5363 libssl3",
        "DEBIAN-CVE-2024-6119 libssl3",
        "DEBIAN-CVE-2023-5363 openssl",
        "DEBIAN-CVE-2024-6119 openssl",
        // Not CVE-2023-38408: it was fixed in 1:9.2p1-2+deb12u1, the installed version.
        "DEBIAN-CVE-2023-48795 openssh-client",
        "DEBIAN-CVE-2025-26465 openssh-client",
        "DEBIAN-CVE-2023-38545 curl",
        "DEBIAN-CVE-2023-38546 curl",
        "DEBIAN-CVE-2023-38545 libcurl4",
        "DEBIAN-CVE-2023-38546 libcurl4",
        "DEBIAN-CVE-2023-4863 libwebp7",
        "DEBIAN-CVE-2023-44487 libnghttp2-14",
        "DEBIAN-CVE-2024-45492 libexpat1",
        "DEBIAN-CVE-2025-31115 xz-utils",
        "DEBIAN-CVE-2025-31115 liblzma5",
        // Not zlib: bookworm's 1:1.2.13.dfsg-1 is newer than the CVE-2022-37434 fix.
        "DEBIAN-CVE-2023-39804 tar",
        "DEBIAN-CVE-2024-32002 git",
        "DEBIAN-CVE-2023-7008 libsystemd0",
        "DEBIAN-CVE-2024-0553 libgnutls30",
        "DEBIAN-CVE-2023-47038 perl-base",
        "DEBIAN-CVE-2023-7104 libsqlite3-0",
        "DEBIAN-CVE-2024-34397 libglib2.0-0",
    };
    EXPECT_EQ(got, expected);
    EXPECT_EQ(findings.size(), expected.size()) << "one finding per advisory and installed package";

    // Most severe first: the two 9.8s, then 8.8 (libwebp), 7.8 (glibc x2), 7.5 (nghttp2).
    ASSERT_GE(findings.size(), 6u);
    EXPECT_EQ(findings[0].advisory_id, "DEBIAN-CVE-2023-38545");
    EXPECT_EQ(findings[0].package, "curl");
    EXPECT_EQ(findings[1].package, "libcurl4");
    EXPECT_EQ(findings[2].advisory_id, "DEBIAN-CVE-2023-4863");
    EXPECT_EQ(findings[3].advisory_id, "DEBIAN-CVE-2023-4911");
    EXPECT_EQ(findings[5].advisory_id, "DEBIAN-CVE-2023-44487");
    for (size_t i = 1; i < findings.size(); ++i)
        EXPECT_GE(findings[i - 1].severity, findings[i].severity);

    auto find = [&](const std::string& id, const std::string& package) -> const Finding* {
        for (const auto& f : findings) {
            if (f.advisory_id == id && f.package == package)
                return &f;
        }
        return nullptr;
    };
    const Finding* curl = find("DEBIAN-CVE-2023-38545", "libcurl4");
    ASSERT_NE(curl, nullptr);
    EXPECT_EQ(curl->aliases, std::vector<std::string> { "CVE-2023-38545" });
    EXPECT_EQ(curl->source_package, "curl");
    EXPECT_EQ(curl->matched_name, "curl");
    EXPECT_EQ(curl->version, "7.88.1-10+deb12u3");
    EXPECT_EQ(curl->matched_version, "7.88.1-10+deb12u3");
    EXPECT_EQ(curl->fixed_version, "7.88.1-10+deb12u4");
    EXPECT_EQ(curl->severity, Severity::Critical);
    EXPECT_DOUBLE_EQ(curl->score.value_or(0), 9.8);
    EXPECT_EQ(curl->summary, "SOCKS5 heap buffer overflow in libcurl");

    const Finding* ssl = find("DEBIAN-CVE-2023-5363", "libssl3");
    ASSERT_NE(ssl, nullptr);
    EXPECT_EQ(ssl->fixed_version, "3.0.11-1~deb12u2") << "a tilde revision above 3.0.11-1~deb12u1";
    EXPECT_EQ(ssl->severity, Severity::Medium) << "from the urgency";
    EXPECT_FALSE(ssl->score.has_value());

    const Finding* ssh = find("DEBIAN-CVE-2023-48795", "openssh-client");
    ASSERT_NE(ssh, nullptr);
    EXPECT_EQ(ssh->fixed_version, "1:9.2p1-2+deb12u2");
    EXPECT_DOUBLE_EQ(ssh->score.value_or(0), 5.9);
}

TEST(VulnMatch, EachFixedVersionIsNotAffectedAndTheOneBeforeIs)
{
    AdvisoryIndex index = load_real_feed();
    ASSERT_EQ(index.feed().advisories.size(), 21u);
    for (const auto& adv : index.feed().advisories) {
        SCOPED_TRACE(adv.id);
        const OsvAffected& a = adv.affected.at(0);
        const std::string& fixed = a.ranges.at(0).events.at(1).version;
        InstalledPackage at_fix { a.name + "-bin", fixed, "amd64", a.name, "" };
        auto none = index.match(k_bookworm, { at_fix });
        ASSERT_TRUE(is_ok(none));
        for (const auto& f : none.value())
            EXPECT_NE(f.advisory_id, adv.id) << "the fixed version " << fixed << " is not affected";
        // The same version with a "~" appended sorts just before it: affected.
        InstalledPackage before { a.name + "-bin", fixed + "~", "amd64", a.name, "" };
        auto some = index.match(k_bookworm, { before });
        ASSERT_TRUE(is_ok(some));
        EXPECT_TRUE(
            std::any_of(some.value().begin(), some.value().end(), [&](const Finding& f) { return f.advisory_id == adv.id; }));
    }
}

TEST(VulnMatch, ThisMachinesPackagesAreNotAffected)
{
    // This machine runs Debian 12 with current security updates, newer than every fix in
    // tests/data/osv.
    auto os_text = sys::read_file("/etc/os-release", inspect::k_os_release_limits.max_bytes);
    ASSERT_TRUE(is_ok(os_text));
    OsIdentity os = os_identity_from(inspect::parse_os_release(os_text.value()));
    ASSERT_EQ(os.id, "debian");
    ASSERT_EQ(os.version_id, "12");
    auto status_text = sys::read_file("/var/lib/dpkg/status", inspect::k_dpkg_status_limits.max_bytes);
    ASSERT_TRUE(is_ok(status_text));
    inspect::DpkgStatus status = inspect::parse_dpkg_status(status_text.value());
    ASSERT_FALSE(status.diagnostics.truncated);
    auto packages = installed_from(status);
    EXPECT_GT(packages.size(), 100u);
    auto libc = std::find_if(packages.begin(), packages.end(), [](const InstalledPackage& p) { return p.name == "libc6"; });
    ASSERT_NE(libc, packages.end());
    EXPECT_EQ(libc->source_name, "glibc");

    AdvisoryIndex index = load_real_feed();
    auto r = index.match(os, packages);
    ASSERT_TRUE(is_ok(r));
    for (const auto& f : r.value())
        ADD_FAILURE() << f.package << " " << f.version << " matched " << f.advisory_id << " (fixed in "
                      << f.fixed_version.value_or("?") << ")";

    // The same packages made older than the fixes do match: the test above is not vacuous.
    std::vector<InstalledPackage> older;
    for (const auto& p : packages) {
        if (p.source_name == "curl" || p.source_name == "glibc" || p.source_name == "openssh") {
            InstalledPackage q = p;
            q.version = q.source_version = "0.1";
            older.push_back(q);
        }
    }
    ASSERT_FALSE(older.empty());
    auto old = index.match(os, older);
    ASSERT_TRUE(is_ok(old));
    EXPECT_GE(old.value().size(), older.size());
}

Feed feed_from(const std::vector<std::string>& records)
{
    std::string text = "[";
    for (size_t i = 0; i < records.size(); ++i)
        text += (i ? "," : "") + records[i];
    auto r = load_feed_text(text + "]", "test");
    EXPECT_TRUE(is_ok(r));
    EXPECT_TRUE(r.is_error() || r.value().errors.empty()) << r.value().errors.front().describe();
    return r.is_ok() ? std::move(r.value().feed) : Feed {};
}

std::string simple(const std::string& id, const std::string& ecosystem, const std::string& name, const std::string& fixed,
    const std::string& extra = "")
{
    return R"({"id": ")" + id + R"(", )" + extra + R"("affected": [{"package": {"ecosystem": ")" + ecosystem + R"(", "name": ")"
        + name + R"("}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": ")" + fixed + R"("}]}]}]})";
}

std::vector<std::string> ids_of(const Result<std::vector<Finding>>& r)
{
    std::vector<std::string> out;
    if (r.is_ok()) {
        for (const auto& f : r.value())
            out.push_back(f.advisory_id + "/" + f.package + "/" + f.matched_name + "@" + f.matched_version);
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(VulnMatch, SourceAndBinaryNamesReleasesAndWithdrawn)
{
    AdvisoryIndex index(feed_from({
        simple("A-1", "Debian:12", "bash", "5.2.15-3"),
        simple("A-2", "Debian:12", "bash", "5.2.15-2+b1"), // a binNMU-style number: compared to the SOURCE version
        simple("A-3", "Debian:12", "libssl3", "3.0.12-1"), // keyed by the binary name
        simple("A-4", "Debian:11", "openssl", "9.9"), // another release
        simple("A-5", "Debian", "openssl", "3.0.12-1"), // every release
        simple("A-6", "Debian:12", "openssl", "9.9", R"("withdrawn": "2024-01-01T00:00:00Z", )"),
        // Two entries of one advisory both matching: one finding.
        R"({"id": "A-7", "affected": [
            {"package": {"ecosystem": "Debian:12", "name": "openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]},
            {"package": {"ecosystem": "Debian", "name": "openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]},
            {"package": {"ecosystem": "Debian:12", "name": "libssl3"}, "versions": ["3.0.11-1"]}]})",
    }));
    std::vector<InstalledPackage> pkgs = {
        { "bash", "5.2.15-2+b8", "amd64", "bash", "5.2.15-2" },
        { "libssl3", "3.0.11-1", "amd64", "openssl", "3.0.11-1" },
    };
    auto r = index.match(k_bookworm, pkgs);
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(ids_of(r),
        (std::vector<std::string> {
            "A-1/bash/bash@5.2.15-2",
            "A-2/bash/bash@5.2.15-2",
            "A-3/libssl3/libssl3@3.0.11-1",
            "A-5/libssl3/openssl@3.0.11-1",
            "A-7/libssl3/openssl@3.0.11-1",
        }));

    // Bullseye sees A-4 and A-5 but not the Debian:12 entries.
    auto bullseye = index.match({ "debian", "11" }, { pkgs[1] });
    EXPECT_EQ(ids_of(bullseye),
        (std::vector<std::string> {
            "A-4/libssl3/openssl@3.0.11-1", "A-5/libssl3/openssl@3.0.11-1", "A-7/libssl3/openssl@3.0.11-1" }));
    // Testing/unstable have no VERSION_ID: only unversioned "Debian" entries apply.
    auto sid = index.match({ "debian", "" }, { pkgs[1] });
    EXPECT_EQ(ids_of(sid), (std::vector<std::string> { "A-5/libssl3/openssl@3.0.11-1", "A-7/libssl3/openssl@3.0.11-1" }));

    // Missing source fields mean "the binary itself".
    auto plain = index.match(k_bookworm, { { "bash", "5.2.15-2", "", "", "" } });
    EXPECT_EQ(ids_of(plain), (std::vector<std::string> { "A-1/bash/bash@5.2.15-2", "A-2/bash/bash@5.2.15-2" }));

    // Images that cannot be assessed are refused, not passed.
    EXPECT_TRUE(fails_with(index.match({ "ubuntu", "22.04" }, pkgs), ErrorKind::InvalidArgument));
    EXPECT_TRUE(fails_with(index.match(k_bookworm, { { "bash", "5.2 15", "", "", "" } }), ErrorKind::InvalidArgument));
    EXPECT_TRUE(fails_with(index.match(k_bookworm, { { "bash", "1.0", "", "bash", "1:" } }), ErrorKind::InvalidArgument));
    EXPECT_TRUE(fails_with(index.match(k_bookworm, { { "Bash", "1.0", "", "", "" } }), ErrorKind::InvalidArgument));
    auto empty = index.match(k_bookworm, {});
    ASSERT_TRUE(is_ok(empty));
    EXPECT_TRUE(empty.value().empty());
}

TEST(VulnInstalled, OsIdentityFromOsRelease)
{
    OsIdentity sid = os_identity_from(inspect::parse_os_release("ID=debian\nVERSION_CODENAME=trixie\n"));
    EXPECT_EQ(sid.id, "debian");
    EXPECT_EQ(sid.version_id, "") << "testing and unstable have no VERSION_ID";
    OsIdentity none = os_identity_from(inspect::parse_os_release(""));
    EXPECT_EQ(none.id, "linux");
    EXPECT_EQ(none.version_id, "");

    // The parser keeps values as the file gives them; an image whose ID is not exactly
    // "debian" is refused by the matcher, not assessed as clean.
    AdvisoryIndex index(feed_from({ simple("A-1", "Debian", "bash", "5.2.15-3") }));
    EXPECT_TRUE(fails_with(index.match(none, {}), ErrorKind::InvalidArgument));
    OsIdentity escaped = os_identity_from(inspect::parse_os_release("ID=\"debian\x1b[0m\"\nVERSION_ID=12\n"));
    EXPECT_EQ(escaped.id, "debian\x1b[0m");
    EXPECT_TRUE(fails_with(index.match(escaped, { { "bash", "5.2.15-2", "", "", "" } }), ErrorKind::InvalidArgument));
    OsIdentity ubuntu = os_identity_from(inspect::parse_os_release("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n"));
    EXPECT_TRUE(fails_with(index.match(ubuntu, {}), ErrorKind::InvalidArgument)) << "ID_LIKE does not make it Debian";
}

TEST(VulnInstalled, PackagesFromDpkgStatus)
{
    inspect::DpkgStatus status
        = inspect::parse_dpkg_status("Package: a1\nStatus: install ok installed\nVersion: 1.0\n"
                                     "Source: asrc (0.9-1)\n\n\n"
                                     "package: b1\nstatus: hold ok installed\nversion: 2.0\n"
                                     "source: bsrc\narchitecture: arm64\n\n"
                                     "Package: c1\nStatus: install ok half-configured\nVersion: 3.0\n\n"
                                     "Package: d1\nStatus: install ok unpacked\nVersion: 4.0\n \n"
                                     "Package: e1\nStatus: deinstall ok config-files\nVersion: 5.0\n\n"
                                     "Package: f1\nStatus: install ok triggers-pending\nVersion: 6.0\n\n"
                                     "Package: g1\nStatus: purge ok not-installed\n\n"
                                     "Package: h1\nStatus: install reinstreq half-installed\nVersion: 7.0\n\n"
                                     "Package: x1\nStatus: install ok installed\nVersion: 1.0!\n");
    ASSERT_EQ(status.diagnostics.warnings.size(), 1u) << "x1 is skipped";
    std::vector<InstalledPackage> packages = installed_from(status);
    // "name version architecture source_name source_version", "-" for an empty field.
    std::vector<std::string> rows;
    for (const auto& p : packages) {
        std::string row;
        for (const std::string* f : { &p.name, &p.version, &p.architecture, &p.source_name, &p.source_version })
            row += (row.empty() ? "" : " ") + (f->empty() ? std::string("-") : *f);
        rows.push_back(row);
    }
    // Every package whose files are on disk, complete or not, in the order of the file; the
    // source's name and version, else the binary's.
    EXPECT_EQ(rows,
        (std::vector<std::string> { "a1 1.0 - asrc 0.9-1", "b1 2.0 arm64 bsrc 2.0", "c1 3.0 - c1 3.0", "d1 4.0 - d1 4.0",
            "f1 6.0 - f1 6.0", "h1 7.0 - h1 7.0" }));
    EXPECT_TRUE(installed_from(inspect::parse_dpkg_status("")).empty());

    // An incomplete package is matched like an installed one: its files are there.
    AdvisoryIndex index(feed_from({ simple("A-1", "Debian:12", "c1", "3.1"), simple("A-2", "Debian:12", "asrc", "0.9-2"),
        simple("A-3", "Debian:12", "e1", "9.0") }));
    EXPECT_EQ(ids_of(index.match(k_bookworm, packages)), (std::vector<std::string> { "A-1/c1/c1@3.0", "A-2/a1/asrc@0.9-1" }));
}

// Thousands of packages against tens of thousands of advisories: the index makes matching
// proportional to the packages, not to the feed. The result is checked against a plain scan
// of every advisory for a sample of packages.
TEST(VulnMatch, LargeFeedIsFastAndAgreesWithAFullScan)
{
    constexpr size_t k_sources = 2000;
    constexpr size_t k_advisories = 30000;
    std::mt19937_64 rng(7);
    auto below = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    auto version = [&] {
        return std::to_string(1 + below(3)) + "." + std::to_string(below(20)) + "-" + std::to_string(1 + below(3))
            + (below(2) ? "+deb12u" + std::to_string(1 + below(5)) : "");
    };

    // The feed is built as parsed records directly (the JSON path is tested above; here it
    // would only spend seconds of a sanitizer build in nlohmann).
    auto dpkg = [](const std::string& text) { return DpkgVersion::parse(text).release_value(); };
    auto range = [&](bool from_zero) {
        OsvRange r;
        OsvEvent introduced;
        introduced.version = from_zero ? "0" : version();
        if (!from_zero)
            introduced.dpkg = dpkg(introduced.version);
        OsvEvent fixed;
        fixed.kind = EventKind::Fixed;
        fixed.version = version();
        fixed.dpkg = dpkg(fixed.version);
        // Events in version order, as the parser leaves them.
        if (introduced.dpkg && compare(*introduced.dpkg, *fixed.dpkg) > 0)
            r.events = { fixed, introduced };
        else
            r.events = { introduced, fixed };
        return r;
    };
    auto entry = [&](const std::string& name, const std::string& release) {
        OsvAffected a;
        a.ecosystem = "Debian:" + release;
        a.release = release;
        a.name = name;
        a.level = Severity::Critical;
        a.score = 9.8;
        return a;
    };
    auto start = std::chrono::steady_clock::now();
    Feed feed;
    for (size_t i = 0; i < k_advisories; ++i) {
        std::string src = "src" + std::to_string(below(k_sources));
        Advisory adv;
        adv.id = "TEST-" + std::to_string(100000 + i);
        adv.upstream = { "CVE-2024-" + std::to_string(10000 + i) };
        adv.summary = "generated advisory " + std::to_string(i);
        OsvAffected e12 = entry(src, "12");
        e12.ranges.push_back(range(below(4) != 0));
        if (below(5) == 0)
            e12.versions = { dpkg(version()), dpkg(version()), dpkg(version()) };
        OsvAffected e11 = entry(src, "11");
        e11.ranges.push_back(range(true));
        e11.ranges[0].events.resize(1); // introduced "0" only: every version
        adv.affected = { e12, e11 };
        if (below(10) == 0) {
            OsvAffected bin = entry("lib" + src + "-1", "12");
            bin.ranges.push_back(e12.ranges[0]);
            adv.affected.push_back(bin);
        }
        feed.advisories.push_back(std::move(adv));
    }
    auto loaded = std::chrono::steady_clock::now();
    AdvisoryIndex index(std::move(feed));
    auto indexed = std::chrono::steady_clock::now();

    std::vector<InstalledPackage> pkgs;
    for (size_t s = 0; s < k_sources; ++s) {
        std::string src = "src" + std::to_string(s);
        std::string v = version();
        pkgs.push_back({ src, v, "amd64", src, v });
        pkgs.push_back({ "lib" + src + "-1", v, "amd64", src, v });
        if (s % 4 == 0)
            pkgs.push_back({ "lib" + src + "-dev", v, "amd64", src, v });
    }
    // Best of three: the time of the work, not of a busy neighbour.
    std::chrono::steady_clock::duration best = std::chrono::hours(1);
    size_t count = 0;
    for (int run = 0; run < 3; ++run) {
        auto t0 = std::chrono::steady_clock::now();
        auto r = index.match(k_bookworm, pkgs);
        auto t1 = std::chrono::steady_clock::now();
        ASSERT_TRUE(is_ok(r));
        count = r.value().size();
        best = std::min(best, t1 - t0);
    }
    auto ms = [](auto d) { return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
    std::printf("[ vuln     ] %zu packages x %zu advisories: %zu findings; match %lld ms (building the feed %lld ms, the index "
                "%lld ms)\n",
        pkgs.size(), k_advisories, count, ms(best), ms(loaded - start), ms(indexed - loaded));
    EXPECT_GT(count, 1000u);
#if defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
    EXPECT_LT(ms(best), 3000) << "debug build with sanitizers";
#else
    EXPECT_LT(ms(best), 100);
#endif

    // A full scan of every advisory for a sample of packages gives the same findings.
    for (size_t k = 0; k < pkgs.size(); k += 97) {
        const InstalledPackage& p = pkgs[k];
        std::set<std::string> expected;
        auto v = DpkgVersion::parse(p.version).release_value();
        for (const auto& adv : index.feed().advisories) {
            for (const auto& a : adv.affected) {
                bool name = a.name == p.name || a.name == p.source_name;
                if (name && (a.release.empty() || a.release == "12") && affected_includes(a, v))
                    expected.insert(adv.id);
            }
        }
        auto r = index.match(k_bookworm, { p });
        ASSERT_TRUE(is_ok(r));
        std::set<std::string> got;
        for (const auto& f : r.value())
            got.insert(f.advisory_id);
        EXPECT_EQ(got, expected) << p.name;
        EXPECT_EQ(got.size(), r.value().size());
    }
}

} // namespace
} // namespace bulwark::vuln
