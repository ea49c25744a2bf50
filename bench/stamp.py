"""A tiny static x86-64 ELF that records CLOCK_MONOTONIC timestamps.

The benchmarks need to know *when a command started* with microsecond
precision and without adding libc start-up, a shell or an interpreter to the
measured path. This module writes a 277-byte static executable, `stamp`:

    stamp                      exit 0 at once (a static no-op command)
    stamp FILE                 append 32 bytes to FILE, exit 0
    stamp FILE PROG ARGS...    append 32 bytes to FILE, then execve(PROG, [PROG, ARGS...])

The 32 bytes are two `struct timespec` (little-endian i64 seconds, i64 ns) of
CLOCK_MONOTONIC: `t_start`, read by the very first instructions after exec,
and `t_end`, read just before the record is written (and before the exit or
the execve). Python's `time.monotonic_ns()` reads the same clock, so the
harness can subtract its own timestamps from these.

Assembly of CODE (Intel syntax; assembled once with `gcc -nostdlib -static`,
`objcopy -O binary -j .text`; every address is RSP-relative so the bytes can
be loaded anywhere):

    _start: mov rbx, rsp            ; rbx -> argc, argv..., NULL, envp...
            sub rsp, 32             ; two timespecs
            mov eax, 228            ; clock_gettime(CLOCK_MONOTONIC, rsp)
            mov edi, 1
            mov rsi, rsp
            syscall
            mov rdi, [rbx+16]       ; argv[1]
            test rdi, rdi
            jz ok                   ; no FILE: plain no-op
            mov eax, 2              ; open(FILE, O_WRONLY|O_CREAT|O_APPEND, 0644)
            mov esi, 0x441
            mov edx, 0x1a4
            syscall
            test rax, rax
            js fail
            mov r12, rax
            mov eax, 228            ; clock_gettime(CLOCK_MONOTONIC, rsp+16)
            mov edi, 1
            lea rsi, [rsp+16]
            syscall
            mov eax, 1              ; write(fd, rsp, 32)
            mov rdi, r12
            mov rsi, rsp
            mov edx, 32
            syscall
            cmp rax, 32
            jne fail
            mov eax, 3              ; close(fd)
            mov rdi, r12
            syscall
            mov rcx, [rbx]          ; argc >= 3: execve(argv[2], &argv[2], envp)
            cmp rcx, 3
            jl ok
            mov rdi, [rbx+24]
            lea rsi, [rbx+24]
            lea rdx, [rbx+rcx*8+16]
            mov eax, 59
            syscall
    fail:   mov edi, 127            ; exit_group(127)
            mov eax, 231
            syscall
    ok:     xor edi, edi            ; exit_group(0)
            mov eax, 231
            syscall
"""

import os
import struct

CODE = bytes.fromhex(
    "4889e34883ec20b8e4000000bf010000004889e60f05488b7b104885ff7475b802000000"
    "be41040000baa40100000f054885c078534989c4b8e4000000bf01000000488d7424100f"
    "05b8010000004c89e74889e6ba200000000f054883f8207527b8030000004c89e70f0548"
    "8b0b4883f9037c20488b7b18488d7318488d54cb10b83b0000000f05bf7f000000b8e700"
    "00000f0531ffb8e70000000f05"
)

_BASE = 0x400000
_EHDR = 64
_PHDR = 56


def elf_bytes() -> bytes:
    """A minimal ELF64 executable: one PT_LOAD segment (R+X) holding headers and CODE."""
    entry = _BASE + _EHDR + _PHDR
    total = _EHDR + _PHDR + len(CODE)
    ehdr = struct.pack(
        "<4sBBBBB7sHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,  # ELFCLASS64, little-endian, SYSV
        2, 0x3E, 1,  # ET_EXEC, EM_X86_64, EV_CURRENT
        entry, _EHDR, 0,  # e_entry, e_phoff, e_shoff
        0, _EHDR, _PHDR, 1, 0, 0, 0,
    )
    phdr = struct.pack(
        "<IIQQQQQQ",
        1, 5,  # PT_LOAD, PF_R | PF_X
        0, _BASE, _BASE, total, total, 0x1000,
    )
    return ehdr + phdr + CODE


def install(path: str) -> str:
    """Write the stamp executable to `path` (mode 0755) and return the path."""
    data = elf_bytes()
    try:
        with open(path, "rb") as existing:
            if existing.read() == data:
                return path
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


def read(path: str) -> list:
    """All (t_start_ns, t_end_ns) records in a stamp file, in write order."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % 32:
        raise ValueError(f"{path}: truncated stamp record ({len(data)} bytes)")
    records = []
    for off in range(0, len(data), 32):
        s1, n1, s2, n2 = struct.unpack_from("<qqqq", data, off)
        records.append((s1 * 1_000_000_000 + n1, s2 * 1_000_000_000 + n2))
    return records
