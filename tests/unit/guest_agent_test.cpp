// GuestAgent against hostile replies. The peer here is a small scripted server on a unix
// socket standing in for whatever runs inside a guest: it answers guest-sync-delimited like
// qemu-guest-agent (0xFF, then the JSON reply) and then says whatever the test wants. This
// tests our parsing of untrusted bytes; it is not a model of QEMU.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <thread>

#include "base/base64.h"
#include "qemu/guest_agent.h"
#include "test_util.h"

namespace bulwark {
namespace {

using namespace std::chrono_literals;
using test::fails_with;
using test::is_ok;

class Peer {
public:
    explicit Peer(Fd fd) : m_fd(fd.get()), m_channel(std::move(fd)) {}

    // The next request from the client, without the 0xFF that precedes guest-sync.
    Json request()
    {
        auto line = m_channel.read_line(1 << 20, deadline_in(10s));
        if (line.is_error())
            return Json();
        std::string text = line.release_value();
        if (!text.empty() && text[0] == '\xff')
            text.erase(0, 1);
        Json doc = Json::parse(text, nullptr, false);
        std::lock_guard lock(m_mutex);
        m_requests.push_back(doc);
        return doc;
    }

    bool send(const std::string& data)
    {
        size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::send(m_fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            off += static_cast<size_t>(n);
        }
        return true;
    }

    // Answers guest-sync-delimited as qemu-guest-agent does.
    void sync()
    {
        Json req = request();
        if (req.is_object() && req.value("execute", "") == "guest-sync-delimited")
            send("\xff" + Json {{"return", req["arguments"]["id"]}}.dump() + "\n");
    }

    void reply(const Json& value) { send(Json {{"return", value}}.dump() + "\n"); }

    // Ends our side of the conversation, as a guest agent that stops talking would.
    void close_write() { ::shutdown(m_fd, SHUT_WR); }

    std::vector<Json> requests()
    {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }

private:
    int m_fd;
    LineChannel m_channel;
    std::mutex m_mutex;
    std::vector<Json> m_requests;
};

class FakeAgent {
public:
    using Script = std::function<void(Peer&)>;

    FakeAgent(const std::string& path, Script script) : m_path(path)
    {
        auto listener = unix_listen(path, 0600);
        EXPECT_TRUE(is_ok(listener));
        if (listener.is_error())
            return;
        m_thread = std::thread([this, l = listener.release_value(), script = std::move(script)]() mutable {
            struct pollfd pfd {l.get(), POLLIN, 0};
            if (::poll(&pfd, 1, 10000) != 1)
                return;
            Fd conn(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!conn.valid())
                return;
            struct timeval tv {10, 0};
            ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            m_peer = std::make_unique<Peer>(std::move(conn));
            script(*m_peer);
            m_peer->close_write();
        });
    }
    ~FakeAgent() { join(); }

    void join()
    {
        if (m_thread.joinable())
            m_thread.join();
    }
    std::vector<Json> requests() { return m_peer ? m_peer->requests() : std::vector<Json> {}; }

private:
    std::string m_path;
    std::unique_ptr<Peer> m_peer;
    std::thread m_thread;
};

class GuestAgentTest : public ::testing::Test {
protected:
    std::string socket_path() const { return m_dir.file("qga.sock"); }

    // Connects, runs `call` on the agent, and returns its result; the peer syncs first and
    // then runs `after_sync`.
    template<typename T, typename Call>
    Result<T> against(const FakeAgent::Script& after_sync, Call call)
    {
        FakeAgent fake(socket_path(), [&](Peer& p) {
            p.sync();
            after_sync(p);
        });
        Result<T> result = Error(ErrorKind::Internal, "not run");
        {
            auto agent = GuestAgent::connect(socket_path(), 5s);
            EXPECT_TRUE(is_ok(agent));
            if (agent.is_ok())
                result = call(agent.value());
        }  // the agent closes its socket here, which ends any peer still sending
        fake.join();
        m_last_requests = fake.requests();
        return result;
    }

    Result<Json> execute_against(const FakeAgent::Script& after_sync, std::chrono::milliseconds timeout = 5s)
    {
        return against<Json>(after_sync, [&](GuestAgent& a) { return a.execute("guest-info", Json::object(), timeout); });
    }

    Result<GuestExecResult> exec_against(const FakeAgent::Script& after_sync, std::chrono::milliseconds timeout = 5s)
    {
        return against<GuestExecResult>(after_sync, [&](GuestAgent& a) { return a.exec({"/bin/echo", "hi"}, timeout); });
    }

    test::IgnoreSigpipe m_ignore_sigpipe;
    test::TempDir m_dir;
    std::vector<Json> m_last_requests;
};

TEST_F(GuestAgentTest, WellFormedExecExchange)
{
    std::string out;
    for (int i = 0; i < 256; ++i)
        out.push_back(static_cast<char>(i));
    auto r = exec_against([&](Peer& p) {
        p.request();
        p.reply(Json {{"pid", 4242}});
        p.request();
        p.reply(Json {{"exited", false}});
        p.request();
        p.reply(Json {{"exited", true}, {"exitcode", 3}, {"out-data", base64_encode(out)},
            {"err-data", base64_encode("warning\n")}, {"out-truncated", true}});
    });
    ASSERT_TRUE(is_ok(r));
    EXPECT_EQ(r.value().exit_code, 3);
    EXPECT_EQ(r.value().signal, 0);
    EXPECT_EQ(r.value().out, out);
    EXPECT_EQ(r.value().err, "warning\n");
    EXPECT_TRUE(r.value().out_truncated);
    EXPECT_FALSE(r.value().err_truncated);

    // What the client asked for: sync, guest-exec with argv split into path and args, then
    // guest-exec-status for the pid the guest gave.
    ASSERT_EQ(m_last_requests.size(), 4u);
    EXPECT_EQ(m_last_requests[0]["execute"], "guest-sync-delimited");
    EXPECT_EQ(m_last_requests[1]["execute"], "guest-exec");
    EXPECT_EQ(m_last_requests[1]["arguments"]["path"], "/bin/echo");
    EXPECT_EQ(m_last_requests[1]["arguments"]["arg"], Json::array({"hi"}));
    EXPECT_EQ(m_last_requests[1]["arguments"]["capture-output"], true);
    EXPECT_EQ(m_last_requests[2]["execute"], "guest-exec-status");
    EXPECT_EQ(m_last_requests[2]["arguments"]["pid"], 4242);
}

TEST_F(GuestAgentTest, StaleRepliesBeforeSyncAreSkipped)
{
    FakeAgent fake(socket_path(), [](Peer& p) {
        Json req = p.request();
        // Leftovers from an earlier client, including a sync reply with another id, then ours.
        p.send("{\"return\": {\"pid\": 1}}\n\xff{\"return\": -5}\n\xffnot json at all\n");
        p.send("\xff" + Json {{"return", req["arguments"]["id"]}}.dump() + "\n");
        p.request();
        p.reply(Json {{"version", "8.0"}});
    });
    {
        auto agent = GuestAgent::connect(socket_path(), 5s);
        ASSERT_TRUE(is_ok(agent));
        auto r = agent.value().execute("guest-info");
        ASSERT_TRUE(is_ok(r));
        EXPECT_EQ(r.value()["version"], "8.0");
    }
    fake.join();
}

TEST_F(GuestAgentTest, SyncFailsCleanly)
{
    {
        SCOPED_TRACE("SyncNeverAnsweredTimesOut");
        FakeAgent fake(socket_path(), [](Peer& p) {
            p.request();
            // Deeply nested and wrong replies, but never the right id.
            p.send("\xff" + std::string(100000, '[') + "\n");
            p.send("\xff{\"return\": \"x\"}\n");
            p.request();  // returns when the client gives up and closes
        });
        {
            auto start = std::chrono::steady_clock::now();
            auto agent = GuestAgent::connect(socket_path(), 300ms);
            EXPECT_TRUE(fails_with(agent, ErrorKind::Timeout));
            EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
        }
        fake.join();
    }
    {
        SCOPED_TRACE("HugeSyncFloodFailsCleanly");
        // The flood comes before the sync marker instead.
        FakeAgent fake(socket_path(), [](Peer& p) {
            p.request();
            std::string chunk(1 << 20, 'B');
            for (int i = 0; i < 100; ++i) {
                if (!p.send(chunk))
                    break;
            }
        });
        {
            auto agent = GuestAgent::connect(socket_path(), 10s);
            EXPECT_TRUE(fails_with(agent, ErrorKind::Corrupt));
        }
        fake.join();
    }
    {
        SCOPED_TRACE("ConnectToMissingSocket");
        auto agent = GuestAgent::connect(m_dir.file("nobody.sock"), 1s);
        EXPECT_TRUE(fails_with(agent, ErrorKind::Unavailable));
    }
}

TEST_F(GuestAgentTest, HugeLineFailsCleanly)
{
    // 100 MiB without a newline: the client must stop at its limit with an error, not
    // buffer it all or crash.
    auto r = execute_against([](Peer& p) {
        p.request();
        std::string chunk(1 << 20, 'A');
        chunk[0] = '"';
        for (int i = 0; i < 100; ++i) {
            if (!p.send(chunk))
                break;
        }
        p.send("\n");
    });
    ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt));
    EXPECT_NE(r.error().message().find("limit"), std::string::npos) << r.error().message();
}

TEST_F(GuestAgentTest, InvalidJsonRefused)
{
    for (const std::string& bad : std::initializer_list<std::string> {"{\"return\": ", "not json", "{\"return\": \"\xff\"}",
             "{\"return\": 1} trailing", std::string("\0\0\0", 3)}) {
        auto r = execute_against([&](Peer& p) {
            p.request();
            p.send(bad + "\n");
        });
        EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << bad;
    }
}

TEST_F(GuestAgentTest, DeeplyNestedJsonRefused)
{
    for (const std::string& deep : {std::string(100000, '[') + std::string(100000, ']'),
             "{\"return\":" + std::string(5000, '[') + std::string(5000, ']') + "}",
             "{\"return\":" + std::string(20, '{') + "}"}) {
        auto r = execute_against([&](Peer& p) {
            p.request();
            p.send(deep + "\n");
        });
        EXPECT_TRUE(r.is_error()) << deep.substr(0, 40);
    }
}

TEST_F(GuestAgentTest, ReplyShapesRefused)
{
    {
        SCOPED_TRACE("ReplyShapesRefused");
        auto not_object = execute_against([](Peer& p) {
            p.request();
            p.send("[1,2,3]\n");
        });
        EXPECT_TRUE(fails_with(not_object, ErrorKind::Corrupt));
        auto no_return = execute_against([](Peer& p) {
            p.request();
            p.send("{\"something\": 1}\n");
        });
        EXPECT_TRUE(fails_with(no_return, ErrorKind::Corrupt));
        auto refused = execute_against([](Peer& p) {
            p.request();
            p.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}}\n");
        });
        ASSERT_TRUE(fails_with(refused, ErrorKind::Conflict));
        EXPECT_NE(refused.error().message().find("nope"), std::string::npos);
        auto odd_error = execute_against([](Peer& p) {
            p.request();
            p.send("{\"error\": [\"not\", \"an\", \"object\"]}\n");
        });
        EXPECT_TRUE(fails_with(odd_error, ErrorKind::Conflict));
    }
    {
        SCOPED_TRACE("LongErrorDescriptionBounded");
        auto r = execute_against([](Peer& p) {
            p.request();
            p.send(Json {{"error", {{"desc", std::string(64 << 10, 'x')}}}}.dump() + "\n");
        });
        ASSERT_TRUE(fails_with(r, ErrorKind::Conflict));
        EXPECT_LT(r.error().message().size(), 1000u);
    }
}

TEST_F(GuestAgentTest, PeerClosesOrGoesSilent)
{
    {
        SCOPED_TRACE("PeerClosesMidReply");
        auto r = execute_against([](Peer& p) {
            p.request();
            p.send("{\"return\": {\"pid\"");
        });
        EXPECT_TRUE(fails_with(r, ErrorKind::Unavailable));
    }
    {
        SCOPED_TRACE("SilentPeerTimesOut");
        auto r = execute_against(
            [](Peer& p) {
                p.request();
                p.request();  // waits until the client gives up
            },
            200ms);
        EXPECT_TRUE(fails_with(r, ErrorKind::Timeout));
    }
}

TEST_F(GuestAgentTest, ExecReplyWithoutPidRefused)
{
    for (const Json& reply : {Json::object(), Json {{"pid", "42"}}, Json {{"pid", 4.5}}, Json {{"pid", nullptr}},
             Json::array({42}), Json(42)}) {
        auto r = exec_against([&](Peer& p) {
            p.request();
            p.reply(reply);
        });
        ASSERT_TRUE(fails_with(r, ErrorKind::Corrupt)) << reply.dump();
        EXPECT_NE(r.error().message().find("pid"), std::string::npos) << r.error().message();
    }
}

TEST_F(GuestAgentTest, ExecStatusOutputChecked)
{
    {
        SCOPED_TRACE("ExecStatusWithBadOutputRefused");
        for (const Json& status : {Json {{"exited", true}, {"out-data", "not base64!"}},
                 Json {{"exited", true}, {"err-data", "\xc3\xa9t\xc3\xa9"}},
                 Json {{"exited", true}, {"out-data", 12345}},
                 Json {{"exited", true}, {"out-data", Json::array({"QUJD"})}},
                 Json {{"exited", "yes"}},
                 Json {{"exitcode", 0}},
                 Json::array()}) {
            auto r = exec_against([&](Peer& p) {
                p.request();
                p.reply(Json {{"pid", 7}});
                p.request();
                p.reply(status);
            });
            EXPECT_TRUE(fails_with(r, ErrorKind::Corrupt)) << status.dump();
        }
    }
    {
        SCOPED_TRACE("ExecStatusOddNumbersDoNotCrash");
        auto r = exec_against([](Peer& p) {
            p.request();
            p.reply(Json {{"pid", INT64_MAX}});
            p.request();
            p.reply(Json {{"exited", true}, {"exitcode", int64_t(1) << 40}, {"signal", -1}, {"out-truncated", "yes"}});
        });
        ASSERT_TRUE(is_ok(r));
        EXPECT_FALSE(r.value().out_truncated);
        EXPECT_EQ(r.value().out, "");
    }
}

TEST_F(GuestAgentTest, ExecThatNeverFinishesTimesOut)
{
    auto start = std::chrono::steady_clock::now();
    auto r = exec_against(
        [](Peer& p) {
            p.request();
            p.reply(Json {{"pid", 9}});
            for (;;) {
                Json req = p.request();
                if (req.is_null())
                    break;
                p.reply(Json {{"exited", false}});
            }
        },
        300ms);
    EXPECT_TRUE(fails_with(r, ErrorKind::Timeout));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace bulwark
