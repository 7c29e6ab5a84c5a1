#pragma once
// Pure parsers for the /proc text the writer scan reads: /proc/PID/fdinfo/N and
// /proc/PID/maps. No I/O here, so every odd case is unit-tested.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rdd::lock {

// The "flags:" value of an fdinfo file (the kernel prints it in octal), or nullopt when the
// line is missing or garbled.
[[nodiscard]] std::optional<std::uint32_t> parse_fdinfo_flags(std::string_view fdinfo);

// O_WRONLY or O_RDWR in the access mode bits: the fd can write the file.
[[nodiscard]] bool opened_for_write(std::uint32_t open_flags) noexcept;

// One line of /proc/PID/maps.
struct MapsEntry {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    bool read = false;
    bool write = false;
    bool exec = false;
    bool shared = false;       // 's' (MAP_SHARED); 'p' is a private copy-on-write mapping
    std::uint64_t offset = 0;
    std::uint32_t dev_major = 0;  // the superblock's s_dev: wrong for btrfs subvolumes,
    std::uint32_t dev_minor = 0;  // so never used to match files
    std::uint64_t inode = 0;
    std::string path;          // "\012" unescaped to '\n'; " (deleted)" removed
    bool deleted = false;      // the path ended in " (deleted)"
    friend bool operator==(const MapsEntry&, const MapsEntry&) = default;
};

// Parses one line (without its '\n'); nullopt when it is not a maps line.
[[nodiscard]] std::optional<MapsEntry> parse_maps_line(std::string_view line);

// Every parsable line of a maps file. The kernel escapes '\n' in paths, so lines split cleanly.
[[nodiscard]] std::vector<MapsEntry> parse_maps(std::string_view text);

// A file mapping through which the process can change the file: shared and writable
// (it stays so after the fd that created it is closed).
[[nodiscard]] bool writes_to_file(const MapsEntry& entry) noexcept;

// The name of the entry's link in /proc/PID/map_files: "start-end" in unpadded hex.
[[nodiscard]] std::string map_files_name(const MapsEntry& entry);

}  // namespace rdd::lock
