// The inspector worker's progress lines, as bulwarkd reads them: the worker reads hostile
// bytes, so a bad line must be dropped without harm to the scan.
#include <gtest/gtest.h>

#include "scan/inspector.h"

namespace bulwark::scan {
namespace {

TEST(ScanWorkerProgress, WellFormedLinesAreTaken)
{
    auto p = parse_worker_progress(R"({"files":3,"files_total":10,"bytes":4096})", ScanProgress {});
    ASSERT_TRUE(p);
    EXPECT_EQ(p->files, 3u);
    EXPECT_EQ(p->files_total, 10u);
    EXPECT_EQ(p->bytes_scanned, 4096u);
    // Equal counts are no step back; a total that grows (the next filesystem) is fine.
    EXPECT_TRUE(parse_worker_progress(R"({"files":3,"files_total":10,"bytes":4096})", *p));
    EXPECT_TRUE(parse_worker_progress(R"({"files":4,"files_total":20,"bytes":5000,"extra":"ignored"})", *p));
}

TEST(ScanWorkerProgress, BadLinesAreDropped)
{
    ScanProgress last {5, 10, 1000};
    for (const char* bad : {"", "not json", "[1,2]", "5", R"({"files":5})", R"({"files":5,"files_total":10})",
             R"({"files":-1,"files_total":10,"bytes":1000})", R"({"files":5.5,"files_total":10,"bytes":1000})",
             R"({"files":"6","files_total":10,"bytes":1000})", R"({"files":null,"files_total":10,"bytes":1000})",
             R"({"files":11,"files_total":10,"bytes":1000})",   // more done than found
             R"({"files":4,"files_total":10,"bytes":1000})",    // files went down
             R"({"files":5,"files_total":9,"bytes":1000})",     // the total went down
             R"({"files":5,"files_total":10,"bytes":999})",     // bytes went down
             R"({"files":5,"files_total":10,"bytes":1e30})", R"({"files":5,"files_total":10,"bytes":18446744073709551616})",
             R"({"files":{"a":[[[1]]]},"files_total":10,"bytes":1000})", "{\"files\":5,\"files_total\":10,\"bytes\":1000} trailing"}) {
        EXPECT_FALSE(parse_worker_progress(bad, last)) << bad;
    }
    // Longer than a progress line ever is.
    std::string huge = R"({"files":5,"files_total":10,"bytes":1000,"pad":")" + std::string(5000, 'x') + "\"}";
    EXPECT_FALSE(parse_worker_progress(huge, last));
    EXPECT_FALSE(parse_worker_progress(std::string("{\"files\":5,\"files_total\":10,\"bytes\":1000,\"s\":\"\xff\"}"), last));
}

}  // namespace
}  // namespace bulwark::scan
