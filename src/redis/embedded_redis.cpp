// The embedded redis-server.
//
// Lifetime: the child is started with PR_SET_PDEATHSIG(SIGTERM), so it is told to exit when
// the parent goes away. Linux sends that signal when the *thread* that called fork() exits, not
// when the process does: an EmbeddedRedis must be created (and start() called) on a thread that
// lives as long as the server should, such as the main thread. One started from a short-lived
// worker thread would be terminated when that worker finishes.

#include "embedded_redis.h"

#include "core/error.h"

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace pb::redis {

namespace {

using Clock = std::chrono::steady_clock;

// The port was taken between picking it and redis-server binding it; the constructor picks
// another one when it chose the port itself.
class PortTaken : public Error {
public:
    explicit PortTaken(const std::string &message)
        : Error(ErrorKind::Fatal, message)
    {
    }
};

std::string findExecutable(const std::string &name)
{
    if (name.empty())
        return {};
    if (name.find('/') != std::string::npos)
        return access(name.c_str(), X_OK) == 0 ? name : std::string();
    const char *path = std::getenv("PATH");
    std::stringstream dirs(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = (dir.empty() ? "." : dir) + "/" + name;
        struct stat st {};
        if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return {};
}

std::string readFile(const std::filesystem::path &file)
{
    std::ifstream in(file, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
}

// The last lines of the log, indented, for error messages.
std::string tail(const std::filesystem::path &file, std::size_t lines)
{
    std::stringstream in(readFile(file));
    std::vector<std::string> all;
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            all.push_back(line);
    if (all.empty())
        return " (empty)";
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

// 32 random bytes from the kernel, as hex: nobody guesses it, and it needs no quoting.
std::string randomPassword()
{
    unsigned char bytes[32];
    std::size_t got = 0;
    while (got < sizeof bytes) {
        const auto n = ::getrandom(bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw Error(ErrorKind::Fatal, std::string("cannot make a password for the embedded "
                                                      "redis-server: getrandom failed: ") +
                                              std::strerror(errno));
        got += static_cast<std::size_t>(n);
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string text;
    for (const unsigned char b : bytes) {
        text += hex[b >> 4];
        text += hex[b & 0xf];
    }
    return text;
}

// Writes a file readable by us only (it may hold the password); no window with wider modes.
void writePrivateFile(const std::filesystem::path &file, const std::string &text)
{
    int fd = -1;
    do
        fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        throw Error(ErrorKind::Fatal, "cannot write " + file.string() + " for redis-server");
    ::fchmod(fd, 0600); // in case it already existed with other bits
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            ::close(fd);
            throw Error(ErrorKind::Fatal, "cannot write " + file.string() + " for redis-server");
        }
        done += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

sockaddr_in loopback(int port)
{
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
}

// Whether redis-server could bind the port now (it sets SO_REUSEADDR too, so TIME_WAIT
// connections of a previous run do not count).
bool portBindable(int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto addr = loopback(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

void sleepFor(std::chrono::milliseconds ms)
{
    std::this_thread::sleep_for(ms); // restarts after EINTR
}

// Reaps the child if it has exited; true then, with how it ended in *how.
bool reaped(pid_t pid, std::string *how = nullptr)
{
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (how && WIFEXITED(status))
                *how = "exited with status " + std::to_string(WEXITSTATUS(status));
            else if (how && WIFSIGNALED(status))
                *how = "was killed by signal " + std::to_string(WTERMSIG(status));
            return true;
        }
        if (r < 0 && errno == EINTR)
            continue;
        // ECHILD: someone else reaped it (or SIGCHLD is ignored): it is gone either way.
        return r < 0 && errno == ECHILD;
    }
}

// The server on the port is our child (and not someone else's server that won the port).
bool answersAs(Connection &probe, pid_t pid)
{
    const auto reply = probe.command({"INFO", "server"});
    if (reply->type != REDIS_REPLY_STRING)
        return false;
    const std::string_view info(reply->str, reply->len);
    const std::string key = "process_id:" + std::to_string(pid) + "\r";
    return info.find(key) != std::string_view::npos;
}

} // namespace

int pickFreeLoopbackPort()
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw Error(ErrorKind::Fatal, "cannot open a socket to find a free loopback port");
    auto addr = loopback(0);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0) {
        ::close(fd);
        throw Error(ErrorKind::Fatal, "cannot bind a loopback socket to find a free port");
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

EmbeddedRedis::EmbeddedRedis(EmbeddedRedisOptions options)
    : options_(std::move(options))
{
    const auto found = findExecutable(options_.executable);
    if (found.empty())
        throw Error(ErrorKind::Fatal,
                    (options_.executable == "redis-server"
                         ? std::string("redis-server not found on PATH")
                         : "redis-server not found at '" + options_.executable + "'") +
                        ": install it (apt-get install redis-server) or point Pulseboard at an "
                        "external Redis");
    options_.executable = found;

    const char *tmp = std::getenv("TMPDIR");
    const std::string base = tmp && *tmp ? tmp : "/tmp";
    std::string pattern = base + "/pulseboard-redis-XXXXXX";
    if (!::mkdtemp(pattern.data()))
        throw Error(ErrorKind::Fatal, "cannot create a temporary directory for redis-server in " +
                                          base + ": " + std::strerror(errno));
    dir_ = pattern;
    if (options_.password.empty() && options_.requirePassword)
        options_.password = randomPassword();

    const bool autoPort = options_.port == 0;
    for (int attempt = 1;; ++attempt) {
        try {
            port_ = autoPort ? pickFreeLoopbackPort() : options_.port;
            start();
            return;
        } catch (const PortTaken &) {
            // Someone took the port between our check and redis' bind: pick another.
            if (autoPort && attempt < 3)
                continue;
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
            throw;
        } catch (...) {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
            throw;
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
    // After stop() the same port is reused (outage tests): wait until it can be bound again.
    // Still taken after the start timeout: someone else holds it; say so rather than start a
    // server that cannot listen.
    const auto bindDeadline = Clock::now() + options_.startTimeout;
    while (!portBindable(port_)) {
        if (Clock::now() >= bindDeadline)
            throw PortTaken("cannot start redis-server: 127.0.0.1:" + std::to_string(port_) +
                            " is in use by another process; choose another port (or 0 for a "
                            "free one)");
        sleepFor(std::chrono::milliseconds(20));
    }

    // The options go in a 0600 file, not argv, so that the password never shows in ps.
    const auto conf = dir_ / "redis.conf";
    const auto log = dir_ / "redis.log";
    std::string config = "port " + std::to_string(port_) +
                         "\n"
                         "bind 127.0.0.1\n"
                         "dir " +
                         configQuote(dir_.string()) +
                         "\n"
                         "save \"\"\n"
                         "appendonly no\n"
                         "daemonize no\n"
                         "protected-mode yes\n"
                         "logfile \"\"\n";
    if (!options_.password.empty())
        config += "requirepass " + configQuote(options_.password) + "\n";
    config += options_.debugCommands ? "enable-debug-command local\n" : "enable-debug-command no\n";
    writePrivateFile(conf, config);
    writePrivateFile(passwordFile(), options_.password);

    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0)
        throw Error(ErrorKind::Fatal,
                    std::string("cannot start redis-server: fork failed: ") + std::strerror(errno));
    if (child == 0) {
        // The child: async-signal-safe calls only until exec. Die with the thread that started
        // us (see the top of this file), or at once if that thread is already gone.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent)
            ::_exit(127);
        // Out of the terminal's process group: a Ctrl-C goes to Pulseboard, which stops the
        // server in order (and the death signal covers the rest).
        ::setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            ::dup2(fd, STDOUT_FILENO);
            ::dup2(fd, STDERR_FILENO);
        }
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            ::dup2(devnull, STDIN_FILENO);
        ::close_range(3, ~0U, 0); // no inherited sockets or pipes in the server
        ::execl(options_.executable.c_str(), options_.executable.c_str(), conf.c_str(),
                static_cast<char *>(nullptr));
        ::_exit(127);
    }
    pid_ = child;

    const auto deadline = Clock::now() + options_.startTimeout;
    std::string lastError = "no answer yet";
    do {
        std::string how = "exited";
        if (reaped(pid_, &how)) {
            pid_ = -1;
            const auto text = readFile(log);
            const auto message = "redis-server " + how + " at start (" + options_.executable +
                                 ", port " + std::to_string(port_) +
                                 "); the end of its log:" + tail(log, 5);
            if (text.find("Address already in use") != std::string::npos)
                throw PortTaken(message);
            throw Error(ErrorKind::Fatal, message);
        }
        try {
            Connection probe(endpoint(),
                             {std::chrono::milliseconds(200), std::chrono::milliseconds(500)});
            probe.connect(); // AUTH (if any) and PING
            if (answersAs(probe, pid_))
                return;
            lastError = "another server answers on the port";
        } catch (const Error &e) {
            lastError = e.what();
        }
        sleepFor(std::chrono::milliseconds(20));
    } while (Clock::now() < deadline);
    stop();
    throw Error(ErrorKind::Fatal,
                "redis-server did not answer on 127.0.0.1:" + std::to_string(port_) + " within " +
                    std::to_string(options_.startTimeout.count()) + " ms (" + lastError +
                    "); the end of its log:" + tail(log, 5));
}

void EmbeddedRedis::stop()
{
    if (pid_ <= 0)
        return;
    const pid_t pid = pid_;
    pid_ = -1;
    ::kill(pid, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!reaped(pid)) {
        if (Clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return;
        }
        sleepFor(std::chrono::milliseconds(5));
    }
}

} // namespace pb::redis
