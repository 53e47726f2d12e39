#include "visible_text.h"

#include <cstdint>

namespace pb {

namespace {

// The code points visibleText() escapes besides C0 and DEL.
bool reorders(std::uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) ||     // C1 controls
           cp == 0x200E || cp == 0x200F ||   // left-to-right and right-to-left marks
           (cp >= 0x2028 && cp <= 0x202E) || // separators, embeddings, overrides
           (cp >= 0x2066 && cp <= 0x2069) || // isolates
           cp == 0x061C;                     // Arabic letter mark
}

void appendHex(std::string &out, std::uint32_t value, int digits)
{
    static constexpr char kHex[] = "0123456789abcdef";
    for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4)
        out += kHex[(value >> shift) & 0xF];
}

} // namespace

std::string visibleText(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte < 0x20 || byte == 0x7F) {
            out += "\\x";
            appendHex(out, byte, 2);
            ++i;
            continue;
        }
        if (byte == '\\') {
            out += "\\\\";
            ++i;
            continue;
        }
        // Two- and three-byte sequences hold every code point escaped here.
        std::uint32_t cp = 0;
        std::size_t length = 1;
        if ((byte & 0xE0) == 0xC0 && i + 1 < text.size()) {
            cp = ((byte & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
            length = 2;
        } else if ((byte & 0xF0) == 0xE0 && i + 2 < text.size()) {
            cp = ((byte & 0x0Fu) << 12) | ((static_cast<unsigned char>(text[i + 1]) & 0x3Fu) << 6) |
                 (static_cast<unsigned char>(text[i + 2]) & 0x3Fu);
            length = 3;
        }
        if (length > 1 && reorders(cp)) {
            out += "\\u{";
            appendHex(out, cp, 4);
            out += '}';
        } else {
            out.append(text.substr(i, length));
        }
        i += length;
    }
    return out;
}

std::string inertCell(std::string_view text)
{
    if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos)
        return "'" + std::string(text);
    return std::string(text);
}

} // namespace pb
