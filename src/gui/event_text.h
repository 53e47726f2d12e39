#pragma once
// Event content (page, action and user names, payloads) on the way into widgets: inert, shown
// as the literal text it is. Plain-text widgets get pb::visibleText() (controls and bidi
// overrides escaped); Qt Charts renders its labels as HTML, so chart labels are escaped for that
// too. Labels that show event content also use Qt::PlainText.

#include "core/visible_text.h"

#include <QString>

#include <string_view>

namespace pb::gui {

inline QString eventText(std::string_view text)
{
    return QString::fromStdString(visibleText(text));
}

inline QString eventText(const QString &text)
{
    return eventText(text.toStdString());
}

inline QString chartEventText(std::string_view text)
{
    return eventText(text).toHtmlEscaped();
}

} // namespace pb::gui
