/*
 * replay.c - runs fuzz inputs through the operations harness without
 * libFuzzer, so that the seed corpus and the saved reproducers are a
 * deterministic regression test of `make check`, with any compiler.
 *
 * Usage: replay [FILE|DIR]...  With no argument it replays
 * $srcdir/tests/fuzz/corpus.  Each input runs in a child process and
 * shows as one TAP line; an input that aborts, crashes or runs longer than
 * REPLAY_TIMEOUT seconds (a hang) is "not ok".
 *
 * SPDX-License-Identifier: MIT
 */
#include <dirent.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
bool fz_timing_oracle(void);

#define MAX_INPUTS 4096
#define MAX_INPUT_SIZE (1 << 20)
#define REPLAY_TIMEOUT 60  /* an input takes milliseconds */

static char *inputs[MAX_INPUTS];
static int ninputs;

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_input(const char *path)
{
    if (ninputs < MAX_INPUTS && (inputs[ninputs] = strdup(path)) != NULL)
        ninputs++;
}

/* A directory contributes its files (not dot files), sorted by name. */
static void add_path(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        add_input(path);
        return;
    }
    int first = ninputs;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char buf[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
        add_input(buf);
    }
    closedir(d);
    qsort(inputs + first, (size_t)(ninputs - first), sizeof *inputs, by_name);
}

/* Reads and runs one input; the exit status of the child. */
static int run_one(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    static uint8_t buf[MAX_INPUT_SIZE];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* A copy of exactly the input's size, so that the sanitizers catch a
     * read past its end. */
    uint8_t *data = malloc(n ? n : 1);
    if (data == NULL)
        return 2;
    memcpy(data, buf, n);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 0;
}

static int replay(const char *path)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 0;
    }
    if (pid == 0) {
        alarm(REPLAY_TIMEOUT); /* SIGALRM ends a hung input */
        exit(run_one(path)); /* exit, not _exit: coverage tools dump at exit */
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        return 0;
    if (WIFSIGNALED(status))
        printf("# %s: killed by signal %d%s\n", path, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            add_path(argv[i]);
    } else {
        const char *srcdir = getenv("srcdir");
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus", srcdir ? srcdir : ".");
        add_path(dir);
    }
    if (ninputs == 0) {
        printf("1..0 # SKIP no fuzz inputs found\n");
        return 0;
    }
    printf("1..%d\n", ninputs);
    printf("# timing oracle on the virtual clock: %s\n",
           fz_timing_oracle() ? "yes" : "no (library linked without its test hooks)");
    int failed = 0;
    for (int i = 0; i < ninputs; i++) {
        int ok = replay(inputs[i]);
        failed += !ok;
        printf("%sok %d - %s\n", ok ? "" : "not ", i + 1, inputs[i]);
        free(inputs[i]);
    }
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
