// The SARIF and CycloneDX renderings of the sample report, validated against the published
// JSON schemas (kept in report_schemas/) by python3-jsonschema. Skipped where python3 or its
// jsonschema module is missing.
#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>

#include "base/process.h"
#include "report/render.h"
#include "report_sample.h"
#include "test_util.h"

extern char** environ;

namespace bulwark::report {
namespace {

std::filesystem::path schema_dir()
{
    return std::filesystem::path(__FILE__).parent_path() / "report_schemas";
}

// validate.py's verdict: 0 valid, 1 invalid, 77 cannot check.
void expect_valid(const Json& document, const std::string& schema)
{
    test::TempDir dir;
    std::string path = dir.file("document.json");
    test::write_all(path, json_dump(document, 2));
    // The caller's PATH (and HOME, for interpreters managed per user) finds the python3 that
    // has jsonschema.
    std::map<std::string, std::string> env = minimal_env();
    for (char** e = environ; e && *e; ++e) {
        std::string kv = *e;
        size_t eq = kv.find('=');
        std::string key = kv.substr(0, eq);
        if (eq != std::string::npos && (key == "PATH" || key == "HOME" || key.rfind("PYENV", 0) == 0))
            env[key] = kv.substr(eq + 1);
    }
    auto run = run_command({ "python3", (schema_dir() / "validate.py").string(), (schema_dir() / schema).string(), path },
        std::chrono::seconds(120), 1 << 20, {}, env);
    if (run.is_error())
        GTEST_SKIP() << "cannot run python3: " << run.error().message();
    const RunOutput& out = run.value();
    if (out.status.exited && out.status.code == 77)
        GTEST_SKIP() << "python3 has no jsonschema module (apt-get install python3-jsonschema)";
    if (out.status.exited && out.status.code == 127)
        GTEST_SKIP() << "no python3";
    EXPECT_TRUE(out.status.success()) << out.status.describe() << "\n" << out.output;
}

TEST(ReportSchema, SarifValidatesAgainstTheSarif210Schema)
{
    expect_valid(to_sarif(test::sample_report(), SarifOptions { "https://bulwark.example/" }), "sarif-2.1.0-rtm.5.json");
}

TEST(ReportSchema, CycloneDxValidatesAgainstTheCycloneDx15Schema)
{
    expect_valid(to_cyclonedx(test::sample_report()), "bom-1.5.SNAPSHOT.schema.json");
}

TEST(ReportSchema, RenderingsOfAnImageWithoutOsOrPolicyValidate)
{
    Json report = test::sample_report();
    report["os"] = nullptr;
    report.erase("policy");
    report.erase("scanned_at");
    expect_valid(to_sarif(report), "sarif-2.1.0-rtm.5.json");
    expect_valid(to_cyclonedx(report), "bom-1.5.SNAPSHOT.schema.json");
}

TEST(ReportSchema, RenderingsOfAnEmptyReportValidate)
{
    expect_valid(to_sarif(Json::object()), "sarif-2.1.0-rtm.5.json");
    expect_valid(to_cyclonedx(Json::object()), "bom-1.5.SNAPSHOT.schema.json");
}

} // namespace
} // namespace bulwark::report
