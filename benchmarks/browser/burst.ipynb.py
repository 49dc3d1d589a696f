# The notebook bench_browser_widgets.py serves in Voila (written out as .ipynb at run time).
import json, time
import ipywidgets as W
import kmemlab as km
from kmemlab.widgets import Dashboard

m = km.Machine(mem="4G", seed=0)
d = Dashboard(m)
pm = d.view("physmap")
sent = []               # (time.time(), IDAT CRC) of each new map picture as it leaves Python
_orig = type(pm)._redraw


def _timed(self):
    before = self.png
    _orig(self)
    if self.png is not before:
        # the CRC of the IDAT chunk names the picture (the page reads it from the blob)
        sent.append((time.time(), int.from_bytes(self.png[-16:-12], "big")))


pm._redraw = _timed.__get__(pm)
report = W.Textarea(value="")
report.add_class("bench-report")
go = W.Button(description="burst")
go.add_class("bench-burst")
one = W.Button(description="one")
one.add_class("bench-one")
rng = m._k.rng


def workload(m, sizes):
    live, pages = [], []
    for i, s in enumerate(sizes):
        r = i % 10
        if r < 6:
            live.append(m.kmalloc(s))
        elif r < 9 and live:
            j = int(s) % len(live)             # a random live object, swap-removed (O(1))
            live[j], live[-1] = live[-1], live[j]
            m.kfree(live.pop())
        elif len(pages) < 2000:
            pages.append(m.alloc_pages(km.GFP_KERNEL, 0))
        else:
            m.free_pages(pages.pop(0), 0)


def burst(_):
    sent.clear()
    sizes = rng.integers(8, 4096, 200_000).tolist()
    bare = km.Machine(mem="4G", seed=0)        # the same-run floor: the same calls, no view
    tb = time.process_time()
    workload(bare, sizes)
    bare_s = time.process_time() - tb
    del bare
    t0 = time.time()
    c0 = time.process_time()
    workload(m, sizes)
    t1 = time.time()
    live_s = time.process_time() - c0
    d.flush()
    report.value = json.dumps({"t0": t0, "t1": t1, "sent": list(sent), "bare_cpu": bare_s, "live_cpu": live_s})


def single(_):
    sent.clear()
    t0 = time.time()
    m.alloc_pages(km.GFP_KERNEL, 3)
    d.flush()
    report.value = json.dumps({"t0": t0, "t1": time.time(), "sent": list(sent)})


go.on_click(burst)
one.on_click(single)
display(W.HBox([go, one, report]), d)
