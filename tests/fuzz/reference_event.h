#pragma once
// An independent, slow and plain reading of the event rules (README "Events", event.h) for the
// validator's fuzz target: a recursive-descent JSON parser (RFC 8259, UTF-8 per RFC 3629) that
// knows nothing of simdjson, then the field rules. The validator must agree with it.

#include "core/event.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reference {

// What the document as a whole is.
enum class Document {
    Good,      // well-formed JSON, valid UTF-8
    BadUtf8,   // well-formed, but raw bytes that are not UTF-8 or an escaped lone surrogate
    Malformed, // not JSON (grammar, nesting deeper than the validator's 1000 levels)
};

struct Value {
    enum class Kind { Object, Array, String, Integer, Float, True, False, Null } kind{};
    std::string text; // String: unescaped; Integer and Float: the token
};

struct Verdict {
    Document document = Document::Malformed;
    bool rawUtf8Bad = false;                // raw bytes that are not UTF-8, anywhere
    bool loneSurrogate = false;             // an escaped lone surrogate, anywhere
    std::optional<pb::InvalidReason> error; // meaningful when document == Good
    std::string userId, action, page;
    std::optional<std::int64_t> timestampMs;
};

class Parser {
public:
    explicit Parser(std::string_view text)
        : s_(text)
    {
    }

    Verdict run()
    {
        Verdict v;
        v.rawUtf8Bad = !validUtf8(s_);
        skipSpace();
        Value root;
        std::vector<std::pair<std::string, Value>> fields;
        const bool ok = value(root, 1, &fields) && (skipSpace(), pos_ == s_.size());
        v.loneSurrogate = loneSurrogate_;
        if (!ok)
            v.document = Document::Malformed;
        else if (v.rawUtf8Bad || loneSurrogate_)
            v.document = Document::BadUtf8;
        else
            v.document = Document::Good;
        if (v.document != Document::Good)
            return v;
        if (root.kind != Value::Kind::Object) {
            v.error = pb::InvalidReason::NotObject;
            return v;
        }
        judge(fields, v);
        return v;
    }

private:
    static constexpr int kMaxDepth = 1000;
    static constexpr std::int64_t kMaxEpochMs = 253'402'300'799'999;

    static bool validUtf8(std::string_view s)
    {
        for (std::size_t i = 0; i < s.size();) {
            const auto c = static_cast<unsigned char>(s[i]);
            std::size_t n = 0;
            unsigned lo = 0x80, hi = 0xBF; // range of the first continuation byte
            if (c < 0x80) {
                ++i;
                continue;
            } else if (c >= 0xC2 && c <= 0xDF) {
                n = 1;
            } else if (c >= 0xE0 && c <= 0xEF) {
                n = 2;
                if (c == 0xE0)
                    lo = 0xA0;
                if (c == 0xED)
                    hi = 0x9F;
            } else if (c >= 0xF0 && c <= 0xF4) {
                n = 3;
                if (c == 0xF0)
                    lo = 0x90;
                if (c == 0xF4)
                    hi = 0x8F;
            } else {
                return false;
            }
            if (s.size() - i <= n)
                return false;
            for (std::size_t k = 1; k <= n; ++k) {
                const auto d = static_cast<unsigned char>(s[i + k]);
                if (k == 1 ? (d < lo || d > hi) : (d < 0x80 || d > 0xBF))
                    return false;
            }
            i += n + 1;
        }
        return true;
    }

    void skipSpace()
    {
        while (pos_ < s_.size() &&
               (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool literal(std::string_view word)
    {
        if (s_.substr(pos_, word.size()) != word)
            return false;
        pos_ += word.size();
        return true;
    }
    static bool digit(char c) { return c >= '0' && c <= '9'; }

    // The root's fields are collected in `fields` (nullptr below the root).
    bool value(Value &out, int level, std::vector<std::pair<std::string, Value>> *fields)
    {
        if (pos_ >= s_.size())
            return false;
        const char c = s_[pos_];
        if (c == '{') {
            out.kind = Value::Kind::Object;
            if (level > kMaxDepth)
                return false;
            ++pos_;
            skipSpace();
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                return true;
            }
            for (;;) {
                skipSpace();
                std::string key;
                if (pos_ >= s_.size() || s_[pos_] != '"' || !string(key))
                    return false;
                skipSpace();
                if (pos_ >= s_.size() || s_[pos_] != ':')
                    return false;
                ++pos_;
                skipSpace();
                Value child;
                if (!value(child, level + 1, nullptr))
                    return false;
                if (fields)
                    fields->emplace_back(std::move(key), std::move(child));
                skipSpace();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == '}') {
                    ++pos_;
                    return true;
                }
                return false;
            }
        }
        if (c == '[') {
            out.kind = Value::Kind::Array;
            if (level > kMaxDepth)
                return false;
            ++pos_;
            skipSpace();
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                return true;
            }
            for (;;) {
                skipSpace();
                Value child;
                if (!value(child, level + 1, nullptr))
                    return false;
                skipSpace();
                if (pos_ < s_.size() && s_[pos_] == ',') {
                    ++pos_;
                    continue;
                }
                if (pos_ < s_.size() && s_[pos_] == ']') {
                    ++pos_;
                    return true;
                }
                return false;
            }
        }
        if (c == '"') {
            out.kind = Value::Kind::String;
            return string(out.text);
        }
        if (literal("true")) {
            out.kind = Value::Kind::True;
            return true;
        }
        if (literal("false")) {
            out.kind = Value::Kind::False;
            return true;
        }
        if (literal("null")) {
            out.kind = Value::Kind::Null;
            return true;
        }
        return number(out);
    }

    bool number(Value &out)
    {
        const auto begin = pos_;
        out.kind = Value::Kind::Integer;
        if (pos_ < s_.size() && s_[pos_] == '-')
            ++pos_;
        if (pos_ >= s_.size() || !digit(s_[pos_]))
            return false;
        if (s_[pos_] == '0')
            ++pos_;
        else
            while (pos_ < s_.size() && digit(s_[pos_]))
                ++pos_;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            if (pos_ >= s_.size() || !digit(s_[pos_]))
                return false;
            while (pos_ < s_.size() && digit(s_[pos_]))
                ++pos_;
            out.kind = Value::Kind::Float;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
                ++pos_;
            if (pos_ >= s_.size() || !digit(s_[pos_]))
                return false;
            while (pos_ < s_.size() && digit(s_[pos_]))
                ++pos_;
            out.kind = Value::Kind::Float;
        }
        out.text = std::string(s_.substr(begin, pos_ - begin));
        return true;
    }

    bool hex4(unsigned &out)
    {
        if (s_.size() - pos_ < 4)
            return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = s_[pos_++];
            out <<= 4;
            if (digit(c))
                out |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                out |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                out |= static_cast<unsigned>(c - 'A' + 10);
            else
                return false;
        }
        return true;
    }

    static void appendUtf8(std::string &out, unsigned cp)
    {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // At the opening quote.
    bool string(std::string &out)
    {
        ++pos_;
        out.clear();
        while (pos_ < s_.size()) {
            const char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                return false;
            if (c != '\\') {
                out += c;
                ++pos_;
                continue;
            }
            if (++pos_ >= s_.size())
                return false;
            const char e = s_[pos_++];
            switch (e) {
            case '"':
            case '\\':
            case '/':
                out += e;
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'u': {
                unsigned cp = 0;
                if (!hex4(cp))
                    return false;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    // A high surrogate needs "\u" and a low one right after it.
                    const auto save = pos_;
                    unsigned low = 0;
                    if (s_.substr(pos_, 2) == "\\u") {
                        pos_ += 2;
                        if (!hex4(low))
                            return false;
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            appendUtf8(out, 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00));
                            break;
                        }
                    }
                    pos_ = save;
                    loneSurrogate_ = true;
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    loneSurrogate_ = true;
                } else {
                    appendUtf8(out, cp);
                }
                break;
            }
            default:
                return false;
            }
        }
        return false;
    }

    static std::optional<std::int64_t> integer(const std::string &token)
    {
        const bool negative = token.front() == '-';
        // |INT64_MIN| = 9223372036854775808
        unsigned __int128 magnitude = 0;
        for (std::size_t i = negative ? 1 : 0; i < token.size(); ++i) {
            magnitude = magnitude * 10 + static_cast<unsigned>(token[i] - '0');
            if (magnitude > (static_cast<unsigned __int128>(1) << 63))
                return std::nullopt;
        }
        if (!negative && magnitude == (static_cast<unsigned __int128>(1) << 63))
            return std::nullopt;
        return negative ? static_cast<std::int64_t>(-static_cast<__int128>(magnitude))
                        : static_cast<std::int64_t>(magnitude);
    }

    static void judge(const std::vector<std::pair<std::string, Value>> &fields, Verdict &v)
    {
        using R = pb::InvalidReason;
        using K = Value::Kind;
        const auto first = [&](std::string_view name) -> const Value * {
            for (const auto &[key, value] : fields)
                if (key == name)
                    return &value;
            return nullptr;
        };
        const auto text = [](const Value *value, std::size_t max, R type, R range,
                             std::string &out) -> std::optional<R> {
            if (value->kind != K::String)
                return type;
            if (value->text.empty() || value->text.size() > max)
                return range;
            out = value->text;
            return std::nullopt;
        };
        const auto *user = first("user_id");
        if (!user) {
            v.error = R::UserIdMissing;
            return;
        }
        if (user->kind == K::Integer) {
            const auto id = integer(user->text);
            if (!id) {
                v.error = R::UserIdRange;
                return;
            }
            v.userId = std::to_string(*id);
        } else if (user->kind == K::String) {
            if (const auto e =
                    text(user, pb::kMaxUserIdBytes, R::UserIdType, R::UserIdRange, v.userId)) {
                v.error = e;
                return;
            }
        } else {
            v.error = R::UserIdType;
            return;
        }
        const auto *action = first("action");
        if (!action) {
            v.error = R::ActionMissing;
            return;
        }
        if (const auto e =
                text(action, pb::kMaxActionBytes, R::ActionType, R::ActionRange, v.action)) {
            v.error = e;
            return;
        }
        const auto *page = first("page");
        if (!page) {
            v.error = R::PageMissing;
            return;
        }
        if (const auto e = text(page, pb::kMaxPageBytes, R::PageType, R::PageRange, v.page)) {
            v.error = e;
            return;
        }
        const auto *timestamp = first("timestamp");
        if (!timestamp || timestamp->kind == K::Null)
            return;
        if (timestamp->kind == K::String) {
            v.timestampMs = pb::parseIso8601Ms(timestamp->text);
            if (!v.timestampMs)
                v.error = R::TimestampFormat;
        } else if (timestamp->kind == K::Integer) {
            const auto ms = integer(timestamp->text);
            if (!ms || *ms < 0 || *ms > kMaxEpochMs)
                v.error = R::TimestampFormat;
            else
                v.timestampMs = ms;
        } else {
            v.error = R::TimestampType;
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    bool loneSurrogate_ = false;
};

inline Verdict judge(std::string_view payload)
{
    return Parser(payload).run();
}

} // namespace reference
