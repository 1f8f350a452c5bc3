// QEMU's `-netdev stream` framing, the wire format between each guest's QEMU and the switch.
//
// Format (QEMU net/stream.c, the same as the older `-netdev socket`): each frame is a 4-byte
// big-endian length followed by that many bytes of raw Ethernet frame, with no FCS and no
// vnet header. There is no marker to find the next frame by: once a length is wrong, every
// later byte is misread. So a length of 0 or over max_frame (default k_max_frame) is a fatal
// error for the connection: the switch must close it (a guest that sends one is broken or
// hostile, and a misread length may also mean the stream lost sync, which cannot be told
// apart).
//
// The decoder is incremental and designed for zero copy: feed it the bytes of each read() as
// they come; a frame wholly inside the input is returned as a span into it, and only a frame
// split across reads is copied (at most max_frame + 4 bytes are ever held).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "net/packet.h"

namespace bulwark::net {

inline constexpr size_t k_stream_header = 4;

enum class StreamStatus : uint8_t {
    Frame, // a complete frame is in StreamItem::frame
    NeedMore, // the input is used up; feed the next read
    Fatal, // a zero or oversized length: close the connection
};

struct StreamItem {
    StreamStatus status = StreamStatus::NeedMore;
    std::span<const uint8_t> frame; // valid until the input or the next call to next()
};

class StreamDecoder {
public:
    explicit StreamDecoder(size_t max_frame = k_max_frame)
        : m_max_frame(max_frame)
    {
    }

    // Takes bytes from the front of `input` (advancing it) until one frame is complete or the
    // input is used up. Call it again with the rest of the input until it says NeedMore. After
    // Fatal it stays Fatal.
    StreamItem next(std::span<const uint8_t>& input);

    bool failed() const { return m_failed; }
    uint32_t bad_length() const { return m_bad_length; } // the length that made it fail
    size_t buffered() const { return m_partial.size(); }
    uint64_t frames() const { return m_frames; }

private:
    // Returns false when the length is not acceptable.
    bool accept_length(uint32_t length);

    size_t m_max_frame;
    std::vector<uint8_t> m_partial; // a header and frame split across inputs
    std::vector<uint8_t> m_frame; // the last such frame, completed: what a returned span points into
    bool m_failed = false;
    uint32_t m_bad_length = 0;
    uint64_t m_frames = 0;
};

// Appends the 4-byte length and the frame to out. Refuses an empty frame or one over
// max_frame, which the other side would treat as fatal.
VoidResult append_stream_frame(std::vector<uint8_t>& out, std::span<const uint8_t> frame, size_t max_frame = k_max_frame);

} // namespace bulwark::net
