"""Booting into a running system (issue 12): Machine() of 128M/4G/24G/64G with 2 CPUs, the
default boot="init" next to boot="bare" (the same run's pristine boot), each in a fresh
interpreter so the RSS growth is the machine's alone; and reading files with m.cat()."""

from __future__ import annotations

import json
import subprocess
import sys

from common import figure, median_us

import kmemlab as km

_BOOT_PROBE = """
import sys, time, json
sys.path[:0] = {path!r}
from common import rss_mb
import kmemlab as km
km.Machine(profile="tiny", boot={boot!r})      # warm imports so only the boot itself is measured
r0 = rss_mb()
t, c = time.perf_counter(), time.process_time()
m = km.Machine(mem={mem!r}, cpus=2, boot={boot!r})
dt, dc = time.perf_counter() - t, time.process_time() - c
print(json.dumps({{"boot_s": dt, "boot_cpu_s": dc, "rss_mb": rss_mb() - r0}}))
"""


def boot_probe(mem: str, boot: str) -> dict:
    code = _BOOT_PROBE.format(path=sys.path[:3], mem=mem, boot=boot)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run(quick: bool = False) -> list[dict]:
    out = []
    for mem in ["128M", "4G", "24G"] + ([] if quick else ["64G"]):
        bare = boot_probe(mem, "bare")
        init = boot_probe(mem, "init")
        out.append(figure(f"boot {mem} 2-CPU machine, boot='init'", init["boot_s"], "s",
                          1.0 if mem == "24G" else None,
                          note=f"boot='bare' in the same run: {bare['boot_s']:.3f} s "
                               f"(x{init['boot_s'] / bare['boot_s']:.1f}); CPU time {init['boot_cpu_s']:.3f} s "
                               f"(bare {bare['boot_cpu_s']:.3f} s): on a shared box the wall clock "
                               "also counts other processes' turns"))
        out.append(figure(f"boot {mem} 2-CPU machine, boot='init': RSS growth", init["rss_mb"], "MiB",
                          150 if mem == "24G" else None, note=f"boot='bare': {bare['rss_mb']:.1f} MiB"))
    m = km.Machine(mem="4G", cpus=2)
    out.append(figure("m.cat('/proc/meminfo') on a booted 4G machine", median_us(lambda: m.cat("/proc/meminfo"),
                                                                                 number=50, repeat=7), "us"))
    out.append(figure("m.cat('/sys/kernel/slab/kmalloc-64/objects')",
                      median_us(lambda: m.cat("/sys/kernel/slab/kmalloc-64/objects"), number=50, repeat=7), "us"))
    out.append(figure("m.ls('/sys/kernel/slab')", median_us(lambda: m.ls("/sys/kernel/slab"),
                                                            number=20, repeat=5), "us"))
    return out


if __name__ == "__main__":
    for rec in run(quick="--quick" in sys.argv):
        print(json.dumps(rec))
