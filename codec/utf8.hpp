// UTF-8 checks for MQTT strings (MQTT 5 §1.5.4).
#pragma once

#include <string_view>

namespace colony::codec {

/// Well-formed UTF-8 (no overlongs, no surrogates U+D800..U+DFFF, nothing above U+10FFFF:
/// MQTT-1.5.4-1) and no U+0000 (MQTT-1.5.4-2).
bool is_valid_mqtt_utf8(std::string_view s) noexcept;

} // namespace colony::codec
