// ftrace: which functions a static, non-PIE program calls, interval by interval.
//
// A breakpoint (int3) goes on every function entry given in SYMBOLS; a hit writes
// "INTERVAL NAME" to OUT, puts the original byte back and resumes, so a function costs one trap
// per interval. An interval ends where the program releases its code pages
// (madvise(MADV_DONTNEED) over its text: stepkit does that between phases and every few
// milliseconds in long loops); the functions hit are then armed again. The madvise itself is
// skipped: it would drop the breakpoints, which live in private copies of those pages.
//
// usage: ftrace SYMBOLS OUT PROGRAM [ARGS...]
//   SYMBOLS: lines "ADDRESS-HEX FILE-OFFSET-HEX NAME" (see gen.py), PROGRAM's own layout.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

struct breakpoint {
    unsigned long addr;
    unsigned char orig;
    int hit;
    char *name;
};

static struct breakpoint *bps;
static size_t nbps;

static int by_addr(const void *a, const void *b) {
    unsigned long x = ((const struct breakpoint *)a)->addr;
    unsigned long y = ((const struct breakpoint *)b)->addr;
    return (x > y) - (x < y);
}

static struct breakpoint *lookup(unsigned long addr) {
    struct breakpoint key = {.addr = addr};
    return bsearch(&key, bps, nbps, sizeof *bps, by_addr);
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

// Writes one byte of the tracee's text, keeping its neighbours.
static void poke_byte(pid_t pid, unsigned long addr, unsigned char byte) {
    unsigned long word_addr = addr & ~7UL;
    int shift = (int)(addr & 7) * 8;
    errno = 0;
    long word = ptrace(PTRACE_PEEKTEXT, pid, word_addr, 0);
    if (errno)
        return;
    word = (long)(((unsigned long)word & ~(0xffUL << shift)) | ((unsigned long)byte << shift));
    ptrace(PTRACE_POKETEXT, pid, word_addr, word);
}

static void load_symbols(const char *symbols, const char *program) {
    FILE *sf = fopen(symbols, "r");
    FILE *bin = fopen(program, "rb");
    if (!sf || !bin)
        die("open");
    size_t cap = 1 << 14;
    bps = malloc(cap * sizeof *bps);
    char line[8192], name[8000];
    unsigned long addr, off;
    while (fgets(line, sizeof line, sf)) {
        if (sscanf(line, "%lx %lx %7999s", &addr, &off, name) != 3)
            continue;
        if (fseek(bin, (long)off, SEEK_SET) != 0)
            continue;
        int c = fgetc(bin);
        if (c == EOF)
            continue;
        if (nbps == cap) {
            cap *= 2;
            bps = realloc(bps, cap * sizeof *bps);
        }
        bps[nbps++] = (struct breakpoint){addr, (unsigned char)c, 0, strdup(name)};
    }
    fclose(sf);
    fclose(bin);
    qsort(bps, nbps, sizeof *bps, by_addr);
    size_t kept = 0;
    for (size_t i = 0; i < nbps; i++)
        if (kept == 0 || bps[kept - 1].addr != bps[i].addr)
            bps[kept++] = bps[i];
    nbps = kept;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: ftrace SYMBOLS OUT PROGRAM [ARGS...]\n");
        return 2;
    }
    load_symbols(argv[1], argv[3]);
    FILE *out = fopen(argv[2], "w");
    if (!out)
        die(argv[2]);
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execv(argv[3], argv + 3);
        _exit(127);
    }
    int status;
    if (waitpid(child, &status, 0) < 0 || !WIFSTOPPED(status))
        die("exec");
    ptrace(PTRACE_SETOPTIONS, child, 0,
           PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE);
    for (size_t i = 0; i < nbps; i++)
        poke_byte(child, bps[i].addr, 0xcc);

    size_t hits = 0, interval = 0, nhit = 0;
    struct breakpoint **hit_now = malloc(nbps * sizeof *hit_now);
    int exit_code = 1;
    ptrace(PTRACE_SYSCALL, child, 0, 0);
    for (;;) {
        pid_t pid = waitpid(-1, &status, __WALL);
        if (pid < 0)
            break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (pid == child) {
                exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            continue;
        }
        int sig = WSTOPSIG(status), deliver = 0;
        struct user_regs_struct regs;
        if (sig == (SIGTRAP | 0x80)) {
            // Syscall entry (rax still -ENOSYS): turn madvise(..., MADV_DONTNEED) into a no-op.
            ptrace(PTRACE_GETREGS, pid, 0, &regs);
            if ((long)regs.rax == -ENOSYS && regs.orig_rax == SYS_madvise && regs.rdx == 4) {
                regs.orig_rax = (unsigned long)-1;
                ptrace(PTRACE_SETREGS, pid, 0, &regs);
                if (nbps && regs.rdi <= bps[0].addr && bps[0].addr < regs.rdi + regs.rsi) {
                    // The program released its text: a new interval, breakpoints re-armed.
                    for (size_t i = 0; i < nhit; i++)
                        poke_byte(pid, hit_now[i]->addr, 0xcc);
                    nhit = 0;
                    interval++;
                }
            }
        } else if (sig == SIGTRAP) {
            ptrace(PTRACE_GETREGS, pid, 0, &regs);
            struct breakpoint *bp = lookup(regs.rip - 1);
            if (bp) {
                poke_byte(pid, bp->addr, bp->orig);
                regs.rip = bp->addr;
                ptrace(PTRACE_SETREGS, pid, 0, &regs);
                if (!bp->hit)
                    hits++;
                bp->hit = 1;
                hit_now[nhit++] = bp;
                fprintf(out, "%zu %s\n", interval, bp->name);
            }
        } else if (!(sig == SIGSTOP && (status >> 16) != 0)) {
            deliver = sig == SIGSTOP ? 0 : sig;
        }
        ptrace(PTRACE_SYSCALL, pid, 0, deliver);
    }
    fclose(out);
    fprintf(stderr, "ftrace: %zu of %zu functions called, %zu intervals, exit %d\n", hits, nbps,
            interval + 1, exit_code);
    return exit_code;
}
