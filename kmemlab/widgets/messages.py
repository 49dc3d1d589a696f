"""Every label, caption and message the views show, in one table: English and Japanese.

``text(key, lang, **fields)`` looks a message up and fills in its fields; a view keeps
its ``lang`` (``"en"`` or ``"ja"``, ``PhysMap(m, lang="ja")``, ``Dashboard(m, lang="ja")``)
and asks for every string it draws. :func:`set_language` changes the default for views
made afterwards (the Japanese lectures call ``km.widgets.set_language("ja")``). Kernel
names (kmalloc, pfn, free_area, nr_free, GFP_KERNEL) stay as the kernel spells them in
both languages: a student greps the source for them. A missing Japanese entry is a test
failure (``tests/test_widgets_lecture_hall.py``), never an English fallback on screen.

Japanese needs a CJK font in the browser (Debian: ``fonts-noto-cjk`` or
``fonts-ipafont-gothic``).
"""

from __future__ import annotations

from ..messages import LANGS, check_lang as _check_lang    # the languages km.compare() speaks too
from ..messages import fill

__all__ = ["MESSAGES", "LANGS", "text", "set_language", "get_language", "check_lang"]

_default = ["en"]

#: key -> {lang: text}; text may hold str.format fields
MESSAGES: dict[str, dict[str, str]] = {
    # -- number boxes (one parser, one set of messages) ---------------------------------
    "err.empty_address": {"en": "type an address such as 0xffff888000100000",
                          "ja": "0xffff888000100000 のようなアドレスを入力してください"},
    "err.not_address": {"en": "{text!r} is not an address; type e.g. 0xffff888000100000 or 0xffffc90000000000",
                        "ja": "{text!r} はアドレスではありません。例: 0xffff888000100000 や 0xffffc90000000000"},
    "err.not_pfn": {"en": "{text!r} is not a pfn; type e.g. 0x1000 or 4096",
                    "ja": "{text!r} は pfn ではありません。例: 0x1000 や 4096"},
    "err.not_size": {"en": "{text!r} is not a size; type e.g. 100, 8192, 64K or 1M",
                     "ja": "{text!r} はサイズではありません。例: 100, 8192, 64K, 1M"},
    "err.not_order": {"en": "{text!r} is neither an order nor a size; type e.g. 2, 8192, 64K or 1M",
                      "ja": "{text!r} は order でもサイズでもありません。例: 2, 8192, 64K, 1M"},
    "err.empty_size": {"en": "type a size in bytes such as 100, 4096, 64K or 1M",
                       "ja": "100, 4096, 64K, 1M のようにバイト数を入力してください"},
    "err.empty_order": {"en": "type an order (0..{top}) or a size such as 4096, 64K or 1M",
                        "ja": "order (0..{top}) か 4096, 64K, 1M のようなサイズを入力してください"},
    "err.negative": {"en": "{what} must be >= 0, got {value}",
                     "ja": "{what} は 0 以上です（入力: {value}）"},
    "err.too_wide": {"en": "{text} does not fit in 64 bits (an address or a size_t is at most 0xffffffffffffffff)",
                     "ja": "{text} は 64 ビットに収まりません（アドレスや size_t は最大 0xffffffffffffffff）"},
    "err.pfn_range": {"en": "pfn {pfn:#x} is outside 0..{top:#x}",
                      "ja": "pfn {pfn:#x} は範囲 0..{top:#x} の外です"},
    "err.kept": {"en": "{why} (the picture still shows the previous one)",
                 "ja": "{why}（図は前のままです）"},
    "err.neither": {"en": "{addr} is neither a direct-map nor a vmalloc address",
                    "ja": "{addr} はダイレクトマップのアドレスでも vmalloc のアドレスでもありません"},
    "err.no_area": {"en": "{addr} is in the vmalloc range but no vm area holds it",
                    "ja": "{addr} は vmalloc の範囲内ですが、どの vm area にも属していません"},
    "err.highmem": {"en": "pfn {pfn:#x} is highmem: it has no direct-map address to draw",
                    "ja": "pfn {pfn:#x} は highmem です。描けるダイレクトマップのアドレスがありません"},
    "err.order_top": {"en": "order {order} ({kib} KiB) is more than the buddy allocator's largest block (order {top})",
                      "ja": "order {order}（{kib} KiB）はバディアロケータの最大ブロック（order {top}）を超えています"},
    "err.order_small": {"en": "{n} is too large for an order (0..{top}) and smaller than a page: type a size of at least {page} bytes, or an order",
                        "ja": "{n} は order (0..{top}) には大きすぎ、1 ページより小さい値です。{page} バイト以上のサイズか order を入力してください"},
    # -- console ----------------------------------------------------------------------
    "console.title": {"en": "Console", "ja": "コンソール"},
    "console.order": {"en": "order/size", "ja": "order/サイズ"},
    "console.order_ph": {"en": "order (0..10) or size: 4096, 64K, 1M", "ja": "order (0..10) かサイズ: 4096, 64K, 1M"},
    "console.bytes": {"en": "bytes", "ja": "バイト数"},
    "console.bytes_ph": {"en": "size in bytes: 100, 4096, 64K, 1M", "ja": "バイト数: 100, 4096, 64K, 1M"},
    "console.flags": {"en": "| flags", "ja": "| フラグ"},
    "console.live": {"en": "live", "ja": "確保中"},
    "console.free": {"en": "free selected", "ja": "選択を解放"},
    "console.trace": {"en": "trace of the last call (function_graph)", "ja": "直前の呼び出しのトレース (function_graph)"},
    "console.dmesg": {"en": "dmesg (tail)", "ja": "dmesg（末尾）"},
    "console.free_tip": {"en": "__free_pages / kfree / vfree, as it was allocated",
                         "ja": "割り当てたときの関数に合わせて __free_pages / kfree / vfree"},
    "console.select_first": {"en": "select an allocation in the list first", "ja": "先に一覧から割り当てを選んでください"},
    "console.failed": {"en": "{call} failed: NULL (see dmesg)", "ja": "{call} は失敗しました: NULL（dmesg を参照）"},
    "console.zero": {"en": "{call} -> ZERO_SIZE_PTR {addr} (nothing to free)",
                     "ja": "{call} -> ZERO_SIZE_PTR {addr}（解放するものはありません）"},
    "console.no_function": {"en": "this machine has no {function}()", "ja": "このマシンには {function}() がありません"},
    "console.show_failed": {"en": "showing the selection failed: {error}", "ja": "選択の表示に失敗しました: {error}"},
    "console.redraw_failed": {"en": "redraw failed: {error}", "ja": "再描画に失敗しました: {error}"},
    # -- mapping picture ----------------------------------------------------------------
    "map.nothing": {"en": "Mapping: nothing selected", "ja": "対応付け: 何も選ばれていません"},
    "map.hint": {"en": "Press kmalloc or vmalloc in the console (or call mv.select(addr))",
                 "ja": "コンソールで kmalloc か vmalloc を押してください（または mv.select(addr)）"},
    "map.address": {"en": "address", "ja": "アドレス"},
    "map.page": {"en": "page {i}", "ja": "ページ {i}"},
    "map.guard": {"en": "guard", "ja": "ガード"},
    "map.virtual": {"en": "virtual ({region}): {start} .. {end}", "ja": "仮想 ({region}): {start} .. {end}"},
    "map.physical": {"en": "physical: frames (pfn) {lo:#x} .. {hi:#x}  ({kib} KiB of RAM)",
                     "ja": "物理: フレーム (pfn) {lo:#x} .. {hi:#x}（RAM {kib} KiB 分）"},
    "map.ruler": {"en": "all of RAM: {n} frames, window in black", "ja": "RAM 全体: {n} フレーム（黒が表示範囲）"},
    "map.region.direct": {"en": "direct map", "ja": "ダイレクトマップ"},
    "map.region.vmalloc": {"en": "vmalloc", "ja": "vmalloc"},
    # the virtual address map's region labels that are words, not kernel names
    "virt.region.direct_map": {"en": "direct map", "ja": "ダイレクトマップ"},
    "virt.region.kernel_text": {"en": "kernel text", "ja": "カーネル"},      # a narrow box: the tooltip says "kernel text mapping"
    "virt.region.modules": {"en": "modules", "ja": "モジュール"},
    "virt.region.user": {"en": "user", "ja": "ユーザ空間"},
    "virt.static_caption": {"en": "vmalloc range", "ja": "vmalloc の範囲"},
    "virt.col.what": {"en": "what", "ja": "種類"},
    "virt.col.start": {"en": "start", "ja": "先頭"},
    "virt.col.end": {"en": "end", "ja": "終端"},
    "virt.col.bytes": {"en": "bytes", "ja": "バイト数"},
    "virt.kind.pages": {"en": "pages", "ja": "ページ"},
    "virt.kind.guard": {"en": "guard", "ja": "ガード"},
    "virt.kind.lazy": {"en": "lazy", "ja": "遅延解放"},
    "map.freed_title": {"en": "{call} = {addr}: freed", "ja": "{call} = {addr}: 解放済み"},
    "map.freed": {"en": "This allocation was freed: its pages are no longer mapped to it.",
                  "ja": "この割り当ては解放されました。そのページはもうこの割り当てに対応していません。"},
    "map.parallel": {"en": "physically contiguous too: parallel lines", "ja": "物理的にも連続: 線は平行"},
    "map.by_chance": {"en": "contiguous only by chance: parallel lines here, but vmalloc promises nothing",
                      "ja": "偶然に連続: ここでは線が平行だが、vmalloc は何も保証しない"},
    "map.cap.chance": {"en": " On a freshly booted machine the order-0 free list still hands out neighbouring frames; after some churn (allocate and free a few times) they scatter.",
                       "ja": " 起動直後のマシンでは order-0 の空きリストがまだ隣り合うフレームを渡します。何度か割り当てと解放を繰り返すと散らばります。"},
    "map.scattered": {"en": "frames scattered over {kib} KiB: the lines cross",
                      "ja": "フレームは {kib} KiB に散らばる: 線が交差"},
    "map.call_size": {"en": "{function}: {size} bytes", "ja": "{function}: {size} バイト"},
    "map.title": {"en": "{call} = {addr}: {n} page(s), {how}", "ja": "{call} = {addr}: {n} ページ、{how}"},
    "map.every": {"en": " Every {step}th page is drawn.", "ja": " {step} ページごとに 1 ページを描いています。"},
    "map.cap.direct": {"en": "Direct map: phys = virt - PAGE_OFFSET, so neighbouring pages sit on neighbouring frames.",
                       "ja": "ダイレクトマップ: phys = virt - PAGE_OFFSET なので、隣のページは隣のフレームにあります。"},
    "map.cap.vmalloc": {"en": "vmalloc area: one page-table entry per page; each frame came from the buddy allocator on its own (order 0).",
                        "ja": "vmalloc 領域: ページごとにページテーブルエントリが 1 つ。各フレームはバディアロケータから 1 枚ずつ（order 0）来ました。"},
    "map.cap.guard": {"en": " The guard page is not mapped: touching it oopses.",
                      "ja": " ガードページはマップされていません。触れると oops になります。"},
    # -- physical map ---------------------------------------------------------------------
    "phys.title": {"en": "Physical memory: {n} frames ({mib} MiB), {w} frames per row ({kib} KiB)",
                   "ja": "物理メモリ: {n} フレーム ({mib} MiB)、1 行 {w} フレーム ({kib} KiB)"},
    "phys.xaxis": {"en": "frame within the row (pfn mod {w})", "ja": "行内のフレーム (pfn mod {w})"},
    "phys.yaxis": {"en": "physical address (MiB)", "ja": "物理アドレス (MiB)"},
    "phys.zone_lines": {"en": "black lines and labels: zone starts", "ja": "黒い線とラベル: ゾーンの始まり"},
    "phys.hint": {"en": "Drag a rectangle on the map, or type a pfn, to see what a frame is.",
                  "ja": "図の上で四角を描くか pfn を入力すると、そのフレームが何かが分かります。"},
    "phys.static_title": {"en": "Physical memory map ({n} frames, {w} per row, first frame top left)",
                          "ja": "物理メモリマップ（{n} フレーム、1 行 {w} フレーム、先頭フレームは左上）"},
    "phys.col_zone": {"en": "zone", "ja": "ゾーン"},
    "phys.col_node": {"en": "node", "ja": "ノード"},
    "phys.col_start": {"en": "start pfn", "ja": "先頭 pfn"},
    "phys.col_end": {"en": "end pfn", "ja": "終端 pfn"},
    "phys.zoom_at": {"en": "zoom at", "ja": "拡大位置"},
    "phys.frames": {"en": "frames", "ja": "フレーム数"},
    "phys.n_frames": {"en": "{n} frames", "ja": "{n} フレーム"},
    "phys.zoom_title": {"en": "zoom: pfn {lo:#x} .. {hi:#x} ({w} per row)",
                        "ja": "拡大: pfn {lo:#x} .. {hi:#x}（1 行 {w}）"},
    "phys.zoom_x": {"en": "frame within the row", "ja": "行内のフレーム"},
    "phys.zoom_y": {"en": "pfn of the row", "ja": "行の先頭 pfn"},
    "phys.zoom_count": {"en": "zoom count must be 1..{top} frames, got {n}",
                        "ja": "拡大するフレーム数は 1..{top} です（入力: {n}）"},
    "phys.desc.hole": {"en": "{head}: not RAM (a hole in the e820 map)",
                       "ja": "{head}: RAM ではない（e820 マップの穴）"},
    "phys.desc": {"en": "{head}: {kind}; zone {zone}, node {node}; flags {flags}",
                  "ja": "{head}: {kind}、ゾーン {zone}、ノード {node}、フラグ {flags}"},
    "phys.desc.free": {"en": "{head}: {kind}; zone {zone}, node {node}; in an order-{order} free block at pfn {pfn:#x} ({n} frames); flags {flags}",
                       "ja": "{head}: {kind}、ゾーン {zone}、ノード {node}、pfn {pfn:#x} からの order-{order} の空きブロック（{n} フレーム）の中、フラグ {flags}"},
    "phys.desc.block": {"en": "{head}: {kind}; zone {zone}, node {node}; in an order-{order} {kind} block at pfn {pfn:#x} ({n} frames); flags {flags}",
                        "ja": "{head}: {kind}、ゾーン {zone}、ノード {node}、pfn {pfn:#x} からの order-{order} の {kind} ブロック（{n} フレーム）の中、フラグ {flags}"},
    "phys.hole": {"en": "not RAM (hole)", "ja": "RAM ではない（穴）"},
    "phys.free_order": {"en": "free order {o}", "ja": "空き order {o}"},
    "phys.slab": {"en": "slab (light: small objects, dark: 1 KiB+)", "ja": "slab（淡: 小さいオブジェクト、濃: 1 KiB 以上）"},
    "phys.selected": {"en": "black boxes: the selected allocation; red dashes: the zoom window", "ja": "黒い枠: 選択中の割り当て、赤い破線: 拡大範囲"},
    # -- buddy chart ------------------------------------------------------------------------
    "buddy.title": {"en": "Free blocks per order (/proc/buddyinfo)", "ja": "order ごとの空きブロック (/proc/buddyinfo)"},
    "buddy.corner": {"en": "zone \\ order", "ja": "ゾーン \\ order"},
    "buddy.xaxis": {"en": "order (a block is 2^order pages)", "ja": "order（ブロック = 2^order ページ）"},
    "buddy.yaxis": {"en": "free blocks (nr_free)", "ja": "空きブロック数 (nr_free)"},
    "buddy.ylog": {"en": "free blocks (nr_free, log scale)", "ja": "空きブロック数（nr_free、対数目盛）"},
    # the legend of lecture 02's hand-drawn nr_free chart (notebooks/src/02-buddy-allocator.md)
    "chart.after_boot": {"en": "after boot", "ja": "起動直後"},
    "chart.after_workload": {"en": "after the workload", "ja": "負荷の後"},
    # -- slab view --------------------------------------------------------------------------
    "slab.title": {"en": "Slab caches in use (/proc/slabinfo)", "ja": "使用中のスラブキャッシュ (/proc/slabinfo)"},
    "slab.xaxis": {"en": "objects (light: num_objs, dark: active_objs)", "ja": "オブジェクト数（淡: num_objs、濃: active_objs）"},
    "slab.cache": {"en": "cache", "ja": "キャッシュ"},
    "slab.slab": {"en": "slab", "ja": "スラブ"},
    "slab.none": {"en": "one slab: none chosen (kmalloc something, or pick a cache)",
                  "ja": "スラブ: 未選択（何か kmalloc するか、キャッシュを選んでください）"},
    "slab.one": {"en": "{cache}: slab at pfn {pfn:#x} (order {order}), {used} of {n} objects in use",
                 "ja": "{cache}: pfn {pfn:#x} のスラブ (order {order})、{n} 個中 {used} 個使用中"},
    "slab.used": {"en": "in use (■)", "ja": "使用中 (■)"},
    "slab.free": {"en": "free on the slab's freelist (□)", "ja": "空き: スラブの freelist (□)"},
    "slab.cpu_free": {"en": "free on a CPU freelist (◇)", "ja": "空き: CPU の freelist (◇)"},
    "slab.caption": {"en": "/proc/slabinfo, caches holding slabs", "ja": "/proc/slabinfo（スラブを持つキャッシュ）"},
    # -- sheaf view -------------------------------------------------------------------------
    "sheaf.title": {"en": "{cache}: per-CPU sheaves of {cap} objects, per-node barns (kernel {kernel})",
                    "ja": "{cache}: CPU ごとの sheaf（{cap} 個）とノードごとの barn（カーネル {kernel}）"},
    "sheaf.title_none": {"en": "{cache}: no sheaves — each CPU keeps a slab (kernel {kernel})",
                         "ja": "{cache}: sheaf なし — 各 CPU はスラブを 1 枚持つ（カーネル {kernel}）"},
    "sheaf.gone": {"en": "no slab cache named {cache} (destroyed?)", "ja": "{cache} というスラブキャッシュはありません（破棄済み？）"},
    "sheaf.no_spare": {"en": "no spare sheaf", "ja": "spare sheaf なし"},
    "sheaf.rcu": {"en": "rcu_free sheaf: {n} objects waiting for kfree_rcu()'s grace period",
                  "ja": "rcu_free sheaf: kfree_rcu() の猶予期間を待つオブジェクト {n} 個"},
    "sheaf.cpu_slab": {"en": "CPU slab pfn {pfn:#x}: {n} free on c->freelist; {partial} CPU partial slabs",
                       "ja": "CPU スラブ pfn {pfn:#x}: c->freelist に空き {n} 個、CPU partial スラブ {partial} 枚"},
    "sheaf.cpu_noslab": {"en": "no CPU slab; {partial} CPU partial slabs", "ja": "CPU スラブなし、CPU partial スラブ {partial} 枚"},
    "sheaf.more_cpus": {"en": "... and {n} more CPUs", "ja": "… ほか CPU {n} 個"},
    "sheaf.barn": {"en": "barn {node}", "ja": "barn {node}"},
    "sheaf.barn_counts": {"en": "{full} full, {empty} empty sheaves (at most 10 + 10)",
                          "ja": "満杯 {full}、空 {empty}（最大 10 + 10）"},
    "sheaf.slabs": {"en": "slab pages ({n}): objects in address order — used/in a sheaf/CPU freelist/free",
                    "ja": "スラブページ（{n} 枚）: アドレス順のオブジェクト — 使用中/sheaf 内/CPU freelist/空き"},
    "sheaf.more_slabs": {"en": "... and {n} more slabs", "ja": "… ほかスラブ {n} 枚"},
    "sheaf.used": {"en": "in use", "ja": "使用中"},
    "sheaf.in_sheaf": {"en": "in a sheaf (active for slabinfo)", "ja": "sheaf 内（slabinfo では使用中）"},
    "sheaf.cpu_free": {"en": "free on c->freelist", "ja": "空き: c->freelist"},
    "sheaf.free": {"en": "free on the slab's freelist", "ja": "空き: スラブの freelist"},
    "sheaf.aria": {"en": "sheaves, barns and slabs of {cache}", "ja": "{cache} の sheaf、barn、スラブ"},
    # -- virtual map ------------------------------------------------------------------------
    "virt.title": {"en": "Kernel virtual address space (width grows with log2 of the size; // = a gap)",
                   "ja": "カーネル仮想アドレス空間（幅はサイズの log2 に比例、// は隙間）"},
    "virt.band": {"en": "vmalloc area from {start}: {n} vm areas (cyan) with guard pages (red edge), {lazy} lazily freed (grey, hatched)",
                  "ja": "{start} からの vmalloc 領域: vm area {n} 個（水色）とガードページ（赤枠）、遅延解放 {lazy} 個（灰色の斜線）"},
    "virt.far": {"en": "; {far} near VMALLOC_END (per-CPU chunks: zoom out)",
                 "ja": "、VMALLOC_END 付近に {far} 個（per-CPU チャンク: ズームアウト）"},
    "virt.xaxis": {"en": "pages from VMALLOC_START", "ja": "VMALLOC_START からのページ数"},
    # -- walk view --------------------------------------------------------------------------
    "walk.box": {"en": "walk", "ja": "ウォーク"},
    "walk.hint": {"en": "Type a virtual address (or allocate something in the console) to see the MMU walk the page tables.",
                  "ja": "仮想アドレスを入力する（またはコンソールで割り当てる）と、MMU がページテーブルをたどる様子が見えます。"},
    "walk.head": {"en": "page-table walk of {addr}", "ja": "{addr} のページテーブルウォーク"},
    "walk.fault": {"en": "not present: page fault", "ja": "存在しない: ページフォルト"},
    "walk.frame": {"en": "frame", "ja": "フレーム"},
    "walk.index": {"en": "index", "ja": "インデックス"},
    "walk.entry": {"en": "entry", "ja": "エントリ"},
    "walk.table": {"en": "table", "ja": "テーブル"},
    "walk.none": {"en": "no address selected", "ja": "アドレスが選ばれていません"},
    # -- dashboard --------------------------------------------------------------------------
    "dash.tab.phys": {"en": "physical", "ja": "物理メモリ"},
    "dash.tab.slab": {"en": "slab", "ja": "スラブ"},
    "dash.tab.virt": {"en": "virtual", "ja": "仮想空間"},
    "dash.tab.walk": {"en": "walk", "ja": "ウォーク"},
    "dash.tab.trace": {"en": "trace, dmesg", "ja": "トレース"},
    "dash.tab.buddy": {"en": "buddyinfo", "ja": "buddyinfo"},
    "dash.tab.mapping": {"en": "mapping", "ja": "対応付け"},
    "dash.tab.zones": {"en": "zones", "ja": "ゾーン"},
    "dash.stale": {"en": "This picture was saved with the notebook. Run the cells again to see it live.",
                   "ja": "この図はノートブックと一緒に保存されたものです。動かすにはセルをもう一度実行してください。"},
    # -- host views (km.host(): kmemlab/widgets/hostview.py) --------------------------------
    "host.header": {"en": "this machine: {sysname} {release} ({node}), read at {at}",
                    "ja": "このマシン: {sysname} {release} ({node})、{at} に読み取り"},
    "host.dash_header": {"en": "this machine: {sysname} {release} ({node}), {cpus} CPUs, MemFree {free} kB, read at {at}",
                         "ja": "このマシン: {sysname} {release} ({node})、CPU {cpus} 個、MemFree {free} kB、{at} に読み取り"},
    "host.not_root": {"en": "(not root)", "ja": "（root ではありません）"},
    "host.refresh": {"en": "refresh", "ja": "再読み込み"},
    "host.refresh_tip": {"en": "read /proc and /sys of this machine again", "ja": "このマシンの /proc と /sys を読み直します"},
    "host.auto": {"en": "re-read every {s} s", "ja": "{s} 秒ごとに読み直し"},
    "host.manual": {"en": "re-read on refresh", "ja": "再読み込みで読み直し"},
    "host.kept": {"en": "{why} (the picture is still the read of {at})", "ja": "{why}（図は {at} に読み取ったままです）"},
    "host.slab_objects": {"en": "The objects of a slab cannot be shown for this machine: /proc/slabinfo and /sys/kernel/slab count objects per cache, they do not list them (a simulated km.Machine shows them).",
                          "ja": "このマシンではスラブのオブジェクトを表示できません。/proc/slabinfo と /sys/kernel/slab はキャッシュごとの数を示すだけで、オブジェクトを列挙しません（シミュレーションの km.Machine なら表示できます）。"},
    "host.slab_names_only": {"en": "{n} caches, listed by name only (in the table below)",
                             "ja": "{n} 個のキャッシュを名前だけ表示します（下の表）"},
    "zone.title": {"en": "Zones: free pages and watermarks (/proc/zoneinfo)", "ja": "ゾーン: 空きページと水位 (/proc/zoneinfo)"},
    "zone.caption": {"en": "pages; free below min: only atomic/__GFP_HIGH allocations, below low: kswapd wakes, above high: kswapd sleeps",
                     "ja": "単位はページ。min 未満: アトミック/__GFP_HIGH の割り当てのみ、low 未満: kswapd が起きる、high 超: kswapd が眠る"},
    "zone.bar": {"en": "free: 0 .. 2×high", "ja": "free: 0 .. 2×high"},
    "zone.marks": {"en": "The bar shows free pages from 0 to twice high; marks: | min, ¦ low, ⋮ high; » more free pages than the bar holds.",
                   "ja": "棒は 0 から high の 2 倍までの空きページ。印: | min、¦ low、⋮ high。» は棒に収まらないほど空きがあること。"},
    "zone.meminfo": {"en": "/proc/meminfo (kB)", "ja": "/proc/meminfo (kB)"},
    "zone.state.ok": {"en": "above high", "ja": "high 超"},
    "zone.state.high": {"en": "between low and high", "ja": "low と high の間"},
    "zone.state.low": {"en": "below low: kswapd wakes", "ja": "low 未満: kswapd が起きる"},
    "zone.state.min": {"en": "below min", "ja": "min 未満"},
}


def check_lang(lang: str | None) -> str:
    """``lang`` itself, or the default for None; ValueError for a language not in the table."""
    return _check_lang(lang, _default[0])


def set_language(lang: str) -> None:
    """The language of views made from now on when they are given no ``lang=``."""
    _default[0] = check_lang(lang)


def get_language() -> str:
    return _default[0]


def text(key: str, lang: str = "en", **fields) -> str:
    """The message ``key`` in ``lang``, its ``{fields}`` filled in."""
    return fill(MESSAGES, key, lang, **fields)
