// pulseboard: the operators' desktop dashboard. Embedded stack by default; real Kafka and Redis
// once the settings name them. --screenshot renders the window to a PNG and exits.

#include "control_panels.h"
#include "main_window.h"
#include "pipeline/stop_signals.h"
#include "pipeline_controller.h"
#include "secret_store.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QPalette>
#include <QPushButton>
#include <QSettings>
#include <QTimer>

#include <cstdio>
#include <string_view>

namespace {

QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x2b, 0x2b, 0x2b), base(0x1e, 0x1e, 0x1e), text(0xe8, 0xe8, 0xe8);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, window);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::ToolTipBase, base);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::Highlight, QColor(0x42, 0xa5, 0xf5));
    p.setColor(QPalette::HighlightedText, Qt::black);
    p.setColor(QPalette::PlaceholderText, QColor(0x9e, 0x9e, 0x9e));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x80, 0x80, 0x80));
    return p;
}

void describe(QCommandLineParser &parser)
{
    QCoreApplication::setApplicationName("Pulseboard");
    QCoreApplication::setOrganizationName("Pulseboard");
    QCoreApplication::setApplicationVersion(PULSEBOARD_VERSION);
    parser.setApplicationDescription("Pulseboard: real-time user-activity dashboard");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addOption({"screenshot",
                      "Start as usual (simulator running), render the window to "
                      "FILE and exit.",
                      "FILE"});
    parser.addOption({"after", "With --screenshot: wait this many seconds first.", "SECONDS", "6"});
    parser.addOption({"size", "With --screenshot: window size.", "WxH", "1280x800"});
    parser.addOption({"settings", "Use this settings file instead of the user's.", "FILE"});
    parser.addOption({"palette", "Colours: system, light or dark.", "NAME", "system"});
}

// --help and --version need no display: answered before QApplication looks for one (on a
// server without X it would abort).
bool onlyText(int argc, char *argv[])
{
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "-?" || arg == "-v" ||
            arg == "--version")
            return true;
    }
    return false;
}

} // namespace

int main(int argc, char *argv[])
{
    if (onlyText(argc, argv)) {
        QCoreApplication app(argc, argv);
        QCommandLineParser parser;
        describe(parser);
        parser.process(app); // prints and exits
        return 0;
    }
    // First, before any thread starts: SIGINT/SIGTERM become a clean quit (the aggregators
    // flush, the embedded redis-server stops and its directory goes).
    pb::StopSignals stopSignals;
    QApplication app(argc, argv);
    stopSignals.onStop(
        [] { QMetaObject::invokeMethod(qApp, &QApplication::quit, Qt::QueuedConnection); });
    QCommandLineParser parser;
    describe(parser);
    parser.process(app);
    if (const auto palette = parser.value("palette"); palette != "system") {
        if (palette != "light" && palette != "dark") {
            std::fprintf(stderr, "pulseboard: --palette wants system, light or dark\n");
            return 2;
        }
        QApplication::setStyle("Fusion");
        QApplication::setPalette(palette == "dark" ? darkPalette()
                                                   : QPalette(QColor(0xf5, 0xf5, 0xf5)));
    }

    std::unique_ptr<QSettings> settings =
        parser.isSet("settings")
            ? std::make_unique<QSettings>(parser.value("settings"), QSettings::IniFormat)
            : std::make_unique<QSettings>();
    pb::gui::PipelineController controller;
    pb::gui::SecretStore secrets;
    pb::gui::MainWindow window(controller, *settings, secrets);

    if (parser.isSet("screenshot")) {
        const auto size = parser.value("size").split('x');
        bool okW = false, okH = false, okAfter = false;
        const int w = size.value(0).toInt(&okW);
        const int h = size.value(1).toInt(&okH);
        const double after = parser.value("after").toDouble(&okAfter);
        if (!okW || !okH || w < 320 || h < 240 || !okAfter || after < 0) {
            std::fprintf(stderr, "pulseboard: --size wants WxH (at least 320x240) and --after "
                                 "a number of seconds\n");
            return 2;
        }
        window.resize(w, h);
        const auto file = parser.value("screenshot");
        // The simulator starts as soon as the pipeline is ready.
        QObject::connect(&controller, &pb::gui::PipelineController::endpointsReady, &window,
                         [&window] {
                             QTimer::singleShot(500, &window, [&window] {
                                 if (window.simulator()->button()->text().startsWith("Start"))
                                     window.simulator()->toggle();
                             });
                         });
        QTimer::singleShot(static_cast<int>(after * 1000), &window, [&window, file] {
            const bool ok = window.grab().save(file, "PNG");
            std::fprintf(ok ? stdout : stderr, ok ? "wrote %s\n" : "pulseboard: cannot write %s\n",
                         qPrintable(file));
            QApplication::exit(ok ? 0 : 1);
        });
    }
    window.show();
    return app.exec();
}
