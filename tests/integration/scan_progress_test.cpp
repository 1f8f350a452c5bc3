// Progress of long image scans over the control socket (docs/formats.md): interim lines only
// for a request that asks for them, in order, bounded in number, and an answer that is the
// same either way. And the CLI's bar: drawn on a terminal, never into a pipe.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include "base/json.h"
#include "base/socket.h"
#include "base/system.h"
#include "harness/harness.h"

namespace bulwark::test {
namespace {

using namespace std::chrono_literals;

std::string image(const std::string& name) { return std::string(BULWARK_DEBIAN_IMAGE_DIR) + "/" + name; }

// What came back for one raw request: every line, and how long the answer took.
struct Exchange {
    std::vector<Json> lines;
    double seconds = 0;
};

// Sends one request line, as any client could, with the image attached, and reads lines until
// bulwarkd closes the connection.
Exchange raw_scan(const Harness& h, const std::string& file, bool with_progress_field, bool progress)
{
    Exchange out;
    auto fd = sys::open(file, O_RDONLY | O_CLOEXEC);
    EXPECT_TRUE(fd.is_ok());
    auto sock = unix_connect(h.home() + "/bulwarkd.sock");
    EXPECT_TRUE(sock.is_ok());
    if (fd.is_error() || sock.is_error())
        return out;
    LineChannel channel(sock.release_value());
    Json request {{"method", "image.scan"}, {"params", {{"file", sys::basename(file)}}}};
    if (with_progress_field)
        request["progress"] = progress;
    auto started = std::chrono::steady_clock::now();
    EXPECT_TRUE(channel.write_with_fds(json_dump(request) + "\n", {fd.value().get()}).is_ok());
    for (;;) {
        auto line = channel.read_line(256 << 20, deadline_in(300s));
        if (line.is_error())
            break;  // closed after the answer
        auto doc = parse_json(line.value(), {256 << 20, 64});
        EXPECT_TRUE(doc.is_ok()) << line.value().substr(0, 500);
        if (doc.is_error())
            break;
        out.lines.push_back(doc.release_value());
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
}

// The answer without what differs from one scan to the next (when, and how long it took).
Json stable(Json answer)
{
    if (answer.contains("result") && answer["result"].is_object()) {
        answer["result"].erase("scanned_at");
        if (answer["result"].contains("stats"))
            answer["result"]["stats"].erase("seconds");
    }
    return answer;
}

class ScanProgress : public ::testing::Test {
protected:
    Harness h;
    void SetUp() override
    {
        ASSERT_TRUE(sys::exists(image("clean.qcow2"))) << "run tests/data/make-debian-image.sh (ctest fixture debian_image)";
        h.start_daemon();
        auto r = h.cli({"vuln", "update", std::string(BULWARK_SOURCE_DIR) + "/tests/data/osv"});
        ASSERT_EQ(r.code, 0) << r.output;
    }
};

TEST_F(ScanProgress, ProgressLinesArriveInOrderBeforeAnUnchangedAnswer)
{
    auto with = raw_scan(h, image("clean.qcow2"), true, true);
    ASSERT_GE(with.lines.size(), 2u) << "no progress line before the answer";
    Json answer = with.lines.back();
    ASSERT_TRUE(answer.contains("ok")) << answer.dump().substr(0, 500);
    ASSERT_TRUE(answer["ok"].get<bool>()) << answer.dump().substr(0, 500);

    uint64_t files = 0, files_total = 0, bytes = 0;
    for (size_t i = 0; i + 1 < with.lines.size(); ++i) {
        const Json& line = with.lines[i];
        // An interim line is {"progress": {...}} and nothing else, so it never reads as an answer.
        ASSERT_EQ(line.size(), 1u) << line.dump();
        ASSERT_TRUE(line.contains("progress")) << line.dump();
        const Json& p = line["progress"];
        ASSERT_TRUE(p["files"].is_number_unsigned() && p["files_total"].is_number_unsigned() && p["bytes"].is_number_unsigned())
            << p.dump();
        EXPECT_GE(p["files"].get<uint64_t>(), files) << "files went down at line " << i;
        EXPECT_GE(p["files_total"].get<uint64_t>(), files_total) << "files_total went down at line " << i;
        EXPECT_GE(p["bytes"].get<uint64_t>(), bytes) << "bytes went down at line " << i;
        files = p["files"].get<uint64_t>();
        files_total = p["files_total"].get<uint64_t>();
        bytes = p["bytes"].get<uint64_t>();
        EXPECT_LE(files, files_total) << p.dump();
    }
    const Json& stats = answer["result"]["stats"];
    EXPECT_LE(files_total, stats["files"].get<uint64_t>());
    EXPECT_LE(bytes, stats["bytes_scanned"].get<uint64_t>());
    // Rate-limited to 10 a second: a first line at once, then one per 100 ms at most.
    EXPECT_LE(with.lines.size() - 1, static_cast<size_t>(with.seconds * 10) + 2) << with.seconds << " s";

    // The same scan without asking: one line, the answer, equal but for its time stamps.
    auto without = raw_scan(h, image("clean.qcow2"), false, false);
    ASSERT_EQ(without.lines.size(), 1u) << without.lines.front().dump().substr(0, 500);
    EXPECT_EQ(stable(without.lines[0]), stable(answer));
}

TEST_F(ScanProgress, NoInterimLinesUnlessAsked)
{
    auto no = raw_scan(h, image("clean.qcow2"), true, false);
    ASSERT_EQ(no.lines.size(), 1u) << no.lines.front().dump().substr(0, 500);
    EXPECT_TRUE(no.lines[0]["ok"].get<bool>());

    // A method that reports no progress answers with its one line even when asked.
    auto sock = unix_connect(h.home() + "/bulwarkd.sock");
    ASSERT_TRUE(sock.is_ok());
    LineChannel channel(sock.release_value());
    ASSERT_TRUE(channel.write(R"({"method":"ping","params":{},"progress":true})" "\n").is_ok());
    auto line = channel.read_line(1 << 20, deadline_in(30s));
    ASSERT_TRUE(line.is_ok());
    EXPECT_NE(line.value().find("\"ok\":true"), std::string::npos) << line.value();
    EXPECT_TRUE(channel.read_line(1 << 20, deadline_in(30s)).is_error()) << "a second line after the answer";

    // "progress" must be a boolean.
    sock = unix_connect(h.home() + "/bulwarkd.sock");
    ASSERT_TRUE(sock.is_ok());
    LineChannel bad(sock.release_value());
    ASSERT_TRUE(bad.write(R"({"method":"ping","params":{},"progress":"yes"})" "\n").is_ok());
    line = bad.read_line(1 << 20, deadline_in(30s));
    ASSERT_TRUE(line.is_ok());
    EXPECT_NE(line.value().find("invalid_argument"), std::string::npos) << line.value();
}

TEST_F(ScanProgress, TheCliDrawsABarOnATerminalOnly)
{
    std::string bulwark = std::string(BULWARK_BIN_DIR) + "/bulwark";
    std::string command = "stty cols 100; " + bulwark + " --home " + h.home() + " image scan " + image("clean.qcow2");
    // script(1) runs the CLI on a pseudo-terminal: stdout and stderr are a terminal.
    auto tty = run({"script", "-q", "-e", "-c", command, "/dev/null"}, 300s);
    ASSERT_EQ(tty.code, 0) << tty.output.substr(0, 3000);
    EXPECT_NE(tty.output.find("\rscanning clean.qcow2  ["), std::string::npos) << tty.output.substr(0, 3000);
    EXPECT_NE(tty.output.find("/5375 files"), std::string::npos) << tty.output.substr(0, 3000);
    // Erased before the report, which then starts on a clean line.
    EXPECT_NE(tty.output.find("\r\033[KImage "), std::string::npos) << tty.output.substr(0, 3000);

    // Piped, or asked for JSON or SARIF: no bar, no carriage return, no escape.
    for (const auto& extra : std::vector<std::vector<std::string>> {{}, {"--format", "json"}, {"--format", "sarif"}}) {
        std::vector<std::string> args {"image", "scan", image("clean.qcow2")};
        args.insert(args.end(), extra.begin(), extra.end());
        auto piped = h.cli(args);
        EXPECT_EQ(piped.code, 0) << piped.output.substr(0, 3000);
        EXPECT_EQ(piped.output.find('\r'), std::string::npos);
        EXPECT_EQ(piped.output.find("\033[K"), std::string::npos);
        EXPECT_EQ(piped.output.find(" files  "), std::string::npos);
    }
    // JSON to a terminal: the output is the report alone.
    auto json_tty = run({"script", "-q", "-e", "-c", command + " --format json", "/dev/null"}, 300s);
    ASSERT_EQ(json_tty.code, 0) << json_tty.output.substr(0, 3000);
    EXPECT_EQ(json_tty.output.find("scanning"), std::string::npos) << json_tty.output.substr(0, 3000);
    EXPECT_EQ(json_tty.output.find("\033[K"), std::string::npos) << json_tty.output.substr(0, 3000);
    EXPECT_EQ(json_tty.output.rfind('{', 0), 0u) << json_tty.output.substr(0, 3000);
}

}  // namespace
}  // namespace bulwark::test
