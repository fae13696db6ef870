"""Build tiny AArch64 programs that make a list of raw system calls.

Each call is ``(number, [arg, ...])``; an argument is

* an int (loaded with movz/movk),
* ``None`` (the register keeps whatever it holds),
* ``("str", text)`` / ``("buf", size)`` / ``("bytes", [..])`` / ``("quads", [..])``: the
  address of a new item in ``.data`` (add a third element to name it),
* ``("lab", name)``: the address of a named item,
* ``("reg", "x0")``: copy a register (e.g. the previous call's result).

The program ends with ``exit_group(0)`` unless the list ends with an exit.
Needs only MOVZ/MOVK/ADR/MOV/SVC, so it runs before loads and stores work.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

CC = "aarch64-linux-gnu-gcc"


def _imm(reg: str, v: int) -> list[str]:
    v &= (1 << 64) - 1
    out = [f"    movz {reg}, #{v & 0xFFFF}"]
    for sh in (16, 32, 48):
        part = (v >> sh) & 0xFFFF
        if part:
            out.append(f"    movk {reg}, #{part}, lsl #{sh}")
    return out


def assemble(calls: list[tuple[int, list]]) -> str:
    text = [".text", ".global _start", "_start:"]
    data: list[str] = []
    n = 0
    for nr, args in calls:
        # register copies first, before other arguments overwrite their sources
        order = sorted(range(len(args)),
                       key=lambda i: 0 if isinstance(args[i], tuple) and args[i][0] == "reg" else 1)
        for i in order:
            a, r = args[i], f"x{i}"
            if a is None:
                continue
            if isinstance(a, int):
                text += _imm(r, a)
                continue
            kind = a[0]
            if kind == "reg":
                text.append(f"    mov {r}, {a[1]}")
                continue
            if kind == "lab":
                text.append(f"    adr {r}, {a[1]}")
                continue
            lab = a[2] if len(a) > 2 else f"d{n}"
            n += 1
            if kind == "str":
                esc = a[1].replace("\\", "\\\\").replace('"', '\\"')
                data.append(f'{lab}: .asciz "{esc}"')
            elif kind == "buf":
                data.append(f".balign 16\n{lab}: .fill {a[1]}, 1, 0")
            elif kind == "bytes":
                data.append(f".balign 16\n{lab}: .byte " + ",".join(str(b & 0xFF) for b in a[1]))
            elif kind == "quads":
                data.append(f".balign 16\n{lab}: .quad " + ",".join(str(q) for q in a[1]))
            else:
                raise ValueError(kind)
            text.append(f"    adr {r}, {lab}")
        text += _imm("x8", nr)
        text.append("    svc 0")
    if not calls or calls[-1][0] not in (93, 94):
        text += _imm("x0", 0) + _imm("x8", 94) + ["    svc 0"]
    return "\n".join(text) + "\n.data\n" + "\n".join(data) + "\n"


def build(calls: list[tuple[int, list]], out: Path) -> Path:
    """Assemble and link `calls` into the static executable `out`."""
    src = out.with_suffix(".S")
    src.write_text(assemble(calls))
    subprocess.run([CC, "-nostdlib", "-static", "-o", str(out), str(src)], check=True,
                   capture_output=True)
    return out
