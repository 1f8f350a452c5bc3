// The terminal table: the decision line, refused and most severe rows first, lines cut to the
// width, colours only when asked, and no control byte from the report ever printed.
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

#include "report/render.h"
#include "report_sample.h"

namespace bulwark::report {
namespace {

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

size_t columns(const std::string& s)
{
    size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xc0) != 0x80;
    return n;
}

// The lines of one section ("Findings (7)" up to the next blank line), without its title and
// column header.
std::vector<std::string> section(const std::string& table, const std::string& title)
{
    std::vector<std::string> out;
    bool in = false;
    int skip = 0;
    for (const std::string& line : lines_of(table)) {
        if (line.rfind(title, 0) == 0) {
            in = true;
            skip = 1;
            continue;
        }
        if (!in)
            continue;
        if (line.empty())
            break;
        if (skip-- > 0)
            continue;
        out.push_back(line);
    }
    return out;
}

// What is left after removing the two characters and the colour sequences the renderer writes.
std::string without_own_markup(std::string s)
{
    for (const char* own : { "\xe2\x80\xa6", "\xe2\x86\x92", "\x1b[1;31m", "\x1b[33m", "\x1b[1;32m", "\x1b[1m", "\x1b[0m" }) {
        for (size_t at; (at = s.find(own)) != std::string::npos;)
            s.erase(at, std::string(own).size());
    }
    return s;
}

::testing::AssertionResult only_printable(const std::string& text)
{
    for (size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n' || (c >= 0x20 && c < 0x7f))
            continue;
        return ::testing::AssertionFailure()
            << "byte 0x" << std::hex << int(c) << " at " << std::dec << i << " in: " << text.substr(i > 40 ? i - 40 : 0, 80);
    }
    return ::testing::AssertionSuccess();
}

TEST(ReportTable, StatesTheDecision)
{
    std::string refused = to_table(test::sample_report(), false);
    auto lines = lines_of(refused);
    EXPECT_NE(std::find(lines.begin(), lines.end(), "REFUSED: 3 findings refused"), lines.end()) << refused;
    EXPECT_NE(std::find(lines.begin(), lines.end(), "3 refuse, 5 warn, 1 info, 2 excepted, 1 ignored"), lines.end());

    std::string admitted = to_table(test::admitted_sample_report(), false);
    lines = lines_of(admitted);
    EXPECT_NE(std::find(lines.begin(), lines.end(), "ADMITTED"), lines.end()) << admitted;

    Json one = test::sample_report();
    one["findings"][0]["outcome"] = "warn";
    one["findings"][2]["outcome"] = "warn";
    lines = lines_of(to_table(one, false));
    EXPECT_NE(std::find(lines.begin(), lines.end(), "REFUSED: 1 finding refused"), lines.end());

    // A report that claims admission despite a refused finding is read as refused.
    Json inconsistent = test::sample_report();
    inconsistent["policy"]["admitted"] = true;
    lines = lines_of(to_table(inconsistent, false));
    EXPECT_NE(std::find(lines.begin(), lines.end(), "REFUSED: 3 findings refused"), lines.end());
}

TEST(ReportTable, ShowsTheHeader)
{
    std::string table = to_table(test::sample_report(), false);
    EXPECT_NE(table.find("Image       web 3, qcow2, " + std::string(test::k_sample_digest)), std::string::npos) << table;
    EXPECT_NE(table.find("OS          Debian GNU/Linux 12 (bookworm)"), std::string::npos);
    EXPECT_NE(table.find("Contents    6 packages, 18234 files, 117.7 MiB read in 0.84 s"), std::string::npos);
    EXPECT_NE(table.find("Policy      built-in default"), std::string::npos);
    EXPECT_NE(table.find("1234 advisories"), std::string::npos);
}

TEST(ReportTable, RefusedAndMostSevereRowsComeFirst)
{
    std::string table = to_table(test::sample_report(), false);
    auto findings = section(table, "Findings (7)");
    ASSERT_EQ(findings.size(), 7u) << table;
    EXPECT_EQ(findings[0].rfind("refuse    critical  account.empty-password:bob", 0), 0u) << findings[0];
    EXPECT_EQ(findings[1].rfind("refuse    high      secret.pem-private-key", 0), 0u) << findings[1];
    EXPECT_EQ(findings[2].rfind("warn      high      file.world-writable", 0), 0u) << findings[2];
    EXPECT_EQ(findings[3].rfind("warn      medium    ssh.permit-root-login", 0), 0u) << findings[3];
    EXPECT_EQ(findings[4].rfind("info", 0), 0u) << findings[4];
    EXPECT_EQ(findings[5].rfind("excepted", 0), 0u) << findings[5];
    EXPECT_EQ(findings[6].rfind("ignored", 0), 0u) << findings[6];
    EXPECT_NE(findings[0].find("/etc/shadow:12"), std::string::npos);

    auto vulns = section(table, "Vulnerabilities (5)");
    ASSERT_EQ(vulns.size(), 5u) << table;
    EXPECT_EQ(vulns[0].rfind("refuse    high 8.1  DSA-5678-1", 0), 0u) << vulns[0];
    EXPECT_NE(vulns[0].find("1:9.2p1-2+deb12u2 \xe2\x86\x92 1:9.2p1-2+deb12u3"), std::string::npos) << vulns[0];
    EXPECT_NE(vulns[0].find("CVE-2024-6387"), std::string::npos);
    // Within one outcome and severity, the higher score first.
    EXPECT_EQ(vulns[1].rfind("warn      high 7.8  DSA-5611-1", 0), 0u) << vulns[1];
    EXPECT_NE(vulns[1].find("  CVE-2023-6246, CVE-"), std::string::npos) << vulns[1];
    EXPECT_EQ(vulns[2].rfind("warn      high 7.5  DSA-5532-1", 0), 0u) << vulns[2];
    EXPECT_EQ(vulns[3].rfind("warn      medium    DEBIAN-CVE-2023-4039", 0), 0u) << vulns[3];
    EXPECT_NE(vulns[3].find("12.2.0-14 \xe2\x86\x92 (no fix)"), std::string::npos) << vulns[3];
    EXPECT_EQ(vulns[4].rfind("excepted  low 3.1   OSV-2024-1234", 0), 0u) << vulns[4];
}

TEST(ReportTable, NoControlByteFromTheReportIsPrinted)
{
    Json report = test::sample_report();
    report["findings"][0]["message"] = "evil \x1b[31mred\r\x07 and \xc2\x9b"
                                       "2J and \x7f";
    report["findings"][2]["path"] = "/root/\x1b]0;owned\x07";
    report["findings"][3]["id"] = "sudo.nopasswd:\x1b[2J";
    report["vulnerabilities"][0]["summary"] = "\x1b[5m";
    report["vulnerabilities"][0]["package"] = "open\rssh";
    report["image"]["name"] = "web\x1b[8m";
    report["os"]["pretty_name"] = "Debian\x1b[0m\n fake line";
    report["policy"]["source"] = "/etc/bulwark/\x9b"
                                 "policy.toml";
    for (bool color : { false, true }) {
        std::string table = to_table(report, color);
        EXPECT_TRUE(only_printable(without_own_markup(table))) << table;
        EXPECT_NE(table.find("evil \\x1b[31mred\\x0d\\x07"), std::string::npos) << table;
        if (!color) {
            EXPECT_EQ(table.find('\x1b'), std::string::npos);
        }
    }
}

TEST(ReportTable, ColoursOnlyWhenAsked)
{
    std::string plain = to_table(test::sample_report(), false);
    EXPECT_EQ(plain.find('\x1b'), std::string::npos);
    std::string coloured = to_table(test::sample_report(), true);
    EXPECT_NE(coloured.find("\x1b[1;31mREFUSED: 3 findings refused\x1b[0m"), std::string::npos);
    EXPECT_NE(coloured.find("\x1b[1;31mrefuse\x1b[0m"), std::string::npos);
    EXPECT_NE(coloured.find("\x1b[33mwarn\x1b[0m"), std::string::npos);
    EXPECT_NE(to_table(test::admitted_sample_report(), true).find("\x1b[1;32mADMITTED\x1b[0m"), std::string::npos);
    // Without the colours, the coloured table is the plain one.
    EXPECT_EQ(without_own_markup(coloured), without_own_markup(plain));
}

TEST(ReportTable, LinesFitTheWidth)
{
    Json report = test::sample_report();
    report["findings"][0]["message"] = std::string(1000, 'm');
    report["findings"][2]["id"] = "secret.pem-private-key:" + std::string(300, 'k');
    report["findings"][2]["path"] = "/" + std::string(300, 'p');
    report["vulnerabilities"][0]["version"] = std::string(200, '1');
    std::string table = to_table(report, false);
    for (const std::string& line : lines_of(table))
        EXPECT_LE(columns(line), k_table_width) << line;
    auto findings = section(table, "Findings (7)");
    EXPECT_EQ(columns(findings[0]), k_table_width);
    EXPECT_EQ(findings[0].substr(findings[0].size() - 4), "m\xe2\x80\xa6") << findings[0];
}

TEST(ReportTable, DamagedReportsStillRender)
{
    for (const Json& report : { Json(), Json::object(), Json::array({ 1 }), Json("x"),
             Json { { "findings", { 1, nullptr, { { "outcome", 3 }, { "line", -5 } } } }, { "stats", "fast" },
                 { "policy", { { "admitted", "yes" } } } } }) {
        std::string table = to_table(report, true);
        EXPECT_NE(table.find("NOT ADMITTED"), std::string::npos) << table;
        EXPECT_TRUE(only_printable(without_own_markup(table)));
    }
    Json empty = test::admitted_sample_report();
    empty["findings"] = Json::array();
    empty["vulnerabilities"] = Json::array();
    std::string table = to_table(empty, false);
    EXPECT_NE(table.find("No findings."), std::string::npos);
    EXPECT_NE(table.find("No known vulnerabilities."), std::string::npos);
}

} // namespace
} // namespace bulwark::report
