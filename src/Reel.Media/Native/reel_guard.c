// reel-guard PARENT_PID COMMAND [ARG...]: runs COMMAND so that it never outlives Reel, even when Reel is killed with
// SIGKILL. The kernel's parent-death signal (prctl PR_SET_PDEATHSIG) tells the guard; it then kills its whole process
// group: the command and whatever the command started.
//
// The parent-death signal follows the *thread* that started the guard, and .NET starts children from pool threads
// that come and go: when the signal arrives while PARENT_PID is still the parent, only that thread ended, so the guard
// arms the signal again (for the thread it now belongs to) and carries on.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t parent_signalled = 0;
static volatile sig_atomic_t forwarded = 0;

static void on_parent_death(int signal_number) {
    (void)signal_number;
    parent_signalled = 1;
}

static void on_terminate(int signal_number) {
    forwarded = signal_number;
}

static void handle(int signal_number, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handler;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: waitpid returns EINTR so the loop below looks at the flags.
    sigaction(signal_number, &action, NULL);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: reel-guard PARENT_PID COMMAND [ARG...]\n");
        return 127;
    }
    pid_t parent = (pid_t)strtol(argv[1], NULL, 10);
    // A process group of its own (posix_spawn may have made one already), so the kill below reaches only the command's processes.
    if (getpgrp() != getpid()) {
        setpgid(0, 0);
    }
    handle(SIGUSR1, on_parent_death);
    handle(SIGTERM, on_terminate);
    handle(SIGINT, on_terminate);
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() != parent) {
        // Reel died before the signal was armed.
        return 137;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("reel-guard: fork");
        return 127;
    }
    if (child == 0) {
        signal(SIGUSR1, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        // The guard is single-threaded: the command dies with it, whatever kills the guard.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != getpgrp()) {
            _exit(137);
        }
        execvp(argv[2], argv + 2);
        fprintf(stderr, "reel-guard: cannot run %s: %s\n", argv[2], strerror(errno));
        _exit(127);
    }
    for (;;) {
        int status;
        pid_t done = waitpid(child, &status, 0);
        if (done == child) {
            if (WIFEXITED(status)) {
                return WEXITSTATUS(status);
            }
            // Ended by a signal: end the same way, so Reel sees what the command saw.
            int signal_number = WTERMSIG(status);
            signal(signal_number, SIG_DFL);
            raise(signal_number);
            return 128 + signal_number;
        }
        if (done < 0 && errno != EINTR) {
            perror("reel-guard: waitpid");
            return 127;
        }
        if (forwarded) {
            kill(-getpgrp(), forwarded);
            forwarded = 0;
        }
        if (parent_signalled) {
            parent_signalled = 0;
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            if (getppid() != parent) {
                kill(0, SIGKILL);
                return 137;
            }
        }
    }
}
