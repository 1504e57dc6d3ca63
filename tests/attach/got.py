"""`got.py PID` prints the GOT entries (JUMP_SLOT and GLOB_DAT relocations) of every module a
process has mapped, one "module offset value" a line, read from /proc/PID/mem; a value still
unbound (lazy binding: an address inside its own module) is printed as "lazy", one inside the
stallscope shim as "shim".
`got.py --compare BEFORE AFTER` says which entries of BEFORE differ in AFTER: before an attach
and after its detach they must be the same. Modules loaded meanwhile (the shim) are not
compared, nor entries that were lazy before (the loader binds them when the process, or the
dlopen made in it, first calls them)."""
import re
import subprocess
import sys

if sys.argv[1] == "--compare":
    def entries(path):
        with open(path) as f:
            return {tuple(line.split()[:2]): line.split()[2] for line in f}
    before, after = entries(sys.argv[2]), entries(sys.argv[3])
    differ = [f"{m} {o}: {v} -> {after.get((m, o))}" for (m, o), v in sorted(before.items())
              if v != "lazy" and after.get((m, o)) != v]
    print("\n".join(differ[:20]))
    sys.exit(1 if differ else 0)

pid = int(sys.argv[1])
modules, spans = {}, {}
with open(f"/proc/{pid}/maps") as f:
    for line in f:
        parts = line.split(maxsplit=5)
        if len(parts) != 6 or not parts[5].startswith("/"):
            continue
        path = parts[5].strip()
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        span = spans.setdefault(path, [lo, hi])
        span[0], span[1] = min(span[0], lo), max(span[1], hi)
        if int(parts[2], 16) == 0 and not path.endswith(" (deleted)") and path not in modules:
            modules[path] = lo

with open(f"/proc/{pid}/mem", "rb") as mem:
    for path, start in sorted(modules.items()):
        try:
            header = subprocess.run(["readelf", "-hW", path], capture_output=True, text=True,
                                    check=True).stdout
            relocs = subprocess.run(["readelf", "-rW", path], capture_output=True, text=True,
                                    check=True).stdout
        except (subprocess.CalledProcessError, OSError):
            continue
        base = 0 if re.search(r"Type:\s+EXEC", header) else start
        for line in relocs.splitlines():
            m = re.match(r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+R_X86_64_(JUMP_SLOT|GLOB_DAT)\b", line)
            if not m:
                continue
            offset = int(m[1], 16)
            mem.seek(base + offset)
            value = int.from_bytes(mem.read(8), "little")
            lazy = value != 0 and spans[path][0] <= value < spans[path][1]
            shim = any(lo <= value < hi for m, (lo, hi) in spans.items()
                       if m.endswith("/libstallscope.so"))
            print(path, hex(offset), "lazy" if lazy else "shim" if shim else hex(value))
