"""Generate tracefork_otel/_proto from proto/*.proto (run after editing the schema).

Usage: python scripts/gen_proto.py [--check]

--check regenerates into a temporary folder and exits 1 if the committed code differs.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT = ROOT / "tracefork_otel" / "_proto"


def generate(out: Path) -> list[Path]:
    protos = sorted(PROTO_ROOT.rglob("*.proto"))
    out.mkdir(parents=True, exist_ok=True)
    args = ["protoc", f"-I{PROTO_ROOT}", f"--python_out={out}", f"--pyi_out={out}"]
    args += [str(p) for p in protos]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = sorted(p for p in out.rglob("*") if p.suffix in {".py", ".pyi"})
    for folder in {p.parent for p in generated} | {out}:
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("")
    return sorted(p for p in out.rglob("*") if p.is_file())


def main() -> int:
    check = "--check" in sys.argv[1:]
    if not check:
        if OUT.exists():
            shutil.rmtree(OUT)
        generate(OUT)
        print(f"generated {OUT.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = []
        for path in fresh:
            rel = path.relative_to(tmp)
            committed = OUT / rel
            if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                stale.append(str(rel))
        if stale:
            print("generated code is stale: " + ", ".join(stale) + " (run python scripts/gen_proto.py)")
            return 1
    print("generated code is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
