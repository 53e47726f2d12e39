#include "secret_store.h"

#include <qt6keychain/keychain.h>

namespace pb::gui {

SecretStore::SecretStore(QString service, QObject *parent)
    : QObject(parent)
    , service_(std::move(service))
{
}

void SecretStore::load()
{
    for (const char *key : {kRedisPassword, kSaslPassword, kAlertmanagerUrl, kWebhookUrl}) {
        auto *job = new QKeychain::ReadPasswordJob(service_, this);
        job->setAutoDelete(true);
        job->setInsecureFallback(false); // never a plain-text file
        job->setKey(key);
        connect(job, &QKeychain::Job::finished, this, [this, job, key = QString(key)] {
            if (job->error() == QKeychain::NoError) {
                Q_EMIT loaded(key, job->textData());
            } else if (job->error() != QKeychain::EntryNotFound) {
                available_ = false;
                problem_ = job->errorString();
                Q_EMIT unavailable(problem_);
            }
        });
        job->start();
    }
}

void SecretStore::save(const QString &key, const QString &secret)
{
    QKeychain::Job *job = nullptr;
    if (secret.isEmpty()) {
        auto *del = new QKeychain::DeletePasswordJob(service_, this);
        del->setKey(key);
        job = del;
    } else {
        auto *write = new QKeychain::WritePasswordJob(service_, this);
        write->setKey(key);
        write->setTextData(secret);
        job = write;
    }
    job->setAutoDelete(true);
    job->setInsecureFallback(false);
    connect(job, &QKeychain::Job::finished, this, [this, job] {
        if (job->error() != QKeychain::NoError && job->error() != QKeychain::EntryNotFound) {
            available_ = false;
            problem_ = job->errorString();
            Q_EMIT unavailable(problem_);
        }
    });
    job->start();
}

} // namespace pb::gui
