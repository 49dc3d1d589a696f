"""km.compare(host, twin, lang="ja"): the same report card in Japanese — every word from the
table of kmemlab.messages, no English label left on it, the same rows and numbers as the
English card; and compare() recognising khugepaged's min_free_kbytes with the buddy
allocator's own set_recommended_min_free_kbytes() arithmetic."""

import html
import re
import string

import pytest

import kmemlab as km
from kmemlab import helpers as H
from kmemlab.compare import REASONS
from kmemlab.kernel.buddy import recommended_min_free_kbytes
from kmemlab.messages import LANGS, MESSAGES, Msg
from test_compare import busy_host

#: English words of the card that are single words (verdicts, column heads, units, names)
SINGLE = ("agrees", "differs", "what", "why", "pages", "bytes", "machine", "twin", "host", "caches", "none")


def _fields(s: str) -> set:
    return {f for _, f, _, _ in string.Formatter().parse(s) if f}


def test_every_message_has_both_languages_with_the_same_fields():
    for key, by_lang in MESSAGES.items():
        assert set(by_lang) == set(LANGS), key
        assert all(by_lang[lang].strip() for lang in LANGS), key
        assert _fields(by_lang["en"]) == _fields(by_lang["ja"]), key
    # a Japanese text is Japanese (kernel names alone stay as they are in both)
    for key, by_lang in MESSAGES.items():
        if by_lang["en"] != by_lang["ja"] and re.search(r"[a-z]{3,} [a-z]{3,}", by_lang["en"]):
            assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", by_lang["ja"]), key


def _english_fragments() -> list[str]:
    """The English prose of the table: each template's text between its fields, where it
    has two words; kernel names (min_free_kbytes) and file names stay in both languages."""
    out = set()
    for by_lang in MESSAGES.values():
        if by_lang["en"] == by_lang["ja"]:
            continue
        for frag in re.split(r"\{[^}]*\}", by_lang["en"]):
            frag = frag.strip(" ,;:.()")
            if re.search(r"[A-Za-z]{3,}[ ,'-]+[A-Za-z]{2,}", frag) and frag not in by_lang["ja"]:
                out.add(frag)
    return sorted(out)


def _cards(tmp_path, **kw):
    h, _ = busy_host(tmp_path, **kw)
    twin = km.Machine.like_host(h, caches=[s.name for s in H.for_each_slab_cache(h) if s.name != "odd_cache"][:-3])
    return km.compare(h, twin), km.compare(h, twin, lang="ja")


@pytest.fixture(params=[{}, {"deferred_pages": 100_000, "thp": False}, {"root": False}],
                ids=["busy", "deferred", "not-root"])
def cards(request, tmp_path):
    return _cards(tmp_path, **request.param)


def test_the_japanese_card_has_no_english_label(cards):
    en, ja = cards
    assert ja.lang == "ja" and en.lang == "en"
    frags = _english_fragments()
    assert len(frags) > 60                        # the table really is read
    for shown in (str(ja), html.unescape(ja._repr_html_())):
        left = [f for f in frags if f in shown]
        assert not left, f"English in the Japanese card: {left}"
        words = [w for w in SINGLE if re.search(rf"(?<![\w-]){w}(?![\w-])", shown)]
        assert not words, f"English words in the Japanese card: {words}"
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", shown)
    # and the English card says them: the fragments are what an English card shows
    assert sum(f in html.unescape(en._repr_html_()) for f in frags) > 20


def _numbers(s: str) -> list[str]:
    return re.findall(r"\d[\d,.x]*", s)


def test_the_japanese_card_has_the_english_cards_rows_and_numbers(cards):
    en, ja = cards
    assert ja.rows == en.rows and ja.names == en.names
    assert _numbers(ja.summary()) == _numbers(en.summary())
    # HTML: the value cells, row by row
    cell = re.compile(r"font-family:monospace'>(.*?)</td>")
    ve, vj = cell.findall(en._repr_html_()), cell.findall(ja._repr_html_())
    assert len(ve) == len(vj) == 2 * len(en.rows)
    assert [_numbers(x) for x in ve] == [_numbers(x) for x in vj]
    # text: the two value columns of each row line (between runs of two or more spaces)
    def values(card):
        return [re.split(r"\s{2,}", line.strip())[-3:-1] for line in str(card).splitlines()
                if re.match(r"  [=~!?] ", line)]
    te, tj = values(en), values(ja)
    assert len(te) == len(tj) == len(en.rows)
    assert [[_numbers(v) for v in r] for r in te] == [[_numbers(v) for v in r] for r in tj]
    # a row's reason is said in Japanese where the English card says it in English
    for r in ja.rows:
        if r.why and r.verdict != "agrees":
            assert ja.text(r.why) in html.unescape(ja._repr_html_())


def test_the_card_changes_language_and_refuses_others(tmp_path):
    en, ja = _cards(tmp_path)
    assert str(en.in_language("ja")) == str(ja) and str(ja.in_language("en")) == str(en)
    assert en.text(en.rows[0].section) == "machine" and ja.text(en.rows[0].section) == "マシン"
    part = ja.select(["machine"])
    assert part.lang == "ja" and {r.section for r in part.rows} == {"machine"}
    assert part.summary().startswith(f"一致 {len(part.agrees)}")
    with pytest.raises(ValueError, match="lang must be one of"):
        km.compare(km.Machine(mem="256M"), km.Machine(mem="256M"), lang="de")
    # a message is its English text: it compares, copies and pickles as one
    import copy
    import pickle
    m = Msg("compare.sec.zone", zone="DMA", node=0)
    assert m == "zone DMA (node 0)" and m.text("ja") == "ゾーン DMA（ノード 0）"
    for c in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert c == m and c.text("ja") == m.text("ja")


def test_the_japanese_text_lines_fit_the_columns_they_say(tmp_path):
    from kmemlab.compare import _width
    _, ja = _cards(tmp_path)
    for line in str(ja).splitlines():
        if line.startswith("      "):           # a reason: wrapped at 96 terminal columns
            assert _width(line) <= 6 + 96 + 4, line         # + two closing marks (kinsoku)


@pytest.mark.parametrize("mem", ["2G", "24G"])
def test_khugepaged_min_free_kbytes_is_recognised_with_the_models_own_arithmetic(mem):
    m = km.Machine(mem=mem, cpus=2)
    zones = [z for z in H.for_each_zone(m) if z.name in ("DMA", "DMA32", "Normal")]
    nr = sum(1 for z in zones if z.present_pages)
    want = recommended_min_free_kbytes(nr, H.pageblock_order(m),
                                       sum(max(z.managed_pages - H.high_wmark_pages(z), 0) for z in zones), 12)
    assert H.min_free_kbytes(m) == want == 512 * nr * 11 * 4      # the 5 % cap does not bind here
    row = km.compare(m, m).row("memory totals (/proc/meminfo)", "min_free_kbytes")
    assert row.why == REASONS["thp"]
    never = km.Machine(mem=mem, cpus=2, transparent_hugepage="never")
    assert km.compare(never, m).row("memory totals (/proc/meminfo)", "min_free_kbytes").why == \
        REASONS["min_free_admin"]
