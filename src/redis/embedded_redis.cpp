#include "embedded_redis.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace pb::redis {

namespace {

std::string findExecutable(const std::string &name)
{
    if (name.find('/') != std::string::npos)
        return access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char *path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return {};
}

std::string tail(const std::filesystem::path &file, std::size_t lines)
{
    std::ifstream in(file);
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);)
        all.push_back(line);
    std::string out;
    for (auto i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
        out += "\n  " + all[i];
    return out;
}

// A value for redis.conf: double-quoted, with quotes, backslashes and control bytes escaped.
std::string configQuote(const std::string &value)
{
    std::string out = "\"";
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte == 0x7f) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

bool portBindable(int port)
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

} // namespace

int pickFreeLoopbackPort()
{
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        throw Error(ErrorKind::Fatal, "cannot open a socket to find a free port");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        close(fd);
        throw Error(ErrorKind::Fatal, "cannot bind a loopback socket to find a free port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

EmbeddedRedis::EmbeddedRedis(EmbeddedRedisOptions options)
    : options_(std::move(options))
{
    options_.executable = findExecutable(options_.executable);
    if (options_.executable.empty())
        throw Error(ErrorKind::Fatal,
                    "redis-server not found on PATH: install it (apt-get install redis-server) "
                    "or point Pulseboard at an external Redis");
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/pulseboard-redis-XXXXXX";
    if (!mkdtemp(pattern.data()))
        throw Error(ErrorKind::Fatal, "cannot create a temporary directory for redis-server in " +
                                          std::string(tmp && *tmp ? tmp : "/tmp"));
    dir_ = pattern;
    const bool autoPort = options_.port == 0;
    for (int attempt = 0;; ++attempt) {
        port_ = autoPort ? pickFreeLoopbackPort() : options_.port;
        try {
            start();
            return;
        } catch (const Error &) {
            // Another process may have taken the port between our check and redis' bind.
            if (!autoPort || attempt >= 2) {
                std::error_code ec;
                std::filesystem::remove_all(dir_, ec);
                throw;
            }
        }
    }
}

EmbeddedRedis::~EmbeddedRedis()
{
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

Endpoint EmbeddedRedis::endpoint() const
{
    Endpoint e;
    e.host = "127.0.0.1";
    e.port = port_;
    e.password = options_.password;
    return e;
}

void EmbeddedRedis::start()
{
    if (pid_ > 0)
        return;
    // After stop(), wait until the port can be bound again (for restart tests).
    for (int i = 0; i < 100 && !portBindable(port_); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));

    // The configuration goes in a 0600 file so that a password never shows in ps.
    const auto conf = dir_ / "redis.conf";
    const auto log = dir_ / "redis.log";
    {
        std::ofstream out(conf, std::ios::trunc);
        out << "port " << port_ << "\nbind 127.0.0.1\ndir " << configQuote(dir_.string())
            << "\nsave \"\"\nappendonly no\ndaemonize no\nprotected-mode no\n"
            << "enable-debug-command local\nlogfile \"\"\n";
        if (!options_.password.empty())
            out << "requirepass " << configQuote(options_.password) << "\n";
    }
    chmod(conf.c_str(), 0600);

    const pid_t parent = getpid();
    const pid_t child = fork();
    if (child < 0)
        throw Error(ErrorKind::Fatal, "cannot start redis-server: fork failed");
    if (child == 0) {
        // The child: die with the thread that started us, keep out of the terminal's process
        // group (a Ctrl-C is ours to handle), take back signals our parent blocks.
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        const int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execl(options_.executable.c_str(), options_.executable.c_str(), conf.c_str(),
              static_cast<char *>(nullptr));
        _exit(127);
    }
    pid_ = child;

    const auto deadline = std::chrono::steady_clock::now() + options_.startTimeout;
    std::string lastError;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw Error(ErrorKind::Fatal, "redis-server exited at start (port " +
                                              std::to_string(port_) + "):" + tail(log, 5));
        }
        try {
            Connection probe(endpoint(),
                             {std::chrono::milliseconds(200), std::chrono::milliseconds(500)});
            probe.connect(); // AUTH (if any) and PING
            return;
        } catch (const Error &e) {
            lastError = e.what();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    stop();
    throw Error(ErrorKind::Fatal, "redis-server did not answer within " +
                                      std::to_string(options_.startTimeout.count()) + " ms (" +
                                      lastError + "):" + tail(log, 5));
}

void EmbeddedRedis::stop()
{
    if (pid_ <= 0)
        return;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_ || (r < 0 && errno == ECHILD))
            break;
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(pid_, SIGKILL);
            while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
}

} // namespace pb::redis
