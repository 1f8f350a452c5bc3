// Child processes: output capture, a cleared environment, timeouts, fd hygiene.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <sstream>

#include "base/process.h"
#include "test_util.h"

namespace bulwark {
namespace {

using namespace std::chrono_literals;
using test::fails_with;
using test::is_ok;

std::set<int> fd_numbers(const std::string& ls_output)
{
    std::set<int> fds;
    std::istringstream in(ls_output);
    std::string word;
    while (in >> word)
        fds.insert(std::stoi(word));
    return fds;
}

TEST(Process, CapturesOutputAndStatus)
{
    {
        SCOPED_TRACE("CapturesOutputAndExitCode");
        auto r = run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, 10s);
        ASSERT_TRUE(is_ok(r));
        EXPECT_TRUE(r.value().status.exited);
        EXPECT_EQ(r.value().status.code, 3);
        EXPECT_FALSE(r.value().status.success());
        EXPECT_NE(r.value().output.find("out\n"), std::string::npos);
        EXPECT_NE(r.value().output.find("err\n"), std::string::npos) << "stderr is interleaved with stdout";

        auto ok = run_command({"true"}, 10s);
        ASSERT_TRUE(is_ok(ok));
        EXPECT_TRUE(ok.value().status.success());
        EXPECT_EQ(ok.value().output, "");
    }
    {
        SCOPED_TRACE("BinaryOutputPreserved");
        auto r = run_command({"printf", "a\\000b\\377"}, 10s);
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().output, std::string("a\0b\xff", 4));
    }
    {
        SCOPED_TRACE("SignalledChildReported");
        auto r = run_command({"sh", "-c", "kill -9 $$"}, 10s);
        ASSERT_TRUE(is_ok(r));
        EXPECT_FALSE(r.value().status.exited);
        EXPECT_EQ(r.value().status.signal, 9);
        EXPECT_FALSE(r.value().status.success());
        EXPECT_NE(r.value().status.describe().find("signal 9"), std::string::npos);
    }
    {
        SCOPED_TRACE("StdinIsDevNull");
        auto r = run_command({"cat"}, 5s);
        ASSERT_TRUE(is_ok(r));
        EXPECT_TRUE(r.value().status.success());
        EXPECT_EQ(r.value().output, "");
    }
    {
        SCOPED_TRACE("ArgumentsAreNotShellParsed");
        auto r = run_command({"printf", "%s|", "a b", "$(id)", ";rm -rf /", "'"}, 10s);
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().output, "a b|$(id)|;rm -rf /|'|");
    }
}

TEST(Process, OutputIsCapped)
{
    auto r = run_command({"head", "-c", "5000000", "/dev/zero"}, 10s, 1000);
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(r.value().output.size(), 1000u);
    EXPECT_TRUE(r.value().status.success()) << "the rest of the output is drained, not left to block the child";
}

TEST(Process, EnvironmentIsOnlyWhatWeGive)
{
    {
        SCOPED_TRACE("EnvironmentIsOnlyMinimalEnv");
        ::setenv("BULWARK_TEST_SECRET", "leak", 1);
        auto r = run_command({"env"}, 10s);
        ::unsetenv("BULWARK_TEST_SECRET");
        ASSERT_TRUE(is_ok(r));
        std::set<std::string> lines;
        std::istringstream in(r.value().output);
        for (std::string line; std::getline(in, line);)
            lines.insert(line);
        std::set<std::string> expected;
        for (const auto& [k, v] : minimal_env())
            expected.insert(k + "=" + v);
        EXPECT_EQ(lines, expected) << r.value().output;
        EXPECT_EQ(r.value().output.find("BULWARK_TEST_SECRET"), std::string::npos);
    }
    {
        SCOPED_TRACE("ExplicitEnvironmentIsComplete");
        auto r = run_command({"/usr/bin/env"}, 10s, 1 << 20, {}, {{"ONLY", "this"}});
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value().output, "ONLY=this\n");
    }
}

TEST(Process, TimeoutKillsChild)
{
    {
        SCOPED_TRACE("TimeoutKillsChild");
        auto start = std::chrono::steady_clock::now();
        auto r = run_command({"sleep", "30"}, 200ms);
        auto elapsed = std::chrono::steady_clock::now() - start;
        EXPECT_TRUE(fails_with(r, ErrorKind::Timeout));
        EXPECT_LT(elapsed, 5s);
    }
    {
        SCOPED_TRACE("TimeoutWhileChildKeepsWriting");
        auto start = std::chrono::steady_clock::now();
        auto r = run_command({"yes"}, 200ms, 4096);
        EXPECT_TRUE(fails_with(r, ErrorKind::Timeout));
        EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    }
    {
        SCOPED_TRACE("TimedOutChildIsReallyGone");
        // The child writes its pid and sleeps; after the timeout that pid must not be running.
        auto r = run_command({"sh", "-c", "echo $$; exec sleep 29.5"}, 300ms);
        ASSERT_TRUE(fails_with(r, ErrorKind::Timeout));
        // The output is lost with the error; find the sleeper by its unique argv instead.
        auto ps = run_command({"sh", "-c", "pgrep -f '^sleep 29.5$' || true"}, 10s);
        ASSERT_TRUE(is_ok(ps));
        // No other test runs `sleep 29.5`.
        EXPECT_EQ(ps.value().output, "") << "a timed-out child is still running";
    }
    {
        SCOPED_TRACE("TimedOutGrandchildIsGone");
        // What the child started in the background dies with it.
        auto r = run_command({"sh", "-c", "sleep 28.5 & wait"}, 300ms);
        ASSERT_TRUE(fails_with(r, ErrorKind::Timeout));
        auto ps = run_command({"sh", "-c", "pgrep -f '^sleep 28.5$' || true"}, 10s);
        ASSERT_TRUE(is_ok(ps));
        EXPECT_EQ(ps.value().output, "") << "a timed-out child's own child is still running";
    }
}

TEST(Process, UnpassedFdsClosedInChild)
{
    // Two fds without O_CLOEXEC, at known numbers: one handed over, one not.
    int a = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(a, 0);
    int leaked = ::fcntl(a, F_DUPFD, 200);
    int passed = ::fcntl(a, F_DUPFD, 300);
    ::close(a);
    ASSERT_GE(leaked, 200);
    ASSERT_GE(passed, 300);
    auto r = run_command({"ls", "/proc/self/fd"}, 10s, 1 << 20, {passed});
    ::close(leaked);
    ::close(passed);
    ASSERT_TRUE(is_ok(r));
    auto fds = fd_numbers(r.value().output);
    EXPECT_TRUE(fds.count(passed)) << r.value().output;
    EXPECT_FALSE(fds.count(leaked)) << r.value().output;
    // stdio, the passed fd, and the one ls itself opens to read the directory.
    for (int fd : fds)
        EXPECT_TRUE(fd <= 3 || fd == passed) << "unexpected fd " << fd << " in the child";
}

TEST(Process, MissingExecutableOrArgv)
{
    {
        SCOPED_TRACE("MissingExecutable");
        EXPECT_TRUE(fails_with(sys::find_executable("bulwark-no-such-binary-xyz"), ErrorKind::Unavailable));
        EXPECT_TRUE(fails_with(sys::find_executable("/nonexistent/bin/tool"), ErrorKind::Unavailable));
        EXPECT_TRUE(fails_with(run_command({"bulwark-no-such-binary-xyz"}, 5s), ErrorKind::Unavailable));
        auto sh = sys::find_executable("sh");
        ASSERT_TRUE(is_ok(sh));
        EXPECT_EQ(sh.value().front(), '/');
    }
    {
        SCOPED_TRACE("EmptyArgvRefused");
        SpawnOptions options;
        EXPECT_TRUE(Child::spawn(options).is_error());
    }
}

TEST(Process, SpawnWaitAndLimits)
{
    {
        SCOPED_TRACE("ChildWaitTimeoutLeavesChildRunning");
        SpawnOptions options;
        options.argv = {"sleep", "30"};
        options.env = minimal_env();
        auto child = Child::spawn(options);
        ASSERT_TRUE(is_ok(child));
        EXPECT_TRUE(fails_with(child.value().wait(50ms), ErrorKind::Timeout));
        ASSERT_TRUE(is_ok(pidfd_send_signal(child.value().pidfd(), SIGKILL)));
        auto status = child.value().wait(5000ms);
        ASSERT_TRUE(is_ok(status));
        EXPECT_EQ(status.value().signal, SIGKILL);
        // Signalling a reaped child through its pidfd is not an error.
        EXPECT_TRUE(is_ok(pidfd_send_signal(child.value().pidfd(), SIGKILL)));
    }
    {
        SCOPED_TRACE("ResourceLimitsApplied");
        SpawnOptions options;
        options.argv = {"sh", "-c", "ulimit -t"};
        options.env = minimal_env();
        options.cpu_seconds_limit = 7;
        test::TempDir dir;
        options.stdout_path = dir.file("out");
        auto child = Child::spawn(options);
        ASSERT_TRUE(is_ok(child));
        auto status = child.value().wait(5000ms);
        ASSERT_TRUE(is_ok(status));
        EXPECT_EQ(test::read_all(dir.file("out")), "7\n");
        EXPECT_EQ(test::file_mode(dir.file("out")), 0600u);
    }
    {
        SCOPED_TRACE("StartTimeIdentifiesProcess");
        auto self = process_start_time(::getpid());
        ASSERT_TRUE(self.has_value());
        EXPECT_EQ(process_start_time(::getpid()), self);
        EXPECT_FALSE(process_start_time(0x3fffffff).has_value());
    }
}

}  // namespace
}  // namespace bulwark
