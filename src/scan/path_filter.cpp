#include "reflinkdedup/scan/path_filter.hpp"

#include <fnmatch.h>

namespace rdd {

namespace {

bool glob_match(const std::string& glob, std::string_view text) {
    const std::string s(text);
    return ::fnmatch(glob.c_str(), s.c_str(), FNM_PATHNAME) == 0;
}

}  // namespace

PathFilter::PathFilter(std::vector<std::string> patterns) {
    for (std::string& p : patterns) {
        while (p.size() > 1 && p.back() == '/') p.pop_back();  // "dir/" means the directory
        if (p.empty() || p == "/") continue;
        Pattern pat;
        pat.anchored = p.front() == '/';
        if (pat.anchored) p.erase(0, 1);
        pat.has_slash = pat.anchored || p.find('/') != std::string::npos;
        pat.glob = std::move(p);
        patterns_.push_back(std::move(pat));
    }
}

bool PathFilter::excluded(std::string_view relative) const {
    const auto slash = relative.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? relative : relative.substr(slash + 1);
    for (const Pattern& p : patterns_) {
        if (!p.has_slash) {
            if (glob_match(p.glob, name)) return true;
        } else if (p.anchored) {
            if (glob_match(p.glob, relative)) return true;
        } else {
            // Try every suffix that starts at a component boundary.
            for (std::size_t pos = 0;;) {
                if (glob_match(p.glob, relative.substr(pos))) return true;
                const auto next = relative.find('/', pos);
                if (next == std::string_view::npos) break;
                pos = next + 1;
            }
        }
    }
    return false;
}

}  // namespace rdd
