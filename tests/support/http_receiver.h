#pragma once
// A small HTTP/1.1 server standing in for a webhook receiver or an Alertmanager that answers
// as told: a peer for the alert delivery tests, not a mock of our code.

#include <QHash>
#include <QList>
#include <QObject>
#include <QTcpServer>
#include <QTcpSocket>

namespace pb::test {

// A webhook receiver: records each POST (headers and body) and answers with the next status
// of `statuses` (the last one repeats); 0 means "accept the connection and never answer".
class Receiver : public QObject {
public:
    struct Request {
        QByteArray head;
        QByteArray body;
    };
    explicit Receiver(QList<int> statuses)
        : statuses_(std::move(statuses))
    {
        server_.listen(QHostAddress::LocalHost, 0);
        connect(&server_, &QTcpServer::newConnection, this, [this] {
            while (auto *socket = server_.nextPendingConnection())
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { read(socket); });
        });
    }
    QString url(const QString &rest = "/hook") const
    {
        return "http://127.0.0.1:" + QString::number(server_.serverPort()) + rest;
    }
    QList<Request> requests;

private:
    void read(QTcpSocket *socket)
    {
        auto &buffer = buffers_[socket];
        buffer += socket->readAll();
        const auto end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return;
        const auto head = buffer.left(end);
        qsizetype length = 0;
        for (const auto &line : head.split('\n'))
            if (line.toLower().startsWith("content-length:"))
                length = line.mid(15).trimmed().toLongLong();
        if (buffer.size() < end + 4 + length)
            return;
        requests.push_back({head, buffer.mid(end + 4, length)});
        buffer.remove(0, end + 4 + length);
        const int status =
            statuses_.value(std::min<qsizetype>(requests.size() - 1, statuses_.size() - 1));
        if (status == 0)
            return;
        socket->write("HTTP/1.1 " + QByteArray::number(status) +
                      " X\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
    }

    QTcpServer server_;
    QList<int> statuses_;
    QHash<QTcpSocket *, QByteArray> buffers_;
};

} // namespace pb::test
