#pragma once
// Runs a check in a child process, so a crash (a stack overflow, a sanitizer abort) fails one
// check instead of killing the whole test run.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace courier_test {

/// Runs `f` in a child process and returns its exit code (128 + signal number if it crashed).
template <class F>
int exit_code_in_child(F f) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    // Plain crash, no report: undo Catch's fatal-signal handlers and silence the child's output.
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) std::signal(sig, SIG_DFL);
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    _exit(f());
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace courier_test
