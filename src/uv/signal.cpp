#include "uv/signal.hpp"

#include "uv/handle_impl.hpp"

#include <csignal>
#include <cstring>
#include <strings.h>

#include "core/scheduler.hpp"

namespace luv::detail {
namespace {

struct named_signal {
    const char* name;  // without "SIG"
    int number;
};

// The POSIX signals and Linux's common extras.
constexpr named_signal signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},
    {"KILL", SIGKILL},   {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},     {"TERM", SIGTERM},   {"CHLD", SIGCHLD},
    {"CONT", SIGCONT},   {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},   {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"SYS", SIGSYS},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
};

// "SIGTERM" for SIGTERM: names with the prefix, built once.
struct full_names {
    char text[sizeof signals / sizeof signals[0]][12];
    full_names() noexcept {
        for (std::size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) {
            std::strcpy(text[i], "SIG");
            std::strcat(text[i], signals[i].name);
        }
    }
};
const full_names names;

void on_signal(uv_signal_t* s, int) {
    auto* h = static_cast<signal_handle*>(s->data);
    if (h->waiters.empty()) {
        ++h->pending;
    } else {
        h->waiters.notify_all();
    }
}

}  // namespace

int signal_number(std::string_view name) noexcept {
    if (name.size() > 3 && strncasecmp(name.data(), "SIG", 3) == 0) {
        name.remove_prefix(3);
    }
    for (const auto& s : signals) {
        if (name.size() == std::strlen(s.name) &&
            strncasecmp(name.data(), s.name, name.size()) == 0) {
            return s.number;
        }
    }
    return 0;
}

const char* signal_name(int signum) noexcept {
    for (std::size_t i = 0; i < sizeof signals / sizeof signals[0]; ++i) {
        if (signals[i].number == signum) {
            return names.text[i];
        }
    }
    return nullptr;
}

signal_handle* signal_handle::create(scheduler& sched, int signum) {
    signal_handle* h = make(sched.loop(), &uv_signal_init, "uv_signal_init");
    h->signum = signum;
    if (const int rc = uv_signal_start(&h->uv, &on_signal, signum); rc < 0) {
        h->close();
        throw system_error(rc, "uv_signal_start");
    }
    uv_unref(reinterpret_cast<uv_handle_t*>(&h->uv));
    return h;
}

bool signal_handle::take_pending() noexcept {
    if (pending == 0) {
        return false;
    }
    --pending;
    return true;
}

void signal_handle::wait(waiter& w) noexcept {
    waiters.push(w);
    uv_ref(reinterpret_cast<uv_handle_t*>(&uv));
}

void signal_handle::waited() noexcept {
    if (waiters.empty()) {
        uv_unref(reinterpret_cast<uv_handle_t*>(&uv));
    }
}

}  // namespace luv::detail
