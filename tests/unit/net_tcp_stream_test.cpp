// TCP stream reassembly (src/net/tcp_stream.h): in-order delivery with the context window,
// out-of-order segments, retransmissions and conflicting overlaps (first seen wins), sequence
// wraparound, mid-stream pickup, the limits and the gap skip, and the shared byte budget.
#include <gtest/gtest.h>
#include <string>

#include "net/packet.h"
#include "net/tcp_stream.h"

namespace bulwark::net {
namespace {

std::span<const uint8_t> s(const std::string& text)
{
    return { reinterpret_cast<const uint8_t*>(text.data()), text.size() };
}

std::string str(std::span<const uint8_t> bytes)
{
    return std::string(bytes.begin(), bytes.end());
}

std::string new_bytes(const std::optional<TcpChunk>& chunk)
{
    return chunk ? str(chunk->data.subspan(chunk->new_offset)) : std::string();
}

constexpr uint8_t k_ack = tcpflag::ack;

TEST(NetTcpStream, InOrderWithContextWindow)
{
    TcpStreamLimits limits;
    limits.window = 4;
    TcpStream st(limits);
    EXPECT_FALSE(st.add(1000, tcpflag::syn, {}));
    EXPECT_TRUE(st.started());
    EXPECT_EQ(st.next_seq(), 1001u);

    auto c1 = st.add(1001, k_ack, s("hello"));
    ASSERT_TRUE(c1);
    EXPECT_EQ(str(c1->data), "hello");
    EXPECT_EQ(c1->new_offset, 0u);
    EXPECT_EQ(c1->stream_offset, 0u);

    auto c2 = st.add(1006, k_ack, s(" world"));
    ASSERT_TRUE(c2);
    EXPECT_EQ(str(c2->data), "ello world"); // the last 4 bytes, then the new ones
    EXPECT_EQ(c2->new_offset, 4u);
    EXPECT_EQ(c2->stream_offset, 1u);
    EXPECT_EQ(st.next_offset(), 11u);
    EXPECT_EQ(st.counters().delivered_bytes, 11u);
}

TEST(NetTcpStream, SynWithDataAndPickupMidStream)
{
    TcpStream syn_data;
    auto c = syn_data.add(50, tcpflag::syn, s("fastopen"));
    EXPECT_EQ(new_bytes(c), "fastopen");
    EXPECT_EQ(syn_data.next_seq(), 59u);

    TcpStream pickup;
    auto first = pickup.add(777777, k_ack, s("middle"));
    EXPECT_EQ(new_bytes(first), "middle");
    EXPECT_EQ(first->stream_offset, 0u);
    // Data from before the pickup is not part of the stream.
    EXPECT_FALSE(pickup.add(777770, k_ack, s("before!")));
    EXPECT_EQ(new_bytes(pickup.add(777780, k_ack, s("dlemore"))), "more");
    EXPECT_EQ(pickup.counters().conflicts, 0u);

    // A lone RST does not start a stream.
    TcpStream rst;
    EXPECT_FALSE(rst.add(5, tcpflag::rst, {}));
    EXPECT_FALSE(rst.started());
}

TEST(NetTcpStream, OutOfOrderDeliveredOnceContiguous)
{
    TcpStreamLimits limits;
    limits.window = 3;
    TcpStream st(limits);
    st.add(0, tcpflag::syn, {});
    EXPECT_EQ(new_bytes(st.add(1, k_ack, s("abc"))), "abc");
    EXPECT_FALSE(st.add(7, k_ack, s("ghi")));
    EXPECT_FALSE(st.add(10, k_ack, s("jkl")));
    EXPECT_EQ(st.buffered_segments(), 2u);
    EXPECT_EQ(st.buffered_bytes(), 6u);
    EXPECT_EQ(st.counters().out_of_order, 2u);
    auto c = st.add(4, k_ack, s("def"));
    ASSERT_TRUE(c);
    EXPECT_EQ(str(c->data), "abcdefghijkl");
    EXPECT_EQ(c->new_offset, 3u);
    EXPECT_EQ(c->stream_offset, 0u);
    EXPECT_EQ(st.buffered_bytes(), 0u);
    EXPECT_EQ(st.buffered_segments(), 0u);
}

TEST(NetTcpStream, RetransmissionIsNotDeliveredTwice)
{
    TcpStream st;
    st.add(0, tcpflag::syn, {});
    st.add(1, k_ack, s("abcdef"));
    EXPECT_FALSE(st.add(1, k_ack, s("abcdef")));
    EXPECT_EQ(st.counters().retransmitted_bytes, 6u);
    // A retransmission that also carries new bytes delivers only those.
    EXPECT_EQ(new_bytes(st.add(4, k_ack, s("defghi"))), "ghi");
    EXPECT_EQ(st.counters().conflicts, 0u);
    EXPECT_EQ(st.counters().delivered_bytes, 9u);
}

TEST(NetTcpStream, ConflictingOverlapFirstSeenWins)
{
    // Against delivered bytes.
    TcpStream st;
    st.add(0, tcpflag::syn, {});
    st.add(1, k_ack, s("GET /index"));
    EXPECT_EQ(new_bytes(st.add(5, k_ack, s("/evil.html"))), "html");
    EXPECT_EQ(st.counters().conflicts, 1u);
    EXPECT_EQ(st.counters().conflict_bytes, 6u);

    // Against held out-of-order bytes: the held ones win when the hole is filled.
    TcpStream held;
    held.add(0, tcpflag::syn, {});
    held.add(6, k_ack, s("WORLD"));
    auto c = held.add(1, k_ack, s("helloworld"));
    EXPECT_EQ(new_bytes(c), "helloWORLD");
    EXPECT_EQ(held.counters().conflicts, 1u);

    // Two out-of-order segments overlapping each other.
    TcpStream two;
    two.add(0, tcpflag::syn, {});
    two.add(5, k_ack, s("EFGH"));
    two.add(7, k_ack, s("xxIJ"));
    EXPECT_EQ(two.counters().conflicts, 1u);
    EXPECT_EQ(new_bytes(two.add(1, k_ack, s("abcd"))), "abcdEFGHIJ");
}

TEST(NetTcpStream, SequenceWraparound)
{
    TcpStream st;
    st.add(0xfffffff0u, tcpflag::syn, {});
    EXPECT_EQ(new_bytes(st.add(0xfffffff1u, k_ack, s("0123456789"))), "0123456789");
    // The next segment straddles the wrap: seq 0xfffffffb..0x00000004.
    auto c = st.add(0xfffffffbu, k_ack, s("abcdefghij"));
    EXPECT_EQ(new_bytes(c), "abcdefghij");
    EXPECT_EQ(st.next_seq(), 5u);
    EXPECT_EQ(st.next_offset(), 20u);
    // Out of order across the wrap.
    EXPECT_FALSE(st.add(10, k_ack, s("QRS")));
    EXPECT_EQ(new_bytes(st.add(5, k_ack, s("KLMNO"))), "KLMNOQRS");
    EXPECT_EQ(st.next_offset(), 28u);
    // An old segment from before the wrap is a retransmission.
    EXPECT_FALSE(st.add(0xfffffffbu, k_ack, s("abcdefghij")));
    EXPECT_EQ(st.counters().retransmitted_bytes, 10u);
}

TEST(NetTcpStream, SegmentLimitSkipsTheGap)
{
    TcpStreamLimits limits;
    limits.max_segments = 2;
    TcpStream st(limits);
    st.add(0, tcpflag::syn, {});
    st.add(1, k_ack, s("aa"));
    // Bytes 3..4 are lost. Two segments are held; the third no longer fits.
    EXPECT_FALSE(st.add(5, k_ack, s("cc")));
    EXPECT_FALSE(st.add(7, k_ack, s("dd")));
    auto c = st.add(9, k_ack, s("ee"));
    ASSERT_TRUE(c);
    EXPECT_EQ(str(c->data), "ccddee"); // no context across the gap
    EXPECT_EQ(c->new_offset, 0u);
    EXPECT_EQ(c->stream_offset, 4u);
    EXPECT_EQ(st.counters().gaps, 1u);
    EXPECT_EQ(st.counters().gap_bytes, 2u);
    EXPECT_EQ(st.buffered_segments(), 0u);
    // The lost bytes arriving late are old news now.
    EXPECT_FALSE(st.add(3, k_ack, s("bb")));
}

TEST(NetTcpStream, ByteLimitSkipsTheGap)
{
    TcpStreamLimits limits;
    limits.max_buffered_bytes = 10;
    TcpStream st(limits);
    st.add(0, tcpflag::syn, {});
    EXPECT_FALSE(st.add(101, k_ack, s("0123456789")));
    EXPECT_EQ(st.buffered_bytes(), 10u);
    // A segment before the held one that does not fit either: the stream jumps to it.
    auto c = st.add(51, k_ack, s("abcde"));
    ASSERT_TRUE(c);
    EXPECT_EQ(new_bytes(c), "abcde");
    EXPECT_EQ(c->stream_offset, 50u);
    EXPECT_EQ(st.buffered_bytes(), 10u);
    EXPECT_LE(st.buffered_bytes(), limits.max_buffered_bytes);
}

TEST(NetTcpStream, TooFarAheadIsDropped)
{
    TcpStreamLimits limits;
    limits.max_ahead = 1000;
    TcpStream st(limits);
    st.add(0, tcpflag::syn, {});
    EXPECT_FALSE(st.add(5000, k_ack, s("far")));
    EXPECT_EQ(st.counters().dropped_segments, 1u);
    EXPECT_EQ(st.buffered_segments(), 0u);
}

TEST(NetTcpStream, SharedBudget)
{
    TcpBudget budget { 8, 0 };
    {
        TcpStream a(TcpStreamLimits {}, &budget);
        TcpStream b(TcpStreamLimits {}, &budget);
        a.add(0, tcpflag::syn, {});
        b.add(0, tcpflag::syn, {});
        a.add(10, k_ack, s("12345"));
        EXPECT_EQ(budget.used, 5u);
        b.add(10, k_ack, s("6789")); // does not fit: b skips its gap instead of holding it
        EXPECT_EQ(budget.used, 5u);
        EXPECT_EQ(b.counters().gaps, 1u);
        TcpStream moved = std::move(a);
        EXPECT_EQ(budget.used, 5u);
        EXPECT_EQ(moved.buffered_bytes(), 5u);
    }
    EXPECT_EQ(budget.used, 0u); // given back on destruction
}

TEST(NetTcpStream, FinIsNoted)
{
    TcpStream st;
    st.add(0, tcpflag::syn, {});
    EXPECT_EQ(new_bytes(st.add(1, tcpflag::fin | k_ack, s("bye"))), "bye");
    EXPECT_TRUE(st.fin_seen());
}

} // namespace
} // namespace bulwark::net
