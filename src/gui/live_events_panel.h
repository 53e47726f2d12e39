#pragma once
// The latest events and bad events, from the capped Redis streams every dashboard shares;
// filterable by user, action and page, with the raw JSON of the selected one.

#include "metatypes.h"

#include <QWidget>

class QLineEdit;
class QPlainTextEdit;
class QSortFilterProxyModel;
class QStandardItemModel;
class QTableView;
class QTabWidget;

namespace pb::gui {

class LiveEventsPanel : public QWidget {
    Q_OBJECT
public:
    explicit LiveEventsPanel(QWidget *parent = nullptr);
    void showSnapshot(const Snapshot &snapshot);
    int visibleEvents() const;    // rows after filtering (for tests)
    int visibleBadEvents() const; // rows (for tests)
    void setFilters(const QString &user, const QString &action, const QString &page);

private:
    struct Feed {
        QStandardItemModel *model = nullptr;
        QSortFilterProxyModel *proxy = nullptr;
        QTableView *view = nullptr;
        QPlainTextEdit *raw = nullptr;
        QString newestId;
    };
    QWidget *makeFeed(Feed &feed, const QStringList &headers);
    void fill(Feed &feed, const std::vector<FeedItem> &items, bool bad);
    void applyFilters();

    QTabWidget *tabs_ = nullptr;
    QLineEdit *user_ = nullptr;
    QLineEdit *action_ = nullptr;
    QLineEdit *page_ = nullptr;
    Feed events_;
    Feed bad_;
};

} // namespace pb::gui
