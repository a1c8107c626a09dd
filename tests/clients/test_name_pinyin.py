"""A card's name is looked up by its full pinyin and its initials, and sorted by pinyin: the bulk path reads the
name's pinyin once and derives the initials from it, which must give what pypinyin's own initials give."""
from __future__ import annotations

from pypinyin import Style, lazy_pinyin

from app.clients.derived import _initials, name_pinyin, name_sort_key

NAMES = ["中联重科", "重庆长安汽车股份有限公司", "ABC中国有限公司", "华光(上海)科技·2024", "乐行 银行 gong公司", "公gong",
         "嗯呣哦吕梁", "𠀀㐀豈发展", "TCL集团", "3M中国", "长长长行行行"]


def test_initials_from_the_syllables_equal_pypinyins():
    for name in NAMES:
        assert "".join(_initials(name, lazy_pinyin(name))) == "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))
        assert name_pinyin(name, lazy_pinyin(name)) == name_pinyin(name)
        assert name_sort_key(name, lazy_pinyin(name)) == name_sort_key(name)
    assert name_pinyin("中联重科") == "zhonglianzhongke zlzk"
    assert name_pinyin("ABC中国有限公司") == "abczhongguoyouxiangongsi abczgyxgs"
