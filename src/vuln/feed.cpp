#include "vuln/feed.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>

#include "base/system.h"
#include "vuln/text.h"

namespace bulwark::vuln {

std::string FeedProblem::describe() const
{
    std::string out = origin;
    if (!record_id.empty())
        out += ": record '" + record_id + "'";
    return out + ": " + message;
}

namespace {

// The id of a record for a problem report, printable and short; "" when it has none.
std::string record_label(const Json& record)
{
    if (!record.is_object())
        return {};
    auto it = record.find("id");
    if (it == record.end() || !it->is_string())
        return {};
    std::string q = quote_text(it->get_ref<const std::string&>(), 128);
    return q.substr(1, q.size() - 2); // without quote_text()'s quotes: describe() adds them
}

class Builder {
public:
    explicit Builder(const FeedLimits& limits)
        : m_limits(limits)
    {
    }

    void problem(bool error, const std::string& origin, const std::string& id, const std::string& message)
    {
        auto& list = error ? m_load.errors : m_load.warnings;
        if (list.size() >= m_limits.max_problems) {
            ++(error ? m_load.errors_dropped : m_load.warnings_dropped);
            return;
        }
        list.push_back(FeedProblem { origin, id, message });
    }

    VoidResult count_bytes(size_t n)
    {
        m_total_bytes += n;
        if (m_total_bytes > m_limits.max_total_bytes)
            return Error(ErrorKind::InvalidArgument,
                "the feed is larger than the limit of " + std::to_string(m_limits.max_total_bytes) + " bytes");
        return {};
    }

    VoidResult add_record(const Json& record, const std::string& origin)
    {
        if (++m_load.records > m_limits.max_records)
            return Error(ErrorKind::InvalidArgument,
                "the feed has more than the limit of " + std::to_string(m_limits.max_records) + " records");
        std::string id = record_label(record);
        auto parsed = parse_osv_record(record, m_limits.record);
        if (parsed.is_error()) {
            problem(true, origin, id, parsed.error().message());
            return {};
        }
        for (const auto& w : parsed.value().warnings)
            problem(false, origin, id, w);
        if (!parsed.value().advisory) {
            ++m_load.ignored;
            return {};
        }
        Advisory adv = std::move(*parsed.value().advisory);
        auto [it, inserted] = m_by_id.try_emplace(adv.id, m_load.feed.advisories.size());
        if (inserted) {
            m_load.feed.advisories.push_back(std::move(adv));
            return {};
        }
        Advisory& existing = m_load.feed.advisories[it->second];
        if (adv.modified > existing.modified) {
            problem(false, origin, id, "a record with this id was read before; this one, modified later, replaces it");
            existing = std::move(adv);
        } else {
            problem(false, origin, id, "a record with this id was read before and is not older; this one is skipped");
        }
        return {};
    }

    // A document holding one record or an array of records.
    VoidResult add_document(const std::string& text, const std::string& origin)
    {
        TRY(count_bytes(text.size()));
        auto doc = parse_json(text, JsonLimits { m_limits.max_file_bytes, 32 });
        if (doc.is_error()) {
            problem(true, origin, "", doc.error().message());
            return {};
        }
        const Json& j = doc.value();
        if (j.is_array()) {
            for (size_t i = 0; i < j.size(); ++i)
                TRY(add_record(j[i], origin + "[" + std::to_string(i) + "]"));
            return {};
        }
        if (text.size() > m_limits.max_record_bytes) {
            ++m_load.records;
            problem(true, origin, record_label(j),
                "the record is larger than the limit of " + std::to_string(m_limits.max_record_bytes) + " bytes");
            return {};
        }
        return add_record(j, origin);
    }

    VoidResult add_file(const std::string& path)
    {
        // O_NOFOLLOW: a symlink in a feed directory is refused, not followed. O_NONBLOCK: a
        // FIFO named *.json does not hang the load (it then fails the regular-file check).
        auto fd = sys::open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
        if (fd.is_error()) {
            problem(true, path, "", fd.error().message());
            return {};
        }
        auto st = sys::fstat(fd.value().get());
        if (st.is_error()) {
            problem(true, path, "", st.error().message());
            return {};
        }
        if (!S_ISREG(st.value().st_mode)) {
            problem(true, path, "", "not a regular file; skipped");
            return {};
        }
        if (static_cast<uint64_t>(st.value().st_size) > m_limits.max_file_bytes) {
            problem(true, path, "", "the file is larger than the limit of " + std::to_string(m_limits.max_file_bytes) + " bytes");
            return {};
        }
        auto text = sys::read_fd(fd.value().get(), m_limits.max_file_bytes);
        if (text.is_error()) {
            problem(true, path, "", text.error().message());
            return {};
        }
        ++m_load.files;
        return add_document(text.value(), path);
    }

    FeedLoad finish()
    {
        auto& list = m_load.feed.advisories;
        std::sort(list.begin(), list.end(), [](const Advisory& a, const Advisory& b) { return a.id < b.id; });
        return std::move(m_load);
    }

private:
    const FeedLimits& m_limits;
    FeedLoad m_load;
    std::unordered_map<std::string, size_t> m_by_id;
    uint64_t m_total_bytes = 0;
};

bool ends_with(std::string_view s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

Result<FeedLoad> load_feed(const std::string& path, const FeedLimits& limits)
{
    auto st = sys::stat(path);
    if (st.is_error())
        return Error(ErrorKind::NotFound, "cannot read the advisory feed: " + st.error().message());
    Builder builder(limits);
    if (!S_ISDIR(st.value().st_mode)) {
        TRY(builder.add_file(path));
        return builder.finish();
    }
    std::vector<std::string> names;
    for (auto& name : sys::list_dir(path)) {
        if (ends_with(name, ".json") && name[0] != '.')
            names.push_back(std::move(name));
    }
    if (names.size() > limits.max_files)
        return Error(ErrorKind::InvalidArgument,
            "the feed directory " + path + " has more than the limit of " + std::to_string(limits.max_files) + " .json files");
    std::sort(names.begin(), names.end());
    for (const auto& name : names)
        TRY(builder.add_file(sys::join(path, name)));
    return builder.finish();
}

Result<FeedLoad> load_feed_text(const std::string& text, const std::string& origin, const FeedLimits& limits)
{
    Builder builder(limits);
    TRY(builder.add_document(text, origin));
    return builder.finish();
}

std::string serialize_feed(const Feed& feed)
{
    std::string out;
    for (const auto& adv : feed.advisories) {
        out += json_dump(osv_to_json(adv));
        out += '\n';
    }
    return out;
}

Result<FeedLoad> parse_feed_lines(const std::string& text, const std::string& origin, const FeedLimits& limits)
{
    Builder builder(limits);
    TRY(builder.count_bytes(text.size()));
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (line.empty())
            continue;
        std::string where = origin + ":" + std::to_string(line_no);
        auto doc = parse_json(line, JsonLimits { limits.max_record_bytes, 32 });
        if (doc.is_error()) {
            builder.problem(true, where, "", doc.error().message());
            continue;
        }
        TRY(builder.add_record(doc.value(), where));
    }
    return builder.finish();
}

} // namespace bulwark::vuln
