"""Category understanding on the Mandarin evaluation set: accuracy per category and confusions.

    .venv/bin/python bench/category_accuracy.py [--set tests/voice/data/category_eval.tsv]

Each utterance is understood as the kiosk dialog would understand it when the resident speaks
first (``Understander.parse`` with no expectation); the category is the one the dialog would
read back and file. Printed separately for the ``tune`` part (used while improving the language
pack) and the ``heldout`` part (written afterwards, never tuned on), then together.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice.nlu import Understander, load_pack  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "voice" / "data" / "category_eval.tsv"
DANGER = ("safety", "help")


def load_set(path: Path = DEFAULT_SET) -> list[dict[str, str]]:
    """The evaluation rows: text, intent, category, split."""
    with path.open(encoding="utf-8") as f:
        lines = [line for line in f if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


def understand(nlu: Understander, text: str) -> tuple[str, str | None]:
    """(intent, category) as the dialog gets them from a first utterance."""
    intent = nlu.parse(text)
    category = intent.slots.get("category")
    if intent.name != "report" or category is None:
        category = nlu.category_hint(text)
    return intent.name, category


def evaluate(rows: list[dict[str, str]], nlu: Understander | None = None) -> dict:
    """Figures for ``rows``: accuracy, intent accuracy, per-category, confusions, danger misses."""
    nlu = nlu or Understander(load_pack("zh-CN"))
    per: dict[str, Counter] = defaultdict(Counter)
    confusions: Counter = Counter()
    wrong, danger_as_suggestion, danger_not_understood = [], [], []
    right = intent_right = 0
    for row in rows:
        intent, category = understand(nlu, row["text"])
        expected = row["category"]
        per[expected]["n"] += 1
        intent_right += intent == row["intent"]
        if category == expected:
            right += 1
            per[expected]["right"] += 1
        else:
            confusions[(expected, category or "none")] += 1
            wrong.append((row["text"], expected, category, intent))
        if expected in DANGER and category == "suggestion":
            danger_as_suggestion.append(row["text"])
        if expected in DANGER and category is None:
            danger_not_understood.append(row["text"])
    n = len(rows)
    return {
        "n": n,
        "accuracy": right / n if n else 0.0,
        "intent_accuracy": intent_right / n if n else 0.0,
        "per_category": {c: (v["right"], v["n"]) for c, v in sorted(per.items())},
        "confusions": confusions.most_common(),
        "wrong": wrong,
        "danger_as_suggestion": danger_as_suggestion,
        "danger_not_understood": danger_not_understood,
    }


def report(title: str, figures: dict, show_wrong: bool) -> None:
    print(f"== {title}: {figures['n']} utterances")
    print(
        f"category accuracy {figures['accuracy']:.1%}, intent accuracy "
        f"{figures['intent_accuracy']:.1%}"
    )
    for category, (right, n) in figures["per_category"].items():
        print(f"  {category:<12} {right:>3}/{n:<3} {right / n:.0%}")
    if figures["confusions"]:
        print("  confusions (expected -> understood):")
        for (expected, got), count in figures["confusions"]:
            print(f"    {expected} -> {got}: {count}")
    print(
        f"  danger/help understood as suggestion: {len(figures['danger_as_suggestion'])}, "
        f"as no category: {len(figures['danger_not_understood'])}"
    )
    if show_wrong:
        for text, expected, got, intent in figures["wrong"]:
            print(f"    {text}  expected {expected}, got {got} ({intent})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--wrong", action="store_true", help="list every misunderstood utterance")
    args = parser.parse_args()
    rows = load_set(args.set)
    nlu = Understander(load_pack("zh-CN"))
    for split in ("tune", "heldout"):
        part = [r for r in rows if r["split"] == split]
        if part:
            report(split, evaluate(part, nlu), args.wrong)
    report("all", evaluate(rows, nlu), False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
