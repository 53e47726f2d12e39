#pragma once
// Event content is data: page, action and user names come from producers. Before one reaches a
// terminal, a label or a spreadsheet it is made inert here, in one place. Pure, thread-safe.

#include <string>
#include <string_view>

namespace pb {

// For terminals and plain-text labels: control characters (C0, DEL, C1) and the Unicode
// controls that reorder or split text (bidi embeddings, overrides, isolates and marks, line and
// paragraph separators) become visible escapes — "\x1b", "\u{202e}" — and a backslash becomes
// "\\", so a name can neither move the cursor, recolour the screen, overwrite a line nor reverse
// what follows it. Expects UTF-8 (the validator guarantees it); other bytes pass unchanged.
std::string visibleText(std::string_view text);

// For a spreadsheet cell: a leading = + - @ tab or CR would start a formula, so such a cell
// gets a leading apostrophe (OWASP's advice), which spreadsheets show as text.
std::string inertCell(std::string_view text);

} // namespace pb
