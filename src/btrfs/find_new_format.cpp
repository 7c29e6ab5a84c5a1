// The text of find-new's two output modes (pure).
#include <cinttypes>
#include <cstdio>

#include "reflinkdedup/btrfs/find_new.hpp"

namespace rdd::btrfs {

std::string format_find_new_line(std::uint64_t ino, std::uint64_t file_offset,
                                 const FileExtentItem& item, std::string_view name) {
    // btrfs-progs: regular and prealloc extents print their disk fields and num_bytes; inline
    // ones print zeroes and ram_bytes.
    const bool disk = item.has_disk_fields();
    const std::uint64_t len = disk ? item.num_bytes : item.ram_bytes;
    const std::uint64_t disk_start = disk ? item.disk_bytenr : 0;
    const std::uint64_t disk_offset = disk ? item.offset : 0;
    std::string flags;
    const auto add = [&flags](const char* f) {
        if (!flags.empty()) flags += '|';
        flags += f;
    };
    if (item.compression != 0) add("COMPRESS");
    if (item.type == static_cast<std::uint8_t>(FileExtentType::Prealloc)) add("PREALLOC");
    if (item.type == static_cast<std::uint8_t>(FileExtentType::Inline)) add("INLINE");
    if (flags.empty()) flags = "NONE";
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "inode %" PRIu64 " file offset %" PRIu64 " len %" PRIu64 " disk start %" PRIu64
                  " offset %" PRIu64 " gen %" PRIu64 " flags ",
                  ino, file_offset, len, disk_start, disk_offset, item.generation);
    std::string line = buf;
    line += flags;
    line += ' ';
    line += name;
    line += '\n';
    return line;
}

std::string format_unknown_extent_type(std::uint64_t ino, std::uint64_t file_offset,
                                       const FileExtentItem& item) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "unhandled extent type %u for inode %" PRIu64 " file offset %" PRIu64
                  " gen %" PRIu64 "\n",
                  static_cast<unsigned>(item.type), ino, file_offset, item.generation);
    return buf;
}

std::string describe_change(const ChangedInode& change, std::uint64_t gen) {
    const bool created = change.created_since(gen);
    std::string what;
    const auto add = [&what](const char* w) {
        if (!what.empty()) what += ',';
        what += w;
    };
    if (created) add("new");
    if (change.new_extent_items > 0) {
        add("extents");
    } else if (created) {
        if (change.inode.nbytes > 0) add("old-extents");
    } else {
        add("inode-only");
    }
    return what;
}

namespace {

void append_escaped(std::string& out, const std::string& name) {
    for (const char c : name) {
        switch (c) {
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\\':
                out += "\\\\";
                break;
            default:
                out += c;
        }
    }
}

}  // namespace

std::string format_change_line(const ChangedInode& change, std::uint64_t gen,
                               const std::vector<std::string>& paths) {
    const InodeItem& in = change.inode;
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "inode %" PRIu64 " gen %" PRIu64 " transid %" PRIu64 " size %" PRIu64
                  " mode 0%o nlink %u flags ",
                  change.ino, in.generation, in.transid, in.size, in.mode, in.nlink);
    std::string line = buf;
    line += inode_flag_names(in.flags);
    line += " changed ";
    line += describe_change(change, gen);
    for (const std::string& p : paths) {
        line += '\t';
        append_escaped(line, p);
    }
    line += '\n';
    return line;
}

}  // namespace rdd::btrfs
