#!/usr/bin/env python3
"""Translation helper for the zh_CN catalog.

  scripts/po_fill.py todo [LOCALE]          print untranslated msgids as a JSON object {msgid: ""}
  scripts/po_fill.py apply FILE [LOCALE]    fill msgstrs from a JSON object {msgid: translation}
"""
import json
import sys

from babel.messages.pofile import read_po, write_po


def _path(locale):
    return f"app/translations/{locale}/LC_MESSAGES/messages.po"


def _load(locale):
    with open(_path(locale), "rb") as f:
        return read_po(f, locale=locale)


def main():
    cmd = sys.argv[1]
    if cmd == "todo":
        catalog = _load(sys.argv[2] if len(sys.argv) > 2 else "zh")
        todo = {m.id: "" for m in catalog if m.id and not m.string and isinstance(m.id, str)}
        print(json.dumps(todo, ensure_ascii=False, indent=1))
    elif cmd == "apply":
        locale = sys.argv[3] if len(sys.argv) > 3 else "zh"
        catalog = _load(locale)
        mapping = json.load(open(sys.argv[2], encoding="utf-8"))
        n = 0
        for m in catalog:
            if isinstance(m.id, str) and mapping.get(m.id):
                m.string = mapping[m.id]
                m.flags.discard("fuzzy")
                n += 1
        with open(_path(locale), "wb") as f:
            write_po(f, catalog, width=100)
        print(f"filled {n} messages")


if __name__ == "__main__":
    main()
