// LineChannel and unix sockets: limits, deadlines, peer close, fd passing.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/socket.h"
#include "test_util.h"

namespace bulwark {
namespace {

using namespace std::chrono_literals;
using test::fails_with;
using test::is_ok;

struct Pair {
    LineChannel a;
    LineChannel b;
};

Pair socket_pair()
{
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    return Pair {LineChannel(Fd(sv[0])), LineChannel(Fd(sv[1]))};
}

size_t open_fd_count()
{
    size_t n = 0;
    DIR* d = ::opendir("/proc/self/fd");
    while (auto* e = ::readdir(d)) {
        if (e->d_name[0] != '.')
            ++n;
    }
    ::closedir(d);
    return n - 1;  // the directory's own fd
}

TEST(LineChannel, ReadsLines)
{
    {
        SCOPED_TRACE("ReadsLinesSplitAndJoined");
        auto p = socket_pair();
        ASSERT_TRUE(is_ok(p.a.write("one\ntw")));
        ASSERT_TRUE(is_ok(p.a.write("o\n\nthree\n")));
        for (const char* expected : {"one", "two", "", "three"}) {
            auto line = p.b.read_line(100, deadline_in(2s));
            ASSERT_TRUE(is_ok(line));
            EXPECT_EQ(line.value(), expected);
        }
    }
    {
        SCOPED_TRACE("BinaryBytesInLine");
        auto p = socket_pair();
        std::string data("a\0\xff\r b", 6);
        ASSERT_TRUE(is_ok(p.a.write(data + "\n")));
        auto line = p.b.read_line(100, deadline_in(2s));
        ASSERT_TRUE(is_ok(line));
        EXPECT_EQ(line.value(), data);
    }
    {
        SCOPED_TRACE("SkipUntil");
        auto p = socket_pair();
        ASSERT_TRUE(is_ok(p.a.write(std::string("garbage\n{\"stale\":1}\n\xff{\"return\":5}\n", 34))));
        ASSERT_TRUE(is_ok(p.b.skip_until('\xff', 1000, deadline_in(2s))));
        auto line = p.b.read_line(100, deadline_in(2s));
        ASSERT_TRUE(is_ok(line));
        EXPECT_EQ(line.value(), "{\"return\":5}");

        auto q = socket_pair();
        ASSERT_TRUE(is_ok(q.a.write(std::string(5000, 'g'))));
        EXPECT_TRUE(fails_with(q.b.skip_until('\xff', 1000, deadline_in(2s)), ErrorKind::Corrupt));
    }
}

TEST(LineChannel, LineLimit)
{
    {
        SCOPED_TRACE("LineAtLimitAcceptedOverLimitRefused");
        auto p = socket_pair();
        ASSERT_TRUE(is_ok(p.a.write(std::string(100, 'x') + "\n")));
        auto ok = p.b.read_line(100, deadline_in(2s));
        ASSERT_TRUE(is_ok(ok));
        EXPECT_EQ(ok.value().size(), 100u);

        auto q = socket_pair();
        ASSERT_TRUE(is_ok(q.a.write(std::string(101, 'x') + "\n")));
        EXPECT_TRUE(fails_with(q.b.read_line(100, deadline_in(2s)), ErrorKind::Corrupt));
    }
    {
        SCOPED_TRACE("EndlessLineRefusedWithoutNewline");
        // The peer never sends a newline: the reader must give up at the limit, not buffer forever.
        auto p = socket_pair();
        std::thread writer([fd = p.a.fd()] {
            std::string chunk(65536, 'y');
            for (int i = 0; i < 64; ++i) {
                if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) < 0)
                    break;
            }
        });
        auto r = p.b.read_line(1 << 20, deadline_in(10s));
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt));
        ::shutdown(p.b.fd(), SHUT_RDWR);
        writer.join();
    }
}

TEST(LineChannel, DeadlineGivesTimeout)
{
    {
        SCOPED_TRACE("DeadlineGivesTimeout");
        auto p = socket_pair();
        auto start = std::chrono::steady_clock::now();
        EXPECT_TRUE(fails_with(p.b.read_line(100, deadline_in(100ms)), ErrorKind::Timeout));
        auto elapsed = std::chrono::steady_clock::now() - start;
        EXPECT_GE(elapsed, 90ms);
        EXPECT_LT(elapsed, 3s);
        // A deadline already in the past fails at once, even with data waiting... unless buffered.
        ASSERT_TRUE(is_ok(p.a.write("partial")));
        EXPECT_TRUE(fails_with(p.b.read_line(100, deadline_in(-1ms)), ErrorKind::Timeout));
    }
    {
        SCOPED_TRACE("TrickleDoesNotExtendDeadline");
        // A peer sending one byte at a time must not keep the reader waiting past its deadline.
        auto p = socket_pair();
        std::atomic<bool> stop {false};
        std::thread writer([&, fd = p.a.fd()] {
            while (!stop) {
                if (::send(fd, "z", 1, MSG_NOSIGNAL) < 0)
                    break;
                std::this_thread::sleep_for(10ms);
            }
        });
        auto start = std::chrono::steady_clock::now();
        EXPECT_TRUE(fails_with(p.b.read_line(1 << 20, deadline_in(200ms)), ErrorKind::Timeout));
        EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
        stop = true;
        writer.join();
    }
}

TEST(LineChannel, PeerClose)
{
    {
        SCOPED_TRACE("PeerCloseGivesUnavailable");
        auto p = socket_pair();
        ASSERT_TRUE(is_ok(p.a.write("complete\nincomplete")));
        { LineChannel closing = std::move(p.a); }
        auto first = p.b.read_line(100, deadline_in(2s));
        ASSERT_TRUE(is_ok(first));
        EXPECT_EQ(first.value(), "complete");
        EXPECT_TRUE(fails_with(p.b.read_line(100, deadline_in(2s)), ErrorKind::Unavailable));
    }
    {
        SCOPED_TRACE("WriteToClosedPeerIsAnError");
        // LineChannel::write uses write(2), so it relies on SIGPIPE being ignored, as bulwarkd's
        // main() does (the CLI does not; see the report).
        test::IgnoreSigpipe ignore;
        auto p = socket_pair();
        { LineChannel closing = std::move(p.b); }
        auto r = p.a.write(std::string(1 << 20, 'x'));
        EXPECT_TRUE(r.is_error());
    }
}

TEST(LineChannel, FdPassingRoundTrip)
{
    auto p = socket_pair();
    int pipefd[2];
    ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
    Fd read_end(pipefd[0]);
    Fd write_end(pipefd[1]);

    ASSERT_TRUE(is_ok(p.a.write_with_fds("{\"method\":\"image.import\"}\n", {read_end.get()})));
    read_end.reset();  // only the received copy remains

    std::vector<Fd> fds;
    auto line = p.b.read_line_with_fds(1000, deadline_in(2s), fds, 3);
    ASSERT_TRUE(is_ok(line));
    EXPECT_EQ(line.value(), "{\"method\":\"image.import\"}");
    ASSERT_EQ(fds.size(), 1u);
    EXPECT_TRUE(::fcntl(fds[0].get(), F_GETFD) & FD_CLOEXEC) << "received fds are close-on-exec";

    ASSERT_EQ(::write(write_end.get(), "hello", 5), 5);
    char buf[16] = {};
    ASSERT_EQ(::read(fds[0].get(), buf, sizeof buf), 5);
    EXPECT_STREQ(buf, "hello");
}

TEST(LineChannel, FdLimits)
{
    {
        SCOPED_TRACE("ExtraFdsAreClosedNotLeaked");
        auto p = socket_pair();
        std::vector<Fd> originals;
        std::vector<int> raw;
        for (int i = 0; i < 5; ++i) {
            originals.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
            raw.push_back(originals.back().get());
        }
        size_t before = open_fd_count();
        ASSERT_TRUE(is_ok(p.a.write_with_fds("x\n", raw)));
        std::vector<Fd> fds;
        ASSERT_TRUE(is_ok(p.b.read_line_with_fds(100, deadline_in(2s), fds, 2)));
        EXPECT_EQ(fds.size(), 2u);
        EXPECT_EQ(open_fd_count(), before + 2) << "the three fds over max_fds must be closed";
        fds.clear();

        // A reader that takes no fds closes whatever arrives.
        ASSERT_TRUE(is_ok(p.a.write_with_fds("y\n", raw)));
        ASSERT_TRUE(is_ok(p.b.read_line(100, deadline_in(2s))));
        EXPECT_EQ(open_fd_count(), before);
    }
    {
        SCOPED_TRACE("TooManyFdsToSendRefused");
        auto p = socket_pair();
        std::vector<int> many(17, 0);
        EXPECT_TRUE(p.a.write_with_fds("x\n", many).is_error());
    }
}

TEST(UnixSocket, ListenConnectAndErrors)
{
    {
        SCOPED_TRACE("ListenConnectAndCredentials");
        test::TempDir dir;
        std::string path = dir.file("ctl.sock");
        auto listener = unix_listen(path, 0600);
        ASSERT_TRUE(is_ok(listener));
        EXPECT_EQ(test::file_mode(path) & 0777, 0600u);
        auto client = unix_connect(path);
        ASSERT_TRUE(is_ok(client));
        Fd server(::accept4(listener.value().get(), nullptr, nullptr, SOCK_CLOEXEC));
        ASSERT_TRUE(server.valid());
        auto cred = peer_credentials(server.get());
        ASSERT_TRUE(is_ok(cred));
        EXPECT_EQ(cred.value().pid, ::getpid());
        EXPECT_EQ(cred.value().uid, ::getuid());

        // Listening again on the same path replaces the stale socket file.
        auto again = unix_listen(path, 0660);
        ASSERT_TRUE(is_ok(again));
        EXPECT_EQ(test::file_mode(path) & 0777, 0660u);
    }
    {
        SCOPED_TRACE("Errors");
        test::TempDir dir;
        EXPECT_TRUE(fails_with(unix_connect(dir.file("missing.sock")), ErrorKind::Unavailable));
        std::string long_path = dir.path() + "/" + std::string(200, 'p');
        EXPECT_TRUE(fails_with(unix_connect(long_path), ErrorKind::InvalidArgument));
        EXPECT_TRUE(fails_with(unix_listen(long_path, 0600), ErrorKind::InvalidArgument));
        // Exactly at the limit is fine for the address (the directory part is ours).
        std::string at_limit = dir.path() + "/";
        at_limit += std::string(k_max_unix_path - at_limit.size(), 's');
        ASSERT_EQ(at_limit.size(), k_max_unix_path);
        EXPECT_TRUE(is_ok(unix_listen(at_limit, 0600)));
        // Connecting to a socket whose listener is gone.
        {
            auto l = unix_listen(dir.file("dead.sock"), 0600);
            ASSERT_TRUE(is_ok(l));
        }
        EXPECT_TRUE(fails_with(unix_connect(dir.file("dead.sock")), ErrorKind::Unavailable));
    }
}

}  // namespace
}  // namespace bulwark
