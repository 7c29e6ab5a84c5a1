#pragma once
// --exclude patterns, with rsync-like rules users already know:
//   "*.tmp", ".cache"      no slash: matches the name of a file or directory at any depth
//   "/home/*/Downloads"    leading slash: anchored at the scanned root
//   "var/cache"            slash inside: matches a path suffix at any depth
// A matching directory is not entered. Wildcards (fnmatch: * ? [..]) never cross a slash and,
// as in rsync, match leading dots too.
#include <string>
#include <string_view>
#include <vector>

namespace rdd {

class PathFilter {
public:
    PathFilter() = default;
    explicit PathFilter(std::vector<std::string> patterns);

    // `relative` is the path below the scanned root without a leading slash ("a/b/c").
    [[nodiscard]] bool excluded(std::string_view relative) const;
    [[nodiscard]] bool empty() const noexcept { return patterns_.empty(); }

private:
    struct Pattern {
        std::string glob;
        bool anchored = false;   // leading '/'
        bool has_slash = false;  // matched against paths, not names
    };
    std::vector<Pattern> patterns_;
};

}  // namespace rdd
