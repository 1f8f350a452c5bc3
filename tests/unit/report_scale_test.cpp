// Reports can be large (100k findings): every rendering is linear in the report's size. The
// time bounds are loose (sanitizer builds on a slow machine); a quadratic step would miss
// them by far (10^10 steps at 100k findings). Sanitizer builds (where one rendering of 100k
// findings takes about 20 s, against one second without) render 25k findings, which a
// quadratic step would still take minutes over.
#include <chrono>
#include <gtest/gtest.h>
#include <string>

#include "report/render.h"
#include "report_sample.h"

namespace bulwark::report {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr size_t k_findings = 25000;
#else
constexpr size_t k_findings = 100000;
#endif

Json large_report(size_t findings, size_t packages)
{
    Json report = test::sample_report();
    Json& f = report["findings"];
    Json& v = report["vulnerabilities"];
    Json& p = report["packages"];
    const char* outcomes[] = { "refuse", "warn", "info", "excepted", "ignored" };
    const char* severities[] = { "critical", "high", "medium", "low", "info" };
    for (size_t i = 0; i < findings; ++i) {
        std::string kind = "file.check-" + std::to_string(i % 50);
        std::string path = "/srv/data/file-" + std::to_string(i);
        f.push_back(test::sample_finding((kind + ":" + path).c_str(), kind.c_str(), severities[i % 5], path.c_str(),
            static_cast<int>(i % 100), "A finding about a file.", "", outcomes[i % 5], "a rule"));
    }
    for (size_t i = 0; i < packages; ++i) {
        std::string name = "pkg" + std::to_string(i);
        p.push_back({ { "name", name }, { "version", "1:1.0-" + std::to_string(i) }, { "architecture", "amd64" },
            { "source_name", name }, { "source_version", "1.0" } });
        std::string advisory = "DSA-" + std::to_string(i % 1000) + "-1";
        v.push_back(
            test::sample_vulnerability(advisory.c_str(), { "CVE-2024-" + std::to_string(10000 + i) }, "summary", name.c_str(),
                ("1:1.0-" + std::to_string(i)).c_str(), name.c_str(), "2.0", severities[i % 5], 5.0, outcomes[i % 5], "a rule"));
    }
    return report;
}

TEST(ReportScale, LargeReportsRenderInLinearTime)
{
    Json report = large_report(k_findings, 5000);
    using clock = std::chrono::steady_clock;
    auto start = clock::now();
    Json sarif = to_sarif(report);
    auto sarif_done = clock::now();
    Json bom = to_cyclonedx(report);
    auto bom_done = clock::now();
    std::string table = to_table(report, true);
    auto table_done = clock::now();

    EXPECT_EQ(sarif["runs"][0]["results"].size(), k_findings + 5000u + 7u + 5u);
    EXPECT_EQ(sarif["runs"][0]["tool"]["driver"]["rules"].size(), 50u + 1000u + 7u + 5u);
    EXPECT_EQ(bom["vulnerabilities"].size(), 5005u);
    EXPECT_GT(table.size(), k_findings * 60);

    auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
    EXPECT_LT(seconds(start, sarif_done), 60.0);
    EXPECT_LT(seconds(sarif_done, bom_done), 60.0);
    EXPECT_LT(seconds(bom_done, table_done), 60.0);
    std::printf("sarif %.2f s, cyclonedx %.2f s, table %.2f s\n", seconds(start, sarif_done), seconds(sarif_done, bom_done),
        seconds(bom_done, table_done));
}

} // namespace
} // namespace bulwark::report
