// A separate process for the lock tests to be "someone else": holds files open, maps them,
// opens them for writing (and blocks on our lease), or freezes files and gets SIGKILLed.
// It names itself "rdd-holder" so tests can check the comm the writer scan reports.
//   hold ro|wo|rw PATH       open, say "ready", wait for stdin to close
//   map PATH                 MAP_SHARED PROT_WRITE mapping, close the fd, "ready", wait
//   open-write PATH TEXT     say "opening", open O_WRONLY (blocks on a lease), say "opened",
//                            write TEXT at offset 0, fsync, say "written"
//   freeze STATE_DIR PATH..  --lock=immutable on the paths, say "frozen N", wait (to be killed)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "reflinkdedup/fs/regular_file.hpp"
#include "reflinkdedup/lock/file_freeze_journal.hpp"
#include "reflinkdedup/lock/job_lock.hpp"

namespace {

void say(const std::string& line) {
    const std::string text = line + "\n";
    if (::write(STDOUT_FILENO, text.data(), text.size()) != static_cast<ssize_t>(text.size())) _exit(3);
}

void wait_for_stdin_eof() {
    char c;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
}

int fail(const char* what) {
    std::fprintf(stderr, "lock_test_helper: %s: %s\n", what, std::strerror(errno));
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    ::prctl(PR_SET_NAME, "rdd-holder", 0, 0, 0);
    const std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() == 3 && args[0] == "hold") {
        const int mode = args[1] == "wo" ? O_WRONLY : args[1] == "rw" ? O_RDWR : O_RDONLY;
        const int fd = ::open(args[2].c_str(), mode | O_CLOEXEC);
        if (fd < 0) return fail("open");
        say("ready");
        wait_for_stdin_eof();
        ::close(fd);
        return 0;
    }
    if (args.size() == 2 && args[0] == "map") {
        const int fd = ::open(args[1].c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return fail("open");
        void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) return fail("mmap");
        ::close(fd);  // only the mapping is left
        say("ready");
        wait_for_stdin_eof();
        ::munmap(p, 4096);
        return 0;
    }
    if (args.size() == 3 && args[0] == "open-write") {
        say("opening");
        const int fd = ::open(args[1].c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return fail("open");
        say("opened");
        if (::pwrite(fd, args[2].data(), args[2].size(), 0) != static_cast<ssize_t>(args[2].size())) {
            return fail("pwrite");
        }
        if (::fsync(fd) != 0) return fail("fsync");
        ::close(fd);
        say("written");
        return 0;
    }
    if (args.size() >= 3 && args[0] == "freeze") {
        rdd::lock::FileFreezeJournal journal(args[1]);
        std::vector<rdd::OpenedFile> opened;
        std::vector<rdd::lock::LockTarget> targets;
        for (std::size_t i = 2; i < args.size(); ++i) {
            opened.push_back(rdd::open_regular_file(args[i]));
            if (opened.back().problem) return fail(opened.back().problem->c_str());
        }
        for (const auto& f : opened) targets.push_back({f.fd.get(), f.path});
        auto lock = rdd::lock::make_job_lock(rdd::lock::LockMethod::Immutable, &journal);
        const auto report = lock->lock(targets);
        int usable = 0;
        for (const auto& r : report.files) usable += r.verdict == rdd::lock::LockVerdict::Usable;
        say("frozen " + std::to_string(usable));
        for (;;) ::pause();  // until SIGKILL: nothing is thawed
    }
    std::fprintf(stderr, "lock_test_helper: bad arguments\n");
    return 64;
}
