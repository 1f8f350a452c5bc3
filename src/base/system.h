// Thin, Result-returning wrappers around the syscalls and file operations Bulwark uses.
// Each syscall is wrapped once, here.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace bulwark::sys {

Result<Fd> open(const std::string& path, int flags, mode_t mode = 0);
// An anonymous memory file (memfd, close-on-exec) holding text, positioned at its start: how a
// document too large for a message line is handed to another process.
Result<Fd> memfd_with(const std::string& text, const char* name);
Result<struct stat> fstat(int fd);
Result<struct stat> stat(const std::string& path);
bool exists(const std::string& path);

// Reads a whole file, refusing files larger than max_bytes.
Result<std::string> read_file(const std::string& path, size_t max_bytes);
Result<std::string> read_fd(int fd, size_t max_bytes);

// Writes data to path atomically: a temp file in the same directory, fsync, rename, fsync
// of the directory. The file is created with `mode` (umask does not widen it).
VoidResult write_file_atomic(const std::string& path, const std::string& data, mode_t mode);

// Creates dir and its parents; the leaf gets `mode` (parents 0755 when created).
VoidResult mkdirs(const std::string& dir, mode_t mode);
// The names in a directory, without "." and ".."; empty when it cannot be read.
std::vector<std::string> list_dir(const std::string& dir);
VoidResult remove_tree(const std::string& path);
VoidResult unlink_if_exists(const std::string& path);
VoidResult rename(const std::string& from, const std::string& to);
VoidResult chmod(const std::string& path, mode_t mode);
VoidResult fsync_dir(const std::string& dir);

// Copies everything readable from fd (from its current offset) to a new file at path with
// `mode`, refusing more than max_bytes. Returns the byte count.
Result<uint64_t> copy_fd_to_file(int fd, const std::string& path, mode_t mode, uint64_t max_bytes);

VoidResult write_all(int fd, const void* data, size_t size);
VoidResult write_all(int fd, const std::string& data);

std::string dirname(const std::string& path);
std::string basename(const std::string& path);
std::string join(const std::string& a, const std::string& b);
Result<std::string> realpath(const std::string& path);

// Searches PATH for an executable name (or accepts an absolute path). Returns the path.
Result<std::string> find_executable(const std::string& name);

// Total physical memory of the host, in MiB.
uint64_t host_memory_mib();
unsigned host_cpus();

}  // namespace bulwark::sys
