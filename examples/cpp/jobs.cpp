// jobs.cpp - a tiny job runner: shell commands run as child processes, at most three at
// once, each with a time limit; their output and exit status are collected and printed
// in the order the jobs were given.
//
// Each worker is a fiber that takes the next job, starts it, reads its output and waits
// for it to exit. Reading and waiting suspend only that fiber, so the jobs overlap on
// one thread with no lock and no callback.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <luv/error.hpp>
#include <luv/fiber.hpp>
#include <luv/process.hpp>
#include <luv/runtime.hpp>

using namespace std::chrono_literals;

namespace {

struct job {
    std::string command;
    std::chrono::milliseconds limit = 2s;
};

struct outcome {
    std::string out;
    std::optional<luv::process::exit_status> status;  // std::nullopt: timed out
};

outcome run_job(const job& j) {
    luv::process::options o;
    o.out = luv::process::stdio::pipe();
    o.err = luv::process::stdio::ignore();
    // Its own process group, so that a timed-out job is stopped with everything its
    // shell started (a `sleep` that held the output pipe open would keep us reading).
    o.detached = true;
    auto proc = luv::process::spawn("/bin/sh", {"-c", j.command}, o);
    // The output is read by a fiber of its own, which owns the pipe, so that the wait
    // below can time out while the child still writes.
    auto reader = luv::spawn(
        [](luv::pipe out) {
            std::string all;
            while (auto data = out.read()) {  // std::nullopt once the job closes it
                all += *data;
            }
            return all;
        },
        std::move(proc.stdout_pipe()));
    outcome result;
    result.status = proc.wait_for(j.limit);
    if (!result.status) {
        ::kill(-proc.pid(), SIGKILL);  // the whole group: the shell and its children
        proc.wait();
    }
    result.out = reader.join();
    while (!result.out.empty() && result.out.back() == '\n') {
        result.out.pop_back();
    }
    return result;
}

}  // namespace

int main() {
    luv::runtime rt;

    const std::vector<job> jobs = {
        {"echo hello"},
        {"sleep 0.2; echo slept 1"},
        {"sleep 0.2; echo slept 2"},
        {"sleep 0.2; echo slept 3"},
        {"exit 3"},
        {"kill -TERM $$"},
        {"sleep 5", 300ms},
        {"seq 1 10000 | wc -l"},
    };
    constexpr int at_once = 3;

    std::vector<outcome> results(jobs.size());
    std::size_t next = 0;
    int running = 0, most = 0;
    std::vector<luv::fiber<void>> workers;
    for (int w = 0; w < at_once; ++w) {
        workers.push_back(luv::spawn([&] {
            // One thread: `next` and `running` need no lock.
            while (next < jobs.size()) {
                const std::size_t i = next++;
                most = std::max(most, ++running);
                results[i] = run_job(jobs[i]);
                --running;
            }
        }));
    }
    for (auto& f : workers) {
        f.join();  // from the thread: runs the loop until the worker is done
    }

    int succeeded = 0;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        const outcome& r = results[i];
        std::printf("job %zu [%s]: ", i + 1, jobs[i].command.c_str());
        if (!r.status) {
            std::printf("timed out after %lld ms, killed\n",
                        static_cast<long long>(jobs[i].limit.count()));
        } else if (r.status->term_signal != 0) {
            std::printf("killed by signal %d\n", r.status->term_signal);
        } else {
            std::printf("exit %lld, output \"%s\"\n",
                        static_cast<long long>(r.status->exit_code), r.out.c_str());
            succeeded += r.status->success() ? 1 : 0;
        }
    }
    std::printf("%zu jobs, %d succeeded, at most %d running at once\n", jobs.size(),
                succeeded, most);

    // One job from start to end in one call: run() captures stdout and waits.
    const auto [status, out, err] = luv::process::run("sh", {"-c", "printf luv; exit 4"});
    std::printf("run: exit %lld, output \"%s\"\n", static_cast<long long>(status.exit_code),
                out.c_str());

    try {
        luv::process::spawn("/no/such/program");
    } catch (const luv::system_error& e) {
        std::printf("missing program: %s\n", e.what());
    }

    rt.run();
    return 0;
}
