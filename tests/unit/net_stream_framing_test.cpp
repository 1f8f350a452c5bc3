// QEMU stream framing (src/net/stream_framing.h): frames whole in one input come back as spans
// into it (zero copy), frames split at every possible point are put together, and zero or
// oversized lengths are fatal for good.
#include <gtest/gtest.h>

#include "net/stream_framing.h"
#include "net_frames.h"

namespace bulwark::net {
namespace {

using namespace test;

Bytes frame_of(size_t n, uint8_t seed)
{
    Bytes b(n);
    for (size_t i = 0; i < n; ++i)
        b[i] = uint8_t(seed + i);
    return b;
}

// Feeds `stream` in pieces of `step` bytes and collects the frames.
std::vector<Bytes> decode_in_steps(StreamDecoder& decoder, const Bytes& stream, size_t step, bool* fatal = nullptr)
{
    std::vector<Bytes> frames;
    for (size_t at = 0; at < stream.size(); at += step) {
        std::span<const uint8_t> input(stream.data() + at, std::min(step, stream.size() - at));
        for (;;) {
            auto item = decoder.next(input);
            if (item.status == StreamStatus::Frame) {
                frames.emplace_back(item.frame.begin(), item.frame.end());
                continue;
            }
            if (item.status == StreamStatus::Fatal && fatal)
                *fatal = true;
            EXPECT_TRUE(input.empty() || item.status == StreamStatus::Fatal);
            break;
        }
    }
    return frames;
}

TEST(NetStreamFraming, EncodeDecode)
{
    Bytes stream;
    std::vector<Bytes> frames = { frame_of(60, 1), frame_of(1514, 2), frame_of(14, 3), frame_of(k_max_frame, 4) };
    for (const auto& f : frames)
        ASSERT_TRUE(append_stream_frame(stream, f).is_ok());
    EXPECT_EQ(stream.size(), 60 + 1514 + 14 + k_max_frame + 16);
    EXPECT_EQ(stream[0], 0);
    EXPECT_EQ(stream[3], 60); // big-endian length

    for (size_t step : { stream.size(), size_t(1), size_t(3), size_t(4), size_t(5), size_t(61), size_t(1000) }) {
        StreamDecoder decoder;
        auto got = decode_in_steps(decoder, stream, step);
        EXPECT_EQ(got, frames) << "step " << step;
        EXPECT_EQ(decoder.frames(), 4u);
        EXPECT_EQ(decoder.buffered(), 0u);
        EXPECT_FALSE(decoder.failed());
    }
}

TEST(NetStreamFraming, WholeFramesAreNotCopied)
{
    Bytes stream;
    ASSERT_TRUE(append_stream_frame(stream, frame_of(100, 0)).is_ok());
    ASSERT_TRUE(append_stream_frame(stream, frame_of(100, 1)).is_ok());
    stream.resize(stream.size() - 10); // the second frame is incomplete
    StreamDecoder decoder;
    std::span<const uint8_t> input(stream);
    auto first = decoder.next(input);
    ASSERT_EQ(first.status, StreamStatus::Frame);
    EXPECT_EQ(first.frame.data(), stream.data() + 4); // a span into the input
    EXPECT_EQ(decoder.next(input).status, StreamStatus::NeedMore);
    EXPECT_TRUE(input.empty());
    EXPECT_EQ(decoder.buffered(), 94u);
    Bytes rest = frame_of(100, 1);
    rest.erase(rest.begin(), rest.begin() + 90);
    std::span<const uint8_t> more(rest);
    auto second = decoder.next(more);
    ASSERT_EQ(second.status, StreamStatus::Frame);
    EXPECT_EQ(Bytes(second.frame.begin(), second.frame.end()), frame_of(100, 1));
}

TEST(NetStreamFraming, ZeroLengthIsFatal)
{
    Bytes stream;
    ASSERT_TRUE(append_stream_frame(stream, frame_of(60, 1)).is_ok());
    stream.insert(stream.end(), { 0, 0, 0, 0 });
    ASSERT_TRUE(append_stream_frame(stream, frame_of(60, 2)).is_ok());
    for (size_t step : { stream.size(), size_t(1), size_t(2) }) {
        StreamDecoder decoder;
        bool fatal = false;
        auto got = decode_in_steps(decoder, stream, step, &fatal);
        EXPECT_TRUE(fatal);
        EXPECT_TRUE(decoder.failed());
        EXPECT_EQ(decoder.bad_length(), 0u);
        ASSERT_EQ(got.size(), 1u); // nothing after the bad length
        std::span<const uint8_t> input(stream);
        EXPECT_EQ(decoder.next(input).status, StreamStatus::Fatal); // and it stays so
    }
}

TEST(NetStreamFraming, OversizedLengthIsFatal)
{
    Bytes stream = { 0, 0, 0x05, 0xef }; // 1519 = k_max_frame + 1
    stream.resize(4 + 1519, 0);
    StreamDecoder decoder;
    bool fatal = false;
    EXPECT_TRUE(decode_in_steps(decoder, stream, 2, &fatal).empty());
    EXPECT_TRUE(fatal);
    EXPECT_EQ(decoder.bad_length(), 1519u);

    // A decoder for reassembled or jumbo frames takes a larger limit.
    StreamDecoder large(9000);
    EXPECT_EQ(decode_in_steps(large, stream, stream.size()).size(), 1u);

    Bytes huge = { 0xff, 0xff, 0xff, 0xff };
    StreamDecoder d;
    std::span<const uint8_t> input(huge);
    EXPECT_EQ(d.next(input).status, StreamStatus::Fatal);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(NetStreamFraming, EncoderRefusesWhatTheDecoderWould)
{
    Bytes out;
    EXPECT_TRUE(append_stream_frame(out, {}).is_error());
    EXPECT_TRUE(append_stream_frame(out, frame_of(k_max_frame + 1, 0)).is_error());
    EXPECT_TRUE(out.empty());
    EXPECT_TRUE(append_stream_frame(out, frame_of(k_max_frame + 1, 0), 9000).is_ok());
}

TEST(NetStreamFraming, EmptyInput)
{
    StreamDecoder decoder;
    std::span<const uint8_t> input;
    EXPECT_EQ(decoder.next(input).status, StreamStatus::NeedMore);
    EXPECT_EQ(decoder.buffered(), 0u);
}

} // namespace
} // namespace bulwark::net
