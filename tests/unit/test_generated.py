"""The committed generated sources match what the generators make from their inputs today."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import decodetree  # noqa: E402
import gen_syscall_nr  # noqa: E402

ARM = ROOT / "src/pyqemu/target/arm"
SYSCALLS = ROOT / "src/pyqemu/linux_user/aarch64"


def test_decode_a64_is_current() -> None:
    sources = sorted(str(p) for p in ARM.glob("a64_*.decode"))  # the glob of scripts/gen.sh
    assert decodetree.generate(sources) == (ARM / "decode_a64.py").read_text(), \
        "decode_a64.py is stale: run scripts/gen.sh after editing a .decode file"


def test_syscall_nr_is_current(tmp_path: Path) -> None:
    out = tmp_path / "syscall_nr.py"
    assert gen_syscall_nr.main(["gen_syscall_nr.py", str(SYSCALLS / "syscall.tbl"), str(out)]) == 0
    assert out.read_text() == (SYSCALLS / "syscall_nr.py").read_text(), \
        "syscall_nr.py is stale: run scripts/gen.sh after editing syscall.tbl"



def test_arm_syscall_nr_is_current(tmp_path: Path) -> None:
    table = SYSCALLS.parent / "arm" / "syscall.tbl"
    out = tmp_path / "syscall_nr.py"
    assert gen_syscall_nr.main(["gen_syscall_nr.py", str(table), str(out)]) == 0
    assert out.read_text() == (table.parent / "syscall_nr.py").read_text(), \
        "arm/syscall_nr.py is stale: run scripts/gen.sh after editing syscall.tbl"

def test_option_docs_current():
    """docs/pyqemu-aarch64.md is generated from the option table."""
    import importlib.util
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_docs", root / "scripts" / "gen_docs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (root / "docs" / "pyqemu-aarch64.md").read_text() == mod.render()
