#include "live_events_panel.h"

#include "event_text.h"

#include "core/event.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>

namespace pb::gui {

namespace {

enum Column { Time, User, Action, Page, Source, Reason };

// Matches every non-empty filter against its column (case-insensitive substring).
class FeedFilter : public QSortFilterProxyModel {
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    void setFilters(QString user, QString action, QString page)
    {
        user_ = std::move(user);
        action_ = std::move(action);
        page_ = std::move(page);
        invalidateFilter();
    }

protected:
    bool filterAcceptsRow(int row, const QModelIndex &parent) const override
    {
        const auto matches = [&](int column, const QString &needle) {
            if (needle.isEmpty())
                return true;
            return sourceModel()
                ->index(row, column, parent)
                .data()
                .toString()
                .contains(needle, Qt::CaseInsensitive);
        };
        return matches(User, user_) && matches(Action, action_) && matches(Page, page_);
    }

private:
    QString user_, action_, page_;
};

QString valueText(const QJsonValue &v)
{
    if (v.isString())
        return v.toString();
    if (v.isDouble())
        return QString::number(v.toInteger());
    return {};
}

} // namespace

LiveEventsPanel::LiveEventsPanel(QWidget *parent)
    : QWidget(parent)
{
    auto *layout = new QVBoxLayout(this);
    auto *filters = new QHBoxLayout;
    const auto field = [&](const QString &label, const QString &name) {
        auto *edit = new QLineEdit(this);
        edit->setObjectName(name);
        edit->setClearButtonEnabled(true);
        edit->setPlaceholderText(label);
        filters->addWidget(new QLabel(label + ":", this));
        filters->addWidget(edit, 1);
        connect(edit, &QLineEdit::textChanged, this, &LiveEventsPanel::applyFilters);
        return edit;
    };
    user_ = field(tr("User"), "filterUser");
    action_ = field(tr("Action"), "filterAction");
    page_ = field(tr("Page"), "filterPage");
    layout->addLayout(filters);

    tabs_ = new QTabWidget(this);
    tabs_->addTab(makeFeed(events_, {tr("Time (UTC)"), tr("User"), tr("Action"), tr("Page"),
                                     tr("Partition / offset")}),
                  tr("Events"));
    tabs_->addTab(makeFeed(bad_, {tr("Time (UTC)"), tr("User"), tr("Action"), tr("Page"),
                                  tr("Partition / offset"), tr("Reason")}),
                  tr("Bad events"));
    layout->addWidget(tabs_, 1);
    auto *note = new QLabel(tr("The newest events as the aggregators saw them (a shared sample "
                               "of at most 50 per batch); bad events are also in the "
                               "dead-letter topic."),
                            this);
    note->setWordWrap(true);
    layout->addWidget(note);
}

QWidget *LiveEventsPanel::makeFeed(Feed &feed, const QStringList &headers)
{
    auto *splitter = new QSplitter(Qt::Vertical, this);
    feed.model = new QStandardItemModel(0, static_cast<int>(headers.size()), this);
    feed.model->setHorizontalHeaderLabels(headers);
    feed.proxy = new FeedFilter(this);
    feed.proxy->setSourceModel(feed.model);
    feed.view = new QTableView(splitter);
    feed.view->setModel(feed.proxy);
    feed.view->setSelectionBehavior(QAbstractItemView::SelectRows);
    feed.view->setSelectionMode(QAbstractItemView::SingleSelection);
    feed.view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    feed.view->horizontalHeader()->setStretchLastSection(true);
    feed.view->verticalHeader()->hide();
    feed.raw = new QPlainTextEdit(splitter);
    feed.raw->setReadOnly(true);
    feed.raw->setPlaceholderText(tr("Select an event to see its raw JSON."));
    feed.raw->setMaximumBlockCount(200);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 1);
    connect(feed.view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [&feed](const QModelIndex &current) {
                const auto raw = feed.proxy->index(current.row(), 0).data(Qt::UserRole);
                feed.raw->setPlainText(raw.toString());
            });
    return splitter;
}

void LiveEventsPanel::fill(Feed &feed, const std::vector<FeedItem> &items, bool bad)
{
    // Nothing new: keep the selection and scroll position as they are.
    if (items.empty() || QString::fromStdString(items.front().streamId) == feed.newestId)
        return;
    feed.newestId = QString::fromStdString(items.front().streamId);
    const auto selected = feed.view->currentIndex().data(Qt::UserRole + 1).toString();
    feed.model->removeRows(0, feed.model->rowCount());
    for (const auto &item : items) {
        const auto raw = QString::fromStdString(item.raw);
        const auto json = QJsonDocument::fromJson(QByteArray::fromStdString(item.raw)).object();
        QList<QStandardItem *> row;
        row << new QStandardItem(QString::fromStdString(formatIso8601Ms(item.timestampMs)))
            << new QStandardItem(gui::eventText(valueText(json.value("user_id"))))
            << new QStandardItem(gui::eventText(valueText(json.value("action"))))
            << new QStandardItem(gui::eventText(valueText(json.value("page"))))
            << new QStandardItem(QStringLiteral("%1 @ %2")
                                     .arg(QString::fromStdString(item.source))
                                     .arg(item.offset));
        if (bad)
            row << new QStandardItem(QString::fromStdString(item.reason));
        row[0]->setData(raw.isEmpty() ? tr("(empty payload)") : gui::eventText(item.raw),
                        Qt::UserRole);
        row[0]->setData(QString::fromStdString(item.streamId), Qt::UserRole + 1);
        feed.model->appendRow(row);
    }
    if (!selected.isEmpty()) {
        for (int r = 0; r < feed.proxy->rowCount(); ++r) {
            if (feed.proxy->index(r, 0).data(Qt::UserRole + 1).toString() == selected) {
                feed.view->selectRow(r);
                break;
            }
        }
    }
}

void LiveEventsPanel::showSnapshot(const Snapshot &snapshot)
{
    fill(events_, snapshot.latestEvents, false);
    fill(bad_, snapshot.latestBadEvents, true);
}

void LiveEventsPanel::applyFilters()
{
    for (auto *feed : {&events_, &bad_})
        static_cast<FeedFilter *>(feed->proxy)
            ->setFilters(user_->text().trimmed(), action_->text().trimmed(),
                         page_->text().trimmed());
}

void LiveEventsPanel::setFilters(const QString &user, const QString &action, const QString &page)
{
    user_->setText(user);
    action_->setText(action);
    page_->setText(page);
}

int LiveEventsPanel::visibleEvents() const
{
    return events_.proxy->rowCount();
}

int LiveEventsPanel::visibleBadEvents() const
{
    return bad_.proxy->rowCount();
}

} // namespace pb::gui
