#include "net/stream_framing.h"

#include <algorithm>

#include "base/endian.h"

namespace bulwark::net {

bool StreamDecoder::accept_length(uint32_t length)
{
    if (length != 0 && length <= m_max_frame)
        return true;
    m_failed = true;
    m_bad_length = length;
    return false;
}

StreamItem StreamDecoder::next(std::span<const uint8_t>& input)
{
    if (m_failed)
        return { StreamStatus::Fatal, {} };

    // The fast path: nothing held over, and the whole frame is in the input.
    if (m_partial.empty()) {
        if (input.size() >= k_stream_header) {
            uint32_t length = load_be32(input.data());
            if (!accept_length(length))
                return { StreamStatus::Fatal, {} };
            if (input.size() - k_stream_header >= length) {
                auto frame = input.subspan(k_stream_header, length);
                input = input.subspan(k_stream_header + length);
                ++m_frames;
                return { StreamStatus::Frame, frame };
            }
        }
        m_partial.assign(input.begin(), input.end());
        input = {};
        return { StreamStatus::NeedMore, {} };
    }

    // A frame split across inputs: complete the header, then the frame, in m_partial.
    if (m_partial.size() < k_stream_header) {
        size_t take = std::min(k_stream_header - m_partial.size(), input.size());
        m_partial.insert(m_partial.end(), input.begin(), input.begin() + static_cast<ptrdiff_t>(take));
        input = input.subspan(take);
        if (m_partial.size() < k_stream_header)
            return { StreamStatus::NeedMore, {} };
    }
    uint32_t length = load_be32(m_partial.data());
    if (!accept_length(length)) {
        m_partial.clear();
        return { StreamStatus::Fatal, {} };
    }
    size_t want = k_stream_header + length - m_partial.size();
    size_t take = std::min(want, input.size());
    m_partial.insert(m_partial.end(), input.begin(), input.begin() + static_cast<ptrdiff_t>(take));
    input = input.subspan(take);
    if (take < want)
        return { StreamStatus::NeedMore, {} };
    // The frame is returned from m_partial, which is cleared on the next call: move it to
    // m_frame so the span stays valid until then.
    m_frame.swap(m_partial);
    m_partial.clear();
    ++m_frames;
    return { StreamStatus::Frame, std::span<const uint8_t>(m_frame).subspan(k_stream_header) };
}

VoidResult append_stream_frame(std::vector<uint8_t>& out, std::span<const uint8_t> frame, size_t max_frame)
{
    if (frame.empty() || frame.size() > max_frame || frame.size() > 0xffffffffULL)
        return Error(ErrorKind::InvalidArgument,
            "a stream frame must be 1 to " + std::to_string(max_frame) + " bytes, not " + std::to_string(frame.size()));
    auto length = static_cast<uint32_t>(frame.size());
    uint8_t header[k_stream_header] = { uint8_t(length >> 24), uint8_t(length >> 16), uint8_t(length >> 8), uint8_t(length) };
    out.insert(out.end(), header, header + k_stream_header);
    out.insert(out.end(), frame.begin(), frame.end());
    return {};
}

} // namespace bulwark::net
