"""Write a feature's zh_CN catalog from a babel config and a JSON of translations.

Usage: python scripts/i18n_fill.py FEATURE BABEL_CFG [TRANSLATIONS_JSON]
Keeps existing translations, adds new ones, and lists msgids still untranslated.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(feature: str, cfg: str, table: str | None = None) -> int:
    pot = Path(tempfile.mkdtemp()) / "messages.pot"
    subprocess.run([str(ROOT / ".venv/bin/pybabel"), "--quiet", "extract", "-F", cfg, "-k", "_l",
                    "-k", "lazy_gettext", "--no-location", "-o", str(pot), str(ROOT)], check=True)
    with pot.open("rb") as fh:
        template = read_po(fh)
    po_path = ROOT / "app/translations" / feature / "zh_CN/LC_MESSAGES/messages.po"
    po_path.parent.mkdir(parents=True, exist_ok=True)
    known = {}
    if po_path.exists():
        with po_path.open("rb") as fh:
            for m in read_po(fh, locale="zh_CN"):
                if m.id and m.string:
                    known[m.id] = m.string
    if table:
        known.update(json.loads(Path(table).read_text()))
    template.locale = "zh_CN"
    template.project, template.language_team = "Linli", "Linli <zh_CN>"
    missing = []
    for m in template:
        if not m.id:
            continue
        m.string = known.get(m.id, "")
        m.flags.discard("fuzzy")
        if not m.string:
            missing.append(m.id)
    with po_path.open("wb") as fh:
        write_po(fh, template, width=100, omit_header=False)
    for mid in missing:
        print("untranslated:", mid)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
