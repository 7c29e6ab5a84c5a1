// Per-volume scan settings, kept in the meta table (key "scan_settings/<volume id>") so that
// recording them needs no schema change; forget_volume/reset leave at most a stale key, which
// a new volume id never matches (ids are not reused while rows exist, and a stale key only
// forces one full pass).
#include <string>

#include "reflinkdedup/catalog/catalog.hpp"

namespace rdd::catalog {

namespace {

std::string settings_key(VolumeId volume) { return "scan_settings/" + std::to_string(volume); }

}  // namespace

std::string Catalog::scan_settings(VolumeId volume) const {
    Statement st(conn_, "SELECT value FROM meta WHERE key = ?1");
    const std::string key = settings_key(volume);
    st.bind(1, key);
    if (!st.step()) return {};
    return std::string(st.column_text(0));
}

void Catalog::set_scan_settings(VolumeId volume, std::string_view settings) {
    require_writer("set_scan_settings");
    Statement st(conn_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)");
    const std::string key = settings_key(volume);
    st.bind(1, key).bind(2, settings);
    st.run();
}

}  // namespace rdd::catalog
