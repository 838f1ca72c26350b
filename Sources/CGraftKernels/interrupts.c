#include "graft_kernels.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupts = 0;

static void on_signal(int signal_number) {
    (void)signal_number;
    interrupts += 1;
    if (interrupts == 1) {
        static const char notice[] =
            "\ninterrupt: stopping after the current batch (or, while data loads, after the first one);"
            " press Ctrl-C again to exit at once\n";
        (void)!write(2, notice, sizeof notice - 1);
    }
    if (interrupts >= 2) {
        static const char message[] = "\nsecond interrupt: exiting now (the last complete checkpoint is intact)\n";
        (void)!write(2, message, sizeof message - 1);
        _exit(130);
    }
}

void graft_interrupts_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

int graft_interrupts_count(void) { return interrupts; }

void graft_interrupts_reset(void) { interrupts = 0; }
