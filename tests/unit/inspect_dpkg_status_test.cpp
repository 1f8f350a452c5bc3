// The dpkg status database and os-release parsers (src/inspect): this machine's real files
// against dpkg-query and the shell, then package states, Source forms, malformed stanzas
// and limits.
#include <chrono>
#include <gtest/gtest.h>
#include <map>
#include <sstream>

#include "base/process.h"
#include "base/system.h"
#include "inspect/dpkg_status.h"
#include "inspect/os_release.h"
#include "test_util.h"

namespace bulwark::inspect {
namespace {

using namespace std::chrono_literals;

// Lines of a command's output, split on '\n'.
std::vector<std::string> output_lines(const std::vector<std::string>& argv)
{
    auto r = run_command(argv, 60s, 16 << 20);
    EXPECT_TRUE(test::is_ok(r));
    if (r.is_error() || !r.value().status.success())
        return {};
    std::vector<std::string> out;
    std::istringstream in(r.value().output);
    std::string line;
    while (std::getline(in, line))
        out.push_back(line);
    return out;
}

TEST(InspectDpkgStatus, ThisMachineMatchesDpkgQuery)
{
    if (!sys::exists("/var/lib/dpkg/status"))
        GTEST_SKIP() << "not a dpkg system";
    auto text = sys::read_file("/var/lib/dpkg/status", 64 << 20);
    ASSERT_TRUE(test::is_ok(text));
    DpkgStatus status = parse_dpkg_status(text.value());
    EXPECT_TRUE(status.diagnostics.warnings.empty()) << status.diagnostics.warnings[0].message;
    EXPECT_FALSE(status.diagnostics.truncated);

    // dpkg-query lists every package that is not "not-installed"; compare the installed ones
    // by name and architecture, version and source.
    auto lines = output_lines({ "dpkg-query", "-W", "-f",
        "${Package}:${Architecture} ${Version} ${db:Status-Status} ${source:Package} ${source:Version}\\n" });
    ASSERT_FALSE(lines.empty());
    std::map<std::string, std::string> expected; // name:arch -> "version source source_version"
    size_t incomplete = 0;
    size_t config_files = 0;
    for (const auto& l : lines) {
        std::istringstream in(l);
        std::string id, version, state, source, source_version;
        in >> id >> version >> state >> source >> source_version;
        if (state == "installed" || state == "triggers-pending" || state == "triggers-awaited")
            expected[id] = version + " " + source + " " + source_version;
        else if (state == "config-files")
            ++config_files;
        else
            ++incomplete;
    }
    std::map<std::string, std::string> parsed;
    for (const auto& p : status.installed)
        parsed[p.name + ":" + p.architecture] = p.version + " " + p.source_name + " " + p.source_version;
    EXPECT_EQ(parsed.size(), status.installed.size()) << "a package appears twice";
    EXPECT_EQ(parsed, expected);
    EXPECT_EQ(status.incomplete.size(), incomplete);
    EXPECT_EQ(status.config_files, config_files);
    for (const auto& p : status.installed) {
        EXPECT_FALSE(p.maintainer.empty()) << p.name;
        EXPECT_FALSE(p.description.empty()) << p.name;
    }
    std::cout << "[ dpkg ] " << status.installed.size() << " installed packages parsed\n";
}

TEST(InspectDpkgStatus, StatesSourcesAndFields)
{
    const char* text = "Package: base-files\n"
                       "Essential: yes\n"
                       "Status: install ok installed\n"
                       "Priority: required\n"
                       "Installed-Size: 340\n"
                       "Maintainer: Santiago Vila <sanvila@debian.org>\n"
                       "Architecture: amd64\n"
                       "Version: 12.4+deb12u5\n"
                       "Description: Debian base system miscellaneous files\n"
                       " This package contains the basic filesystem hierarchy.\n"
                       " .\n"
                       "\n"
                       "Package: libssl3\n"
                       "status: install ok installed\n"
                       "Architecture: amd64\n"
                       "Multi-Arch: same\n"
                       "Source: openssl\n"
                       "Version: 3.0.11-1~deb12u2\n"
                       "\n"
                       "Package: libgcc-s1\n"
                       "Status: hold ok triggers-pending\n"
                       "Architecture: i386\n"
                       "Source: gcc-12 (12.2.0-14)\n"
                       "Version: 12.2.0-14+b1\n"
                       "\t\n"
                       "Package: half\n"
                       "Status: install reinstreq half-installed\n"
                       "Version: 1.0\n"
                       "\n"
                       "Package: unpacked\n"
                       "Status: install ok unpacked\n"
                       "Version: 2:1.0~rc1\n"
                       "\n"
                       "Package: broken-config\n"
                       "Status: install ok half-configured\n"
                       "Version: 1\n"
                       "\n"
                       "Package: removed\n"
                       "Status: deinstall ok config-files\n"
                       "Version: 1\n"
                       "\n"
                       "Package: purged\n"
                       "Status: purge ok not-installed\n";
    DpkgStatus s = parse_dpkg_status(text);
    EXPECT_TRUE(s.diagnostics.warnings.empty());
    ASSERT_EQ(s.installed.size(), 3u);
    const auto& base = s.installed[0];
    EXPECT_EQ(base.name, "base-files");
    EXPECT_EQ(base.version, "12.4+deb12u5");
    EXPECT_EQ(base.architecture, "amd64");
    EXPECT_EQ(base.source_name, "base-files");
    EXPECT_EQ(base.source_version, "12.4+deb12u5");
    EXPECT_EQ(base.installed_size_kib, 340u);
    EXPECT_EQ(base.maintainer, "Santiago Vila <sanvila@debian.org>");
    EXPECT_EQ(base.description, "Debian base system miscellaneous files");
    EXPECT_TRUE(base.essential);
    EXPECT_EQ(base.line, 1u);
    EXPECT_EQ(s.installed[1].source_name, "openssl");
    EXPECT_EQ(s.installed[1].source_version, "3.0.11-1~deb12u2") << "Source without a version takes the binary's";
    EXPECT_EQ(s.installed[2].source_name, "gcc-12");
    EXPECT_EQ(s.installed[2].source_version, "12.2.0-14");
    EXPECT_EQ(s.installed[2].want, "hold");
    EXPECT_EQ(s.installed[2].state, "triggers-pending");
    ASSERT_EQ(s.incomplete.size(), 3u);
    EXPECT_EQ(s.incomplete[0].name, "half");
    EXPECT_EQ(s.incomplete[0].flag, "reinstreq");
    EXPECT_EQ(s.incomplete[1].version, "2:1.0~rc1");
    EXPECT_EQ(s.incomplete[2].state, "half-configured");
    EXPECT_EQ(s.config_files, 1u);
    EXPECT_EQ(s.not_installed, 1u);
    {
        SCOPED_TRACE("CrlfAndNoFinalNewline");
        DpkgStatus crlf = parse_dpkg_status("Package: a\r\nStatus: install ok installed\r\nVersion: 1.0\r\n\r\nPackage: b\r\n"
                                            "Status: install ok installed\r\nVersion: 2.0");
        ASSERT_EQ(crlf.installed.size(), 2u);
        EXPECT_EQ(crlf.installed[0].version, "1.0");
        EXPECT_EQ(crlf.installed[1].version, "2.0");
    }
}

TEST(InspectDpkgStatus, MalformedStanzasAreSkippedWithWarnings)
{
    const char* text = " orphan continuation\n"
                       "\n"
                       "Package: Bad_Name\n"
                       "Status: install ok installed\n"
                       "Version: 1\n"
                       "\n"
                       "Package: nostatus\n"
                       "Version: 1\n"
                       "\n"
                       "Package: badstatus\n"
                       "Status: install ok exploded\n"
                       "Version: 1\n"
                       "\n"
                       "Package: noversion\n"
                       "Status: install ok installed\n"
                       "\n"
                       "Package: badversion\n"
                       "Status: install ok installed\n"
                       "Version: 1.0 ; rm -rf /\n"
                       "\n"
                       "Version: 1\n"
                       "Status: install ok installed\n"
                       "\n"
                       "Package: good\n"
                       "Package: shadowed\n"
                       "this line has no colon\n"
                       "Status: install ok installed\n"
                       "Version: 1:2.0-1\n"
                       "Installed-Size: many\n"
                       "Source: src (bad version!)\n"
                       "Architecture: AMD64\n";
    DpkgStatus s = parse_dpkg_status(text);
    ASSERT_EQ(s.installed.size(), 1u);
    const auto& p = s.installed[0];
    EXPECT_EQ(p.name, "good");
    EXPECT_EQ(p.version, "1:2.0-1");
    EXPECT_FALSE(p.installed_size_kib.has_value());
    EXPECT_EQ(p.source_name, "good");
    EXPECT_EQ(p.architecture, "");
    std::vector<size_t> lines;
    for (const auto& w : s.diagnostics.warnings)
        lines.push_back(w.line);
    EXPECT_EQ(lines, (std::vector<size_t> { 1, 3, 7, 10, 14, 17, 21, 25, 26, 24, 24, 24 }));
    {
        SCOPED_TRACE("Versions");
        for (const char* v : { "1.0", "1:2.3-4", "2.30-0ubuntu1~20.04", "1.2+dfsg-3+b1", "0:1", "a1.0" })
            EXPECT_TRUE(valid_dpkg_version(v)) << v;
        for (const char* v : { "", ":1", "x:1", "1:", "1.0-", "1 0", "1_0", "1.0/2", "99999999999:1" })
            EXPECT_FALSE(valid_dpkg_version(v)) << v;
        for (const char* n : { "libc6", "g++", "python3.11", "0ad" })
            EXPECT_TRUE(valid_dpkg_package_name(n)) << n;
        for (const char* n : { "", "-x", ".x", "a b", "a_b", "a/b" })
            EXPECT_FALSE(valid_dpkg_package_name(n)) << n;
    }
    {
        SCOPED_TRACE("BadSourceIsIgnored");
        for (const char* source : { "y1 1.0", "Y_1", "y1 (1.0", "y1 (1:)", "y1 ()", "(1.0)" }) {
            DpkgStatus s = parse_dpkg_status(
                "Package: x1\nStatus: install ok installed\nVersion: 1.0\nSource: " + std::string(source) + "\n");
            ASSERT_EQ(s.installed.size(), 1u) << source;
            EXPECT_EQ(s.installed[0].source_name, "x1") << source;
            EXPECT_EQ(s.installed[0].source_version, "1.0") << source;
            EXPECT_EQ(s.diagnostics.warnings.size(), 1u) << source;
        }
    }
}

TEST(InspectDpkgStatus, Limits)
{
    {
        SCOPED_TRACE("LongLineSkipped");
        std::string text = "Package: a\nStatus: install ok installed\nVersion: 1\nDescription: " + std::string(70000, 'x') + "\n";
        DpkgStatus s = parse_dpkg_status(text);
        ASSERT_EQ(s.installed.size(), 1u);
        EXPECT_EQ(s.installed[0].description, "");
        ASSERT_EQ(s.diagnostics.warnings.size(), 1u);
        EXPECT_EQ(s.diagnostics.warnings[0].line, 4u);
    }
    {
        SCOPED_TRACE("FieldsPerStanza");
        std::string text = "Package: a\n";
        for (size_t i = 0; i < k_dpkg_max_fields_per_stanza + 10; ++i)
            text += "X-Field-" + std::to_string(i) + ": v\n";
        text += "Status: install ok installed\nVersion: 1\n";
        DpkgStatus s = parse_dpkg_status(text);
        EXPECT_TRUE(s.installed.empty()) << "the Status past the field limit is not read";
        EXPECT_FALSE(s.diagnostics.warnings.empty());
    }
    {
        SCOPED_TRACE("WarningsAreCapped");
        std::string text;
        for (int i = 0; i < 1000; ++i)
            text += "garbage line\n\n";
        DpkgStatus s = parse_dpkg_status(text);
        EXPECT_EQ(s.diagnostics.warnings.size(), k_max_warnings);
        EXPECT_EQ(s.diagnostics.dropped_warnings, 1000 - k_max_warnings);
    }
    {
        SCOPED_TRACE("BinaryGarbage");
        std::string junk;
        for (int i = 0; i < 100000; ++i)
            junk.push_back(static_cast<char>((i * 131) ^ (i >> 3)));
        DpkgStatus s = parse_dpkg_status(junk);
        EXPECT_TRUE(s.installed.empty());
    }
    {
        SCOPED_TRACE("Packages");
        const std::string installed = "Package: a\nStatus: install ok installed\nVersion: 1\n\n";
        const std::string unpacked = "Package: b\nStatus: install ok unpacked\nVersion: 1\n\n";
        std::string text;
        text.reserve((k_dpkg_max_packages + 2) * installed.size());
        for (size_t i = 0; i < k_dpkg_max_packages + 2; ++i)
            text += i % 2 ? installed : unpacked;
        DpkgStatus s = parse_dpkg_status(text);
        EXPECT_EQ(s.installed.size() + s.incomplete.size(), k_dpkg_max_packages) << "installed and incomplete together";
        EXPECT_TRUE(s.diagnostics.truncated);
    }
}

TEST(InspectOsRelease, ThisMachineMatchesTheShell)
{
    if (!sys::exists("/etc/os-release"))
        GTEST_SKIP() << "no /etc/os-release";
    auto text = sys::read_file("/etc/os-release", 64 * 1024);
    ASSERT_TRUE(test::is_ok(text));
    OsRelease os = parse_os_release(text.value());
    EXPECT_TRUE(os.diagnostics.warnings.empty());
    auto lines = output_lines({ "sh", "-c",
        ". /etc/os-release; printf '%s\\n%s\\n%s\\n%s\\n%s\\n' \"$ID\" \"$VERSION_ID\" "
        "\"$VERSION_CODENAME\" \"$PRETTY_NAME\" \"$ID_LIKE\"" });
    ASSERT_GE(lines.size(), 4u);
    EXPECT_EQ(os.id, lines[0]);
    EXPECT_EQ(os.version_id, lines[1]);
    EXPECT_EQ(os.version_codename, lines[2]);
    EXPECT_EQ(os.pretty_name, lines[3]);
    std::string like;
    for (const auto& l : os.id_like)
        like += (like.empty() ? "" : " ") + l;
    EXPECT_EQ(like, lines.size() > 4 ? lines[4] : "");
}

TEST(InspectOsRelease, QuotingEscapesAndErrors)
{
    OsRelease os = parse_os_release("# comment\n"
                                    "\n"
                                    "ID=ubuntu\n"
                                    "ID_LIKE=\"debian  rhel\"\n"
                                    "PRETTY_NAME='Ubuntu 24.04 \"Noble\"'\n"
                                    "VERSION_ID=\"24.04\"\n"
                                    "ESCAPED=\"a \\\"b\\\" \\$c \\\\ \\`d\\` \\n\"\n"
                                    "CONCAT=ab\"c d\"'e f'\\ g\n"
                                    "   VERSION_CODENAME=noble   # trailing comment\n"
                                    "ID=ubuntu-core\n"
                                    "BAD1=\"unterminated\n"
                                    "BAD2=$(reboot)\n"
                                    "BAD3=two words\n"
                                    "BAD4=\"$HOME\"\n"
                                    "1BAD=x\n"
                                    "no equals sign\n"
                                    "BAD5=trailing\\\n");
    EXPECT_EQ(os.id, "ubuntu-core") << "the last assignment wins";
    EXPECT_EQ(os.id_like, (std::vector<std::string> { "debian", "rhel" }));
    EXPECT_EQ(os.pretty_name, "Ubuntu 24.04 \"Noble\"");
    EXPECT_EQ(os.version_id, "24.04");
    EXPECT_EQ(os.version_codename, "noble");
    EXPECT_EQ(os.fields["ESCAPED"], "a \"b\" $c \\ `d` \\n");
    EXPECT_EQ(os.fields["CONCAT"], "abc de f g");
    EXPECT_EQ(os.fields.count("BAD1") + os.fields.count("BAD2") + os.fields.count("BAD3") + os.fields.count("BAD4")
            + os.fields.count("1BAD") + os.fields.count("BAD5"),
        0u);
    std::vector<size_t> lines;
    for (const auto& w : os.diagnostics.warnings)
        lines.push_back(w.line);
    EXPECT_EQ(lines, (std::vector<size_t> { 11, 12, 13, 14, 15, 16, 17 }));
    {
        SCOPED_TRACE("Defaults");
        OsRelease empty = parse_os_release("");
        EXPECT_EQ(empty.id, "linux");
        EXPECT_EQ(empty.version_id, "");
        EXPECT_EQ(empty.pretty_name, "Linux");
        EXPECT_TRUE(empty.id_like.empty());
    }
    {
        SCOPED_TRACE("Limits");
        std::string many;
        for (int i = 0; i < 2000; ++i)
            many += "K" + std::to_string(i) + "=v\n";
        OsRelease big = parse_os_release(many);
        EXPECT_TRUE(big.diagnostics.truncated);
        EXPECT_LE(big.fields.size(), k_os_release_max_keys);
        OsRelease huge = parse_os_release("ID=a\n" + std::string(100000, '#'));
        EXPECT_EQ(huge.id, "a");
        EXPECT_TRUE(huge.diagnostics.truncated);
    }
}

} // namespace
} // namespace bulwark::inspect
