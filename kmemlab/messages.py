"""The words of kmemlab's reports outside the views, in English and Japanese: one table
(``MESSAGES``) and the languages every table shares (``LANGS``, :func:`check_lang`).

``km.compare(host, twin, lang="ja")``'s report card takes every word it prints from here.
It lives outside :mod:`kmemlab.widgets` because a report card is text for a terminal as
much as HTML for a notebook: it must not pull ipywidgets and bqplot in (importing
``kmemlab.widgets.messages`` imports the package ``kmemlab.widgets``, which does), and the
kernel model never imports widgets. The views' own table, :mod:`kmemlab.widgets.messages`,
takes ``LANGS`` and ``check_lang`` from here, so the two tables speak the same languages.

A :class:`Msg` is a message with its fields, not yet put into words: it *is* the English
string (a ``str``: it compares, hashes and prints as the English text, so code that reads
``row.why == REASONS["free"]`` or ``row.section.startswith("zone ")`` keeps working) and
``msg.text("ja")`` renders it in another language. Fields that are messages themselves are
rendered in the same language. Kernel names (min_free_kbytes, lowmem_reserve, kmem_cache),
file names (/proc/meminfo) and numbers stay as they are in both languages. A missing
Japanese entry is a test failure (``tests/test_compare_lang.py``), never English on screen.
"""

from __future__ import annotations

import unicodedata

__all__ = ["LANGS", "MESSAGES", "Msg", "Joined", "check_lang", "fill", "text", "tr", "columns"]

LANGS = ("en", "ja")


def check_lang(lang: str | None, default: str = "en") -> str:
    """``lang`` itself, or ``default`` for None; ValueError for a language not in the table."""
    if lang is None:
        return default
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {', '.join(map(repr, LANGS))}, got {lang!r}")
    return lang


def fill(table: dict, key: str, lang: str = "en", **fields) -> str:
    """The message ``key`` of ``table`` (key -> {lang: text}) in ``lang``, its ``{fields}``
    filled in (fields that are messages rendered in ``lang`` too): the look-up of this
    table and of the views' (:mod:`kmemlab.widgets.messages`)."""
    msg = table[key][lang]
    if not fields:
        return msg
    return msg.format(**{k: tr(v, lang) if isinstance(v, Msg) else v for k, v in fields.items()})


def text(key: str, lang: str = "en", **fields) -> str:
    """The message ``key`` in ``lang``, its ``{fields}`` (messages too) filled in."""
    return fill(MESSAGES, key, lang, **fields)


def tr(s, lang: str) -> str:
    """``s`` in ``lang``: a :class:`Msg` rendered, anything else as ``str()`` gives it."""
    return s.text(lang) if isinstance(s, Msg) else str(s)


def columns(s: str) -> int:
    """The columns ``s`` takes in a terminal (and, roughly, in a proportional font): East
    Asian wide and full-width characters (Japanese) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


class Msg(str):
    """A message of the table with its fields: the English text, renderable in any language."""

    def __new__(cls, key: str, /, **fields):
        self = super().__new__(cls, text(key, "en", **fields))
        self.key, self.fields = key, fields
        return self

    def text(self, lang: str) -> str:
        return text(self.key, lang, **self.fields)

    def __getnewargs_ex__(self):             # copy and pickle rebuild it from its key
        return (self.key,), self.fields


class Joined(Msg):
    """Items (messages or plain names) joined by the language's list separator."""

    def __new__(cls, items, sep: str = "list.sep"):
        items = tuple(items)
        self = str.__new__(cls, text(sep, "en").join(tr(i, "en") for i in items))
        self.key, self.fields, self.items = sep, {}, items
        return self

    def text(self, lang: str) -> str:
        return text(self.key, lang).join(tr(i, lang) for i in self.items)

    def __getnewargs_ex__(self):
        return (self.items, self.key), {}


#: key -> {lang: text}; text may hold str.format fields
MESSAGES: dict[str, dict[str, str]] = {
    "list.sep": {"en": ", ", "ja": "、"},
    # -- km.compare(): the card --------------------------------------------------------------
    "compare.agrees": {"en": "agrees", "ja": "一致"},
    "compare.close": {"en": "close", "ja": "近い"},
    "compare.differs": {"en": "differs", "ja": "不一致"},
    "compare.not_shown": {"en": "not shown", "ja": "表示なし"},
    "compare.summary": {"en": "{agree} agree, {close} close (within {pct}), {differ} differ",
                        "ja": "一致 {agree}、近い {close}（{pct} 以内）、不一致 {differ}"},
    "compare.summary_not_shown": {"en": "{summary}, {n} not shown", "ja": "{summary}、表示なし {n}"},
    "compare.pair": {"en": "{a} vs {b}", "ja": "{a} と {b}"},
    "compare.legend": {"en": "= agrees  ~ close  ! differs  ? not shown",
                       "ja": "= 一致  ~ 近い  ! 不一致  ? 表示なし"},
    "compare.col.what": {"en": "what", "ja": "項目"},
    "compare.col.why": {"en": "why", "ja": "理由"},
    "compare.name.twin": {"en": "twin ({release})", "ja": "双子 ({release})"},
    "compare.name.machine": {"en": "machine ({release})", "ja": "マシン ({release})"},
    "compare.name.host": {"en": "host {node} ({release})", "ja": "ホスト {node} ({release})"},
    "compare.unit.pages": {"en": "pages", "ja": "ページ"},
    "compare.unit.bytes": {"en": "bytes", "ja": "バイト"},
    "compare.none": {"en": "none", "ja": "なし"},
    "compare.present": {"en": "present", "ja": "あり"},
    "compare.few": {"en": "{names} and {n} more", "ja": "{names} ほか {n} 個"},
    # -- sections ----------------------------------------------------------------------------
    "compare.sec.machine": {"en": "machine", "ja": "マシン"},
    "compare.sec.zone": {"en": "zone {zone} (node {node})", "ja": "ゾーン {zone}（ノード {node}）"},
    "compare.sec.zones": {"en": "zones", "ja": "ゾーン"},
    "compare.sec.memory": {"en": "memory totals (/proc/meminfo)", "ja": "メモリの合計 (/proc/meminfo)"},
    "compare.sec.slab": {"en": "slab caches", "ja": "スラブキャッシュ"},
    "compare.sec.vmalloc": {"en": "vmalloc", "ja": "vmalloc"},
    # -- rows ----------------------------------------------------------------------------------
    "compare.what.kernel": {"en": "kernel (generation kmemlab follows)", "ja": "カーネル（kmemlab が従う世代）"},
    "compare.what.arch": {"en": "architecture", "ja": "アーキテクチャ"},
    "compare.what.cpus": {"en": "CPUs online", "ja": "オンラインの CPU 数"},
    "compare.what.nodes": {"en": "NUMA nodes", "ja": "NUMA ノード数"},
    "compare.what.page_size": {"en": "page size", "ja": "ページサイズ"},
    "compare.what.orders": {"en": "buddy orders (NR_PAGE_ORDERS)", "ja": "バディの order 数 (NR_PAGE_ORDERS)"},
    "compare.what.pageblock": {"en": "pageblock order", "ja": "ページブロックの order"},
    "compare.what.ram": {"en": "RAM (present pages)", "ja": "RAM（present ページ数）"},
    "compare.what.zone": {"en": "zone", "ja": "ゾーン"},
    "compare.what.zone_node": {"en": "{zone} (node {node})", "ja": "{zone}（ノード {node}）"},
    "compare.what.watermark": {"en": "watermark {which}", "ja": "水位 {which}"},
    "compare.what.protection": {"en": "protection (lowmem_reserve)", "ja": "protection (lowmem_reserve)"},
    "compare.what.free_pages": {"en": "free pages", "ja": "空きページ数"},
    "compare.what.empty_zones": {"en": "empty zones on one side only", "ja": "片方にだけある空のゾーン"},
    "compare.what.caches": {"en": "caches", "ja": "キャッシュ数"},
    "compare.what.geometry": {"en": "geometry (stride, objects/slab, order) of the caches on both",
                              "ja": "両方にあるキャッシュの形（間隔、スラブあたりのオブジェクト数、order）"},
    "compare.what.n_caches": {"en": "{n} caches", "ja": "キャッシュ {n} 個"},
    "compare.what.n_agree": {"en": "{n} agree", "ja": "{n} 個が一致"},
    "compare.what.only_first": {"en": "caches only the first has", "ja": "1 つ目にだけあるキャッシュ"},
    "compare.what.only_second": {"en": "caches only the second has", "ja": "2 つ目にだけあるキャッシュ"},
    "compare.what.in_use": {"en": "objects in use (all caches)", "ja": "使用中のオブジェクト数（全キャッシュ）"},
    "compare.what.vmap_areas": {"en": "vmap areas", "ja": "vmap 領域"},
    "compare.what.vmap_in_use": {"en": "vmap areas in use", "ja": "使用中の vmap 領域"},
    "compare.what.sizes_of": {"en": "area sizes of {fn}()", "ja": "{fn}() の領域の大きさ"},
    "compare.what.areas_of": {"en": "areas of {fn}()", "ja": "{fn}() の領域"},
    "compare.what.more_callers": {"en": "areas of {n} more callers", "ja": "ほか {n} 個の呼び出し元の領域"},
    "compare.what.lazy": {"en": "lazily freed areas (unpurged)", "ja": "遅延解放された領域（未パージ）"},
    # -- why: the reasons (REASONS) -------------------------------------------------------------
    "compare.why.userspace": {
        "en": "the model runs no user space: no process memory, no anonymous pages, no page tables of "
              "processes, nothing committed",
        "ja": "モデルはユーザー空間を動かしません。プロセスのメモリも無名ページもプロセスのページテーブルもなく、"
              "コミットされたものもありません"},
    "compare.why.page_cache": {
        "en": "the model has no page cache: files read and written on the host stay in its memory "
              "(Buffers, Cached, Dirty) until reclaim",
        "ja": "モデルにはページキャッシュがありません。ホストで読み書きされたファイルは、回収されるまでメモリに残ります"
              "（Buffers、Cached、Dirty）"},
    "compare.why.free": {
        "en": "free memory is what user space, the page cache and kernel objects leave; the twin has run nothing",
        "ja": "空きメモリは、ユーザー空間、ページキャッシュ、カーネルのオブジェクトが残した分です。双子はまだ何も動かしていません"},
    "compare.why.slab_use": {
        "en": "the host's caches hold the objects its kernel uses (dentries, inodes, ...); the twin's are "
              "empty until a notebook (or a replay) allocates",
        "ja": "ホストのキャッシュには、そのカーネルが使うオブジェクト（dentry、inode など）が入っています。"
              "双子のキャッシュは、ノートブック（または再生）が割り当てるまで空です"},
    "compare.why.reserved": {
        "en": "the real kernel's boot reserves memory the model does not (its image and its config, initrd, "
              "ACPI and firmware tables, early page tables, per-CPU areas, crash kernels); the model reserves "
              "the first MiB, a fixed kernel image and mem_map",
        "ja": "本物のカーネルは起動時に、モデルが予約しないメモリを予約します（カーネルイメージとその設定、initrd、"
              "ACPI とファームウェアのテーブル、初期のページテーブル、per-CPU 領域、クラッシュカーネル）。"
              "モデルが予約するのは先頭の 1 MiB、固定の大きさのカーネルイメージと mem_map です"},
    "compare.why.wmarks": {
        "en": "watermarks follow min_free_kbytes and each zone's share of the managed pages "
              "(__setup_per_zone_wmarks()); low and high add watermark_scale_factor of the zone's pages",
        "ja": "水位は min_free_kbytes と、管理ページに占める各ゾーンの割合で決まります（__setup_per_zone_wmarks()）。"
              "low と high はゾーンのページの watermark_scale_factor 分を上乗せします"},
    "compare.why.protection": {
        "en": "lowmem_reserve[] is the higher zones' managed pages / sysctl_lowmem_reserve_ratio "
              "(setup_per_zone_lowmem_reserve()); it differs where the managed pages do",
        "ja": "lowmem_reserve[] は上位ゾーンの管理ページ数 / sysctl_lowmem_reserve_ratio です"
              "（setup_per_zone_lowmem_reserve()）。管理ページ数が違えば違います"},
    "compare.why.thp": {
        "en": "khugepaged raised min_free_kbytes for transparent hugepages to 11 pageblocks per populated zone "
              "(set_recommended_min_free_kbytes(), mm/khugepaged.c); a Machine does the same unless it boots "
              "with transparent_hugepage=\"never\", which keeps init_per_zone_wmark_min()'s int_sqrt(16 x lowmem kB)",
        "ja": "khugepaged が透過的ヒュージページのために min_free_kbytes を、メモリのあるゾーン 1 つあたり 11 ページブロックに"
              "引き上げました（set_recommended_min_free_kbytes()、mm/khugepaged.c）。Machine も "
              "transparent_hugepage=\"never\" で起動しない限り同じことをします。never なら "
              "init_per_zone_wmark_min() の int_sqrt(16 x lowmem kB) のままです"},
    "compare.why.min_free_admin": {
        "en": "min_free_kbytes was set on the host (vm.min_free_kbytes, or by the kernel from a different "
              "amount of low memory); the model computes init_per_zone_wmark_min()",
        "ja": "ホストで min_free_kbytes が設定されています（vm.min_free_kbytes、またはカーネルが別の量の low メモリから"
              "計算）。モデルは init_per_zone_wmark_min() で計算します"},
    "compare.why.directmap": {
        "en": "the real direct map is split where firmware holes are and where set_memory_*() changed "
              "permissions (kernel text, BPF JIT, ...); the model maps RAM in 1 GiB and 2 MiB pages and "
              "splits only at its holes",
        "ja": "本物のダイレクトマップは、ファームウェアの穴のある所と set_memory_*() が権限を変えた所（カーネルのテキスト、"
              "BPF JIT など）で分割されています。モデルは RAM を 1 GiB と 2 MiB のページでマップし、穴の所でだけ分割します"},
    "compare.why.kernel_stack": {"en": "the model runs no tasks: no kernel stacks",
                                 "ja": "モデルはタスクを動かしません。カーネルスタックはありません"},
    "compare.why.percpu": {"en": "per-CPU areas: the host's modules and subsystems allocate more than the model does",
                           "ja": "per-CPU 領域: ホストのモジュールとサブシステムはモデルより多く割り当てます"},
    "compare.why.vmalloc_use": {
        "en": "vmalloc users the model does not have (task stacks, BPF programs, modules, device "
              "mappings, per-CPU chunks)",
        "ja": "モデルにない vmalloc の利用者（タスクのスタック、BPF プログラム、モジュール、デバイスのマッピング、"
              "per-CPU チャンク）"},
    "compare.why.commit": {"en": "CommitLimit = MemTotal x overcommit_ratio (50 %) + swap: it follows MemTotal",
                           "ja": "CommitLimit = MemTotal x overcommit_ratio (50 %) + スワップ。MemTotal に従います"},
    "compare.why.zones_config": {
        "en": "the host's kernel is configured with zones the model does not have (ZONE_MOVABLE, "
              "ZONE_DEVICE): empty unless memory is hot-plugged or a device maps its own",
        "ja": "ホストのカーネルには、モデルにないゾーン（ZONE_MOVABLE、ZONE_DEVICE）が構成されています。"
              "メモリがホットプラグされるか、デバイスが自分のメモリをマップしない限り空です"},
    "compare.why.in_use": {"en": "counts of what is in use depend on what ran; the twin has run nothing",
                           "ja": "使用中のものの数は、何が動いたかで決まります。双子はまだ何も動かしていません"},
    "compare.why.generation": {"en": "the twin follows another kernel generation than the host runs",
                               "ja": "双子は、ホストが動かしているのとは別のカーネル世代に従っています"},
    "compare.why.swap": {"en": "the model has no swap", "ja": "モデルにはスワップがありません"},
    "compare.why.hugetlb": {"en": "the model has no hugetlbfs pages", "ja": "モデルには hugetlbfs のページがありません"},
    "compare.why.unknown": {
        "en": "the model lays this out differently; if the host is a release kmemlab follows, this is a bug "
              "worth reporting",
        "ja": "モデルはこれを別の形に配置しています。ホストが kmemlab の従うリリースなら、報告する価値のあるバグです"},
    # -- why: one row's own reason -----------------------------------------------------------
    "compare.why.x86": {"en": "kmemlab models x86 only", "ja": "kmemlab がモデル化するのは x86 だけです"},
    "compare.why.root_pagetypeinfo": {"en": "/proc/pagetypeinfo is readable by root only",
                                      "ja": "/proc/pagetypeinfo は root だけが読めます"},
    "compare.why.overrides": {"en": "the twin was booted with other values (like_host(...) overrides)",
                              "ja": "双子は別の値で起動されました（like_host(...) による上書き）"},
    "compare.why.ram": {
        "en": "the zones' present pages are the RAM the firmware reports; the twin's RAM was set "
              "differently (an override, or clamped to what the profile supports)",
        "ja": "ゾーンの present ページはファームウェアが報告する RAM です。双子の RAM は別の値に設定されました"
              "（上書き、またはプロファイルが扱える量への切り詰め）"},
    "compare.why.layouts": {"en": "the two have different RAM or NUMA layouts",
                            "ja": "両者の RAM または NUMA の配置が違います"},
    "compare.why.memmap": {
        "en": "the firmware's memory map (holes, the PCI hole's size) or the NUMA split differ; "
              "the model puts the PCI hole at 3-4 GiB and splits nodes evenly",
        "ja": "ファームウェアのメモリマップ（穴、PCI ホールの大きさ）か NUMA の分け方が違います。"
              "モデルは PCI ホールを 3-4 GiB に置き、ノードを均等に分けます"},
    "compare.why.deferred_zone": {
        "en": "the host's MemTotal counts {n:,} pages more than its zones manage: memory still waiting "
              "for deferred struct-page initialisation (CONFIG_DEFERRED_STRUCT_PAGE_INIT), which the host "
              "hands to its zones as they need it; the model's zones get all their memory at boot. {rest}",
        "ja": "ホストの MemTotal は、ゾーンが管理するより {n:,} ページ多く数えています。遅延 struct page 初期化"
              "（CONFIG_DEFERRED_STRUCT_PAGE_INIT）を待っているメモリで、ホストは必要になるとゾーンに渡します。"
              "モデルのゾーンは起動時にすべてのメモリを受け取ります。{rest}"},
    "compare.why.wm_min_free": {"en": "min_free_kbytes differs ({a} vs {b} kB; see below); {rest}",
                                "ja": "min_free_kbytes が違います（{a} と {b} kB、下を参照）。{rest}"},
    "compare.why.and_managed": {"en": "{rest}; the managed pages differ", "ja": "{rest}。管理ページ数も違います"},
    "compare.why.zone_types": {"en": "{rest}; the host has {a} zone types, the twin {b} ({zones})",
                               "ja": "{rest}。ゾーンの種類はホストが {a} 個、双子が {b} 個です（{zones}）"},
    "compare.why.anon_huge": {"en": "transparent hugepages back user memory on the host; the model has neither",
                              "ja": "ホストでは透過的ヒュージページがユーザーのメモリを支えています。モデルにはどちらもありません"},
    "compare.why.memtotal_deferred": {
        "en": "totalram_pages() counts the {kb:,} kB the host's zones do not manage yet (deferred struct-page "
              "initialisation) as the twin counts all its memory; what remains: {rest}",
        "ja": "totalram_pages() は、ホストのゾーンがまだ管理していない {kb:,} kB（遅延 struct page 初期化）も、"
              "双子がすべてのメモリを数えるのと同じように数えます。残る差: {rest}"},
    "compare.why.no_line_first": {"en": "the first kernel's /proc/meminfo has no {key} line (another release or configuration)",
                                  "ja": "1 つ目のカーネルの /proc/meminfo には {key} の行がありません（別のリリースか構成）"},
    "compare.why.no_line_second": {"en": "the second kernel's /proc/meminfo has no {key} line (another release or configuration)",
                                   "ja": "2 つ目のカーネルの /proc/meminfo には {key} の行がありません（別のリリースか構成）"},
    "compare.why.no_caches": {"en": "the slab caches could not be listed (no /sys/kernel/slab, or not SLUB)",
                              "ja": "スラブキャッシュを列挙できませんでした（/sys/kernel/slab がないか、SLUB ではありません）"},
    "compare.why.caches": {
        "en": "the host's kernel creates caches for what it runs (file systems, network protocols, "
              "drivers, modules) and merges compatible caches; the twin has its boot's caches and the "
              "ones like_host() created",
        "ja": "ホストのカーネルは、動かすもの（ファイルシステム、ネットワークプロトコル、ドライバ、モジュール）のために"
              "キャッシュを作り、互換なキャッシュを統合します。双子にあるのは起動時のキャッシュと like_host() が作ったものです"},
    "compare.why.n_differ": {"en": "{n} differ: see their rows", "ja": "{n} 個が不一致: それぞれの行を参照"},
    "compare.why.object_size": {"en": "object_size {a} vs {b}: {rest}", "ja": "object_size {a} と {b}: {rest}"},
    "compare.why.merged": {"en": "other caches were merged into the host's (it grows to the largest user)",
                           "ja": "ホストのキャッシュには他のキャッシュが統合されています（いちばん大きな利用者に合わせて大きくなります）"},
    "compare.why.other_size": {"en": "the cache was created with another size", "ja": "キャッシュが別の大きさで作られました"},
    "compare.why.align_flags": {
        "en": "align {a} vs {b}, flags {fa:#x} vs {fb:#x}: created with other arguments (or debugging flags, slub_debug=)",
        "ja": "align {a} と {b}、flags {fa:#x} と {fb:#x}: 別の引数（またはデバッグ用のフラグ、slub_debug=）で作られました"},
    "compare.why.only_first": {
        "en": "created by kernel code the twin never ran (like_host() creates them: here it was not "
              "used, or the host listed them later)",
        "ja": "双子が一度も動かしていないカーネルのコードが作ったものです（like_host() なら作ります。ここでは使われなかったか、"
              "ホストが後から列挙しました）"},
    "compare.why.only_second": {
        "en": "the host's kernel is configured without them, or merged them into other caches "
              "(slab_merge; /sys/kernel/slab shows them as links)",
        "ja": "ホストのカーネルがそれらなしで構成されているか、他のキャッシュに統合しています"
              "（slab_merge。/sys/kernel/slab ではリンクとして見えます）"},
    "compare.why.root_vmallocinfo": {"en": "/proc/vmallocinfo is readable by root only",
                                     "ja": "/proc/vmallocinfo は root だけが読めます"},
    "compare.why.other_sizes": {"en": "the same caller asked for other sizes (a different config or workload)",
                                "ja": "同じ呼び出し元が別の大きさを求めました（構成か負荷の違い）"},
    "compare.why.not_simulated": {"en": "{what} (the model does not simulate them)",
                                  "ja": "{what}（モデルはこれをシミュレートしません）"},
    "compare.why.lazy": {
        "en": "vfree()d areas wait to be purged in batches (lazy_max_pages()); how many depends on "
              "what was freed since the last purge",
        "ja": "vfree() された領域は、まとめてパージされるのを待ちます（lazy_max_pages()）。その数は前回のパージ以降に"
              "何が解放されたかで決まります"},
    # /proc/vmallocinfo callers the model does not have
    "compare.user.stacks": {"en": "task stacks (16 KiB + a guard page)", "ja": "タスクのスタック（16 KiB + ガードページ）"},
    "compare.user.irq": {"en": "the per-CPU IRQ stacks", "ja": "CPU ごとの IRQ スタック"},
    "compare.user.percpu": {"en": "per-CPU chunks", "ja": "per-CPU チャンク"},
    "compare.user.bpf": {"en": "BPF programs and their JIT pages", "ja": "BPF プログラムとその JIT ページ"},
    "compare.user.modules": {"en": "loadable modules", "ja": "ロード可能なモジュール"},
    "compare.user.devices": {"en": "device and firmware mappings (ioremap)", "ja": "デバイスとファームウェアのマッピング (ioremap)"},
    "compare.user.tty": {"en": "terminals (n_tty buffers)", "ja": "端末（n_tty のバッファ）"},
    "compare.user.other": {"en": "a vmalloc user the model does not have", "ja": "モデルにない vmalloc の利用者"},
}
