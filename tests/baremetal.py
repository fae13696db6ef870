"""Assemble bare-metal AArch64 snippets into flat binaries (cached), for system-mode tests."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache" / "baremetal"
TOOLS = ("aarch64-linux-gnu-as", "aarch64-linux-gnu-ld", "aarch64-linux-gnu-objcopy")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def assemble(source: str, base: int = 0) -> bytes:
    """The flat image of ``source`` (GNU as syntax) linked to run at ``base``."""
    key = hashlib.sha256(f"{base:#x}\n{source}".encode()).hexdigest()[:20]
    out = CACHE / f"{key}.bin"
    if out.exists():
        return out.read_bytes()
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        src, obj, elf, binf = (Path(d) / n for n in ("a.S", "a.o", "a.elf", "a.bin"))
        src.write_text(source)
        for cmd in ([TOOLS[0], "-o", str(obj), str(src)],
                    [TOOLS[1], "-Ttext", hex(base), "-o", str(elf), str(obj)],
                    [TOOLS[2], "-O", "binary", str(elf), str(binf)]):
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"{cmd[0]} failed:\n{res.stderr}")
        data = binf.read_bytes()
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return data
