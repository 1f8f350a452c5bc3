// Human-readable output for the CLI: aligned tables, sizes and a progress bar.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bulwark::cli {

class Table {
public:
    explicit Table(std::vector<std::string> headers) : m_headers(std::move(headers)) {}
    void add(std::vector<std::string> row) { m_rows.push_back(std::move(row)); }
    std::string render() const;

private:
    std::vector<std::string> m_headers;
    std::vector<std::vector<std::string>> m_rows;
};

std::string human_size(int64_t bytes);

// One line: "LABEL  [#####-----]  50%  2688/5375 files  71 MB", cut to width columns (the
// bar shrinks, then goes, first). Before a total is known the bar and percentage are left out.
std::string progress_line(const std::string& label, uint64_t files, uint64_t files_total, uint64_t bytes, size_t width);

// A progress line on a terminal, redrawn in place (carriage return) and erased when done. The
// caller decides whether there is a terminal to draw on; nothing here checks.
class ProgressBar {
public:
    ProgressBar(int fd, std::string label);
    ~ProgressBar() { clear(); }
    ProgressBar(const ProgressBar&) = delete;
    ProgressBar& operator=(const ProgressBar&) = delete;

    void update(uint64_t files, uint64_t files_total, uint64_t bytes);
    // Erases the line, so what is printed next starts on a clean one.
    void clear();

private:
    void draw(const std::string& line);
    int m_fd;
    std::string m_label;
    bool m_shown = false;
};
// Parses a memory size for --memory: "512" (MiB), "512M", "2G". -1 if invalid.
int64_t parse_memory_mib(const std::string& text);

}  // namespace bulwark::cli
