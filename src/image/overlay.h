// Writes a guest's copy-on-write overlay: an empty qcow2 v3 image whose backing file is a
// golden image. Written directly (no qemu-img process), so creating a guest costs the same
// few hundred kilobytes of writes whatever the size of its image.
//
// Layout (64 KiB clusters), the same QEMU's own `qemu-img create -b` produces:
//   cluster 0   header (112 bytes, version 3), header extension "backing file format"
//               (0xE2792ACA, "qcow2"), end of extensions, then the backing file name
//   cluster 1   refcount table: one entry, pointing at cluster 2
//   cluster 2   refcount block: 16-bit refcounts, 1 for each cluster in use
//   cluster 3.. L1 table, all zero (every read falls through to the backing file)
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.h"

namespace bulwark {

// The exact bytes of such an overlay (exposed for tests).
Result<std::string> qcow2_overlay_bytes(const std::string& backing_path, uint64_t virtual_size);

// Creates path (which must not exist) with the given mode, fsyncs it and its directory.
VoidResult create_qcow2_overlay(const std::string& path, const std::string& backing_path, uint64_t virtual_size, mode_t mode);

}  // namespace bulwark
