"""Understanding: language packs (data files) and a fuzzy intent matcher that survives ASR errors.

Why one file (~700 lines): the matcher, the text forms it compares and the pack data it reads
change together whenever a language or an ASR quirk is added.

A language pack (``voice/lang/<code>.json``) holds, as data: the intents with example phrasings,
spoken numerals and reference separators, filler words, negators, report categories and every
reply text. The code knows only intent *names* (the dialog's contract); everything a resident
hears or says lives in the pack, so a new language is a new JSON file.

Matching compares the utterance with each phrase twice: on the characters, and on a phonetic key
(toneless pinyin with the usual fuzzy initials/finals for Chinese), because recognition errors
in Mandarin are mostly homophones (听公告 → 厅公告 / 听公高). Vosk puts spaces between Chinese
words; they are dropped before matching.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

from .errors import LanguagePackError

LANG_DIR = Path(__file__).with_name("lang")

#: Intent names the dialog understands; a pack must define every one of them.
INTENTS: tuple[str, ...] = (
    "announcements",
    "report",
    "progress",
    "activities",
    "committee",
    "urgent",
    "repeat",
    "slower",
    "yes",
    "no",
    "cancel",
    "restart",
    "goodbye",
    "help",
)
#: Reply keys the dialog uses; a pack must define every one of them.
REPLIES: tuple[str, ...] = (
    "greeting",
    "help",
    "not_understood",
    "offer_touch",
    "offer_touch_phone",
    "announcements_none",
    "announcements_intro",
    "announcement_item",
    "activities_none",
    "activities_intro",
    "activity_item",
    "committee",
    "committee_unknown",
    "ask_description",
    "confirm_report",
    "confirm_again",
    "report_filed",
    "report_retry",
    "ask_reference",
    "reference_not_found",
    "progress",
    "progress_updated",
    "urgent",
    "nothing_to_repeat",
    "slower",
    "slowest",
    "cancelled",
    "restarted",
    "goodbye",
    "anything_else",
    "service_error",
)
#: On equal scores the earlier intent wins: safety first, then the cheap-to-undo ones.
PRIORITY: tuple[str, ...] = (
    "urgent",
    "no",
    "cancel",
    "restart",
    "repeat",
    "slower",
    "yes",
    "goodbye",
    "progress",
    "report",
    "announcements",
    "activities",
    "committee",
    "help",
)
UNKNOWN = "unknown"
SLOT_KINDS = (None, "description", "reference", "anywhere")
PHONETIC_WEIGHT = 0.95  # a phonetic-only match is a little less certain than a literal one

_HAN_CLASS = r"[\u3400-\u9fff\uf900-\ufaff]"
_SPACE_BETWEEN_HAN = re.compile(rf"(?<={_HAN_CLASS})\s+(?={_HAN_CLASS})")
_REF = re.compile(r"(?<!\d)(\d{4})-(\d{6})(?!\d)")
_DIGIT_RUN = re.compile(r"\d{3,}")
_PHONE = re.compile(r"(?<!\d)\d{2,}(?:[- ]\d{2,})+(?!\d)")  # 021-6888 1234, 02-123-4567

# Fuzzy pinyin: the pairs Mandarin speakers (and recognizers) most often confuse.
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("r", "l"), ("h", "f"))
_FUZZY_FINALS = (("uang", "uan"), ("iang", "ian"), ("ang", "an"), ("eng", "en"), ("ing", "in"))


@dataclass(frozen=True)
class ReferenceFormat:
    """Shape of case references: ``YYYY-NNNNNN`` by default."""

    year_digits: int = 4
    serial_digits: int = 6
    separator: str = "-"

    def make(self, year: str, serial: str) -> str | None:
        """Build a canonical reference, or None if the parts do not fit."""
        if len(year) != self.year_digits or not 1 <= len(serial) <= self.serial_digits:
            return None
        return f"{year}{self.separator}{serial.zfill(self.serial_digits)}"


@dataclass(frozen=True)
class IntentSpec:
    """One intent of a pack: its phrasings and which slot (if any) follows the trigger."""

    name: str
    phrases: tuple[str, ...]
    slot: str | None = None
    threshold: float | None = None  # overrides the pack's threshold (urgent: fewer false alarms)


@dataclass(frozen=True)
class Intent:
    """The result of understanding one utterance."""

    name: str
    confidence: float
    slots: dict[str, str] = field(default_factory=dict)
    phrase: str | None = None
    text: str = ""

    @property
    def known(self) -> bool:
        """False for ``unknown``."""
        return self.name != UNKNOWN

    def to_dict(self) -> dict[str, Any]:
        """Return the intent as a JSON-ready dict."""
        return {
            "name": self.name,
            "confidence": round(self.confidence, 3),
            "slots": dict(self.slots),
            "phrase": self.phrase,
            "text": self.text,
        }


class LanguagePack:
    """A language's phrases, numerals and replies, loaded from a JSON data file."""

    def __init__(self, data: dict[str, Any], source: str = "<dict>") -> None:
        self.source = source
        try:
            self.code: str = data["language"]
            self.name: str = data.get("name", self.code)
            self.tts_voice: str = data["tts_voice"]
            self.espeak_voice: str = data.get("espeak_voice", self.tts_voice.split("/")[-1])
            self.script: str = data.get("script", "latin")
            match = data.get("match", {})
            self.threshold: float = float(match.get("threshold", 0.72))
            self.phonetic: str | None = match.get("phonetic")
            self.negators: tuple[str, ...] = tuple(data.get("negators", ()))
            self.numerals: dict[str, int] = {k: int(v) for k, v in data["numerals"].items()}
            self.number_units: dict[str, int] = {
                k: int(v) for k, v in data.get("number_units", {}).items()
            }
            ref = data["reference"]
            self.separators: tuple[str, ...] = tuple(
                sorted(ref.get("separators", ["-"]), key=len, reverse=True)
            )
            self.reference_spoken: str = ref.get("spoken", "{year} {serial}")
            self.digit_words: tuple[str, ...] = tuple(ref["digit_words"])
            self.digit_joiner: str = ref.get("digit_joiner", "")
            self.pause: str = ref.get("pause", "，" if self.script == "han" else ", ")
            self.fillers: tuple[str, ...] = tuple(
                sorted(data.get("fillers", ()), key=len, reverse=True)
            )
            self.intents: dict[str, IntentSpec] = {
                name: IntentSpec(
                    name,
                    tuple(spec.get("phrases", ())),
                    spec.get("slot"),
                    float(spec["threshold"]) if spec.get("threshold") is not None else None,
                )
                for name, spec in data["intents"].items()
                if not name.startswith("_")
            }
            self.categories: dict[str, tuple[str, ...]] = {
                k: tuple(v) for k, v in data.get("categories", {}).items()
            }
            # what each category is called aloud ("您说的是报修：…"), and the categories that win
            # over the weakest ones whenever they are heard (danger and help before suggestion)
            self.category_names: dict[str, str] = dict(data.get("category_names", {}))
            self.categories_first: tuple[str, ...] = tuple(data.get("categories_first", ()))
            self.categories_last: tuple[str, ...] = tuple(data.get("categories_last", ()))
            self.replies: dict[str, str] = dict(data["replies"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LanguagePackError(
                f"language pack {source} is malformed: {exc!r}", source=source
            ) from exc
        self._validate()

    @classmethod
    def load(cls, path: str | Path) -> LanguagePack:
        """Load a pack from a JSON file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LanguagePackError(f"cannot read language pack {path}: {exc}") from exc
        return cls(data, str(path))

    def _validate(self) -> None:
        missing = [i for i in INTENTS if not self.intents.get(i) or not self.intents[i].phrases]
        missing_replies = [r for r in REPLIES if not self.replies.get(r)]
        bad_slots = [i.name for i in self.intents.values() if i.slot not in SLOT_KINDS]
        problems = []
        if missing:
            problems.append(f"intents without phrases: {missing}")
        if missing_replies:
            problems.append(f"missing replies: {missing_replies}")
        if bad_slots:
            problems.append(f"unknown slot kinds in {bad_slots}")
        if len(self.digit_words) != 10:
            problems.append("reference.digit_words must list the ten digits 0-9")
        if self.script not in ("han", "hangul", "latin"):
            problems.append(f"unknown script {self.script!r}")
        if problems:
            raise LanguagePackError(
                f"language pack {self.source} is incomplete: " + "; ".join(problems),
                source=self.source,
            )

    # --- replies -------------------------------------------------------------------------------

    def reply(self, key: str, **values: Any) -> str:
        """Format the reply ``key`` with ``values``."""
        return self.replies[key].format(**values)

    def prompts(self) -> list[str]:
        """Every reply that needs no values: the fixed prompts worth pre-rendering."""
        return [text for text in self.replies.values() if "{" not in text]

    def spell_digits(self, digits: str) -> str:
        """Say a digit string digit by digit (二零二六 / two zero two six)."""
        return self.digit_joiner.join(
            self.digit_words[int(c)] for c in digits if c.isdigit() and c.isascii()
        )

    def speak_reference(self, reference: str) -> str:
        """Text that reads a ``YYYY-NNNNNN`` reference aloud, digit by digit."""
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", reference)
        if not m:
            return self.spell_digits(reference)
        return self.reference_spoken.format(
            year=self.spell_digits(m.group(1)), serial=self.spell_digits(m.group(2))
        )

    def speakable(self, text: str) -> str:
        """The text as the synthesizer should read it: references and long numbers digit by
        digit (a phone number or "120" is never read as a quantity)."""
        text = _REF.sub(lambda m: self.speak_reference(m.group(0)), text)
        text = _PHONE.sub(
            lambda m: self.pause.join(self.spell_digits(g) for g in re.split(r"[- ]", m.group(0))),
            text,
        )
        sep = self.digit_joiner or ""
        text = _DIGIT_RUN.sub(lambda m: sep + self.spell_digits(m.group(0)) + sep, text)
        return re.sub(r"\s{2,}", " ", text).strip()

    # --- grammars ------------------------------------------------------------------------------

    def phrases(self, intents: Iterable[str] | None = None) -> list[str]:
        """All phrasings of ``intents`` (default: every intent)."""
        names = list(intents) if intents is not None else list(self.intents)
        return [p for n in names if n in self.intents for p in self.intents[n].phrases]

    def grammar_phrases(self, listen: str) -> list[str] | None:
        """Phrases for grammar-restricted recognition in a listening mode (None = open)."""
        control = self.phrases(CONTROL_INTENTS)
        digits = [w for w in self.numerals if not w.isascii() or w.isalpha()]
        seps = [s for s in self.separators if s.strip("-")]
        if listen == "commands":
            return self.phrases()
        if listen == "yesno":
            return self.phrases(("yes", "no")) + control
        if listen == "reference":
            return self.phrases(("progress",)) + digits + seps + control
        return None


#: Intents accepted in every state of a dialog.
CONTROL_INTENTS: tuple[str, ...] = (
    "urgent",
    "repeat",
    "slower",
    "cancel",
    "restart",
    "goodbye",
    "help",
)


@lru_cache(maxsize=16)
def load_pack(code_or_path: str) -> LanguagePack:
    """Load a built-in pack by code (``zh-CN``, ``en``) or any pack by file path (cached)."""
    path = Path(code_or_path)
    if path.suffix != ".json":
        path = LANG_DIR / f"{code_or_path}.json"
    if not path.exists():
        raise LanguagePackError(
            f"no language pack {code_or_path!r}; built-in: {available_packs()}",
            source=str(path),
        )
    return LanguagePack.load(path)


def available_packs() -> list[str]:
    """Codes of the built-in language packs."""
    return sorted(p.stem for p in LANG_DIR.glob("*.json"))


def pack_for_locale(locale: str | None, default: str = "en") -> LanguagePack:
    """The built-in pack that speaks a web locale (``zh_CN``, ``zh-CN``, ``zh``, ``en_GB``):
    the same code, else the first pack of the same language, else ``default``."""
    code = (locale or default).replace("_", "-")
    packs = available_packs()
    if code in packs:
        return load_pack(code)
    language = code.split("-")[0].lower()
    same = [p for p in packs if p.split("-")[0].lower() == language]
    return load_pack(same[0] if same else default)


def speak_reference(reference: str, locale: str | None = None) -> str:
    """A case reference read aloud digit by digit in a locale's words, as the voice dialog says
    it: ``二零二六，杠，零零零一二三`` / ``two zero two six, dash, zero zero zero one two three``.
    The one place the app and the voice dialog word a reference."""
    return pack_for_locale(locale).speak_reference(reference)


# --- text forms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Form:
    """An utterance or phrase prepared for matching."""

    text: str  # normalized, spaces kept
    surface: str  # what is compared: spaces removed for han/hangul
    index: tuple[int, ...]  # surface position -> text position
    phon: tuple[str, ...] | None  # phonetic token per surface char


def normalize(text: str, script: str = "han") -> str:
    """Normalize recognizer output: NFKC, lower case, no punctuation, no [unk], and no spaces
    between Chinese characters (Vosk separates Chinese words with spaces)."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("[unk]", " ")
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "-" or ch == "'":
            out.append(ch)
        elif cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    text = " ".join("".join(out).split())
    return _SPACE_BETWEEN_HAN.sub("", text)


class Understander:
    """Intent matcher for one language pack (thread-safe, stateless after construction)."""

    def __init__(self, pack: LanguagePack, reference: ReferenceFormat | None = None) -> None:
        self.pack = pack
        self.reference_format = reference or ReferenceFormat()
        self._compact = pack.script in ("han", "hangul")
        self._fillers = {normalize(f, pack.script).replace(" ", "") for f in pack.fillers}
        self._phrases: dict[str, list[tuple[str, _Form]]] = {
            name: [(p, self._form(p)) for p in spec.phrases] for name, spec in pack.intents.items()
        }
        self._keywords: dict[str, list[tuple[str, tuple[str, ...] | None]]] = {}
        for category, words in pack.categories.items():
            forms = sorted((self._form(w) for w in words), key=lambda f: -len(f.surface))
            self._keywords[category] = [(f.surface, f.phon) for f in forms if f.surface]

    # --- public --------------------------------------------------------------------------------

    def parse(self, text: str, expect: Iterable[str] | None = None) -> Intent:
        """Understand ``text``; restrict to ``expect`` intents (plus the control intents).

        Returns the best intent with a confidence in 0..1 and its slots, or ``unknown`` when
        nothing reaches the pack's threshold.
        """
        form = self._form(text)
        if not form.surface:
            return Intent(UNKNOWN, 0.0, text="")
        allowed = set(self.pack.intents) if expect is None else set(expect) | set(CONTROL_INTENTS)
        best: tuple[float, int, int, str, str, tuple[int, int]] | None = None
        near = 0.0  # the best score under the threshold, reported with "unknown"
        for name in allowed & set(self._phrases):
            spec = self.pack.intents[name]
            floor = spec.threshold if spec.threshold is not None else self.pack.threshold
            for phrase, pform in self._phrases[name]:
                score, span = self._score(form, pform, spec.slot)
                near = max(near, score)
                if score < floor:
                    continue
                rank = (
                    round(score, 3),
                    -PRIORITY.index(name) if name in PRIORITY else -len(PRIORITY),
                    len(pform.surface),
                )
                if best is None or rank > best[:3]:
                    best = (*rank, name, phrase, span)
        if best is None:
            if "report" in allowed:
                # "楼道灯坏了" said straight away is a report; the dialog confirms it anyway
                hint = self.category_hint(form.text)
                description = self.clean_description(form.text)
                if hint and description:
                    slots = {"description": description, "category": hint}
                    return Intent("report", self.pack.threshold, slots, None, form.text)
            return Intent(UNKNOWN, near, text=form.text)
        score, _, _, name, phrase, span = best
        slots = self._slots(name, form, span)
        return Intent(name, min(1.0, score), slots, phrase, form.text)

    def extract_reference(self, text: str) -> str | None:
        """Find a case reference in spoken or written text (二零二六杠幺二三 → 2026-000123)."""
        return _find_reference(normalize(text, self.pack.script), self.pack, self.reference_format)

    def category_scores(self, description: str) -> dict[str, float]:
        """How strongly ``description`` speaks of each report category (0 = not at all).

        Each keyword found counts its length (a longer keyword is more specific); a keyword
        of two or more characters found only by sound (电题 for 电梯, 楼水 for 漏水) counts a
        little less. Characters already claimed by a longer keyword of the same category are
        not counted twice.
        """
        form = self._form(description)
        scores: dict[str, float] = {}
        for category, keywords in self._keywords.items():
            used: set[int] = set()
            total = 0.0
            for surface, phon in keywords:
                for start, weight in self._keyword_hits(form, surface, phon):
                    span = set(range(start, start + len(surface)))
                    if span & used:
                        continue
                    used |= span
                    total += weight * len(surface)
            if total:
                scores[category] = total
        return scores

    def category_hint(self, description: str) -> str | None:
        """The report category ``description`` speaks of most, if any.

        On a tie the category listed first in the pack wins. A category of the pack's
        ``categories_first`` (danger, help) heard at all wins over one of its
        ``categories_last`` (suggestion): a gas smell or a plea said politely
        ("希望有人来看看，我一个人住") is never filed as a mere suggestion.
        """
        scores = self.category_scores(description)
        if not scores:
            return None
        order = list(self.pack.categories)
        best = max(scores, key=lambda c: (scores[c], -order.index(c)))
        first = [c for c in self.pack.categories_first if scores.get(c)]
        if first and best in self.pack.categories_last:
            best = max(first, key=lambda c: (scores[c], -order.index(c)))
        return best

    def category_named(self, text: str) -> str | None:
        """The category ``text`` names, if it is just a category's name ("是求助", "报修的")."""
        said = self.clean_description(text).replace(" ", "")
        for category, name in self.pack.category_names.items():
            short = normalize(name, self.pack.script).replace(" ", "")
            if said and (said == short or said.rstrip("的了吧啊") == short):
                return category
        return None

    def category_name(self, category: str | None) -> str | None:
        """What ``category`` is called aloud in this language, if the pack says."""
        return self.pack.category_names.get(category) if category else None

    def _keyword_hits(
        self, form: _Form, surface: str, phon: tuple[str, ...] | None
    ) -> list[tuple[int, float]]:
        hits = []
        at = form.surface.find(surface)
        while at >= 0:
            hits.append((at, 1.0))
            at = form.surface.find(surface, at + 1)
        if not hits and phon is not None and form.phon is not None and len(phon) >= 2:
            n = len(phon)
            for i in range(len(form.phon) - n + 1):
                if form.phon[i : i + n] == phon:
                    hits.append((i, PHONETIC_WEIGHT * 0.9))
        return hits

    def clean_description(self, text: str) -> str:
        """Strip leading fillers and punctuation from a spoken description."""
        text = normalize(text, self.pack.script)
        changed = True
        while changed and text:
            changed = False
            for filler in self.pack.fillers:
                if text.startswith(filler) and (self._compact or text[len(filler) :][:1] in " "):
                    rest = text[len(filler) :].lstrip()
                    if len(rest) >= 2:
                        text, changed = rest, True
                        break
        return text.strip()

    # --- matching ------------------------------------------------------------------------------

    def _form(self, text: str) -> _Form:
        norm = normalize(text, self.pack.script)
        if self._compact:
            index = tuple(i for i, c in enumerate(norm) if not c.isspace())
            surface = "".join(norm[i] for i in index)
        else:
            index = tuple(range(len(norm)))
            surface = norm
        phon = _pinyin_tokens(surface) if self.pack.phonetic == "pinyin" else None
        return _Form(norm, surface, index, phon)

    def _score(self, u: _Form, p: _Form, slot: str | None) -> tuple[float, tuple[int, int]]:
        best, span = self._score_seq(u.surface, p.surface, u, p, slot)
        if u.phon is not None and p.phon is not None:
            score, pspan = self._score_seq(u.phon, p.phon, u, p, slot)
            score *= PHONETIC_WEIGHT
            if score > best:
                best, span = score, pspan
        return best, span

    def _score_seq(
        self, u: Any, p: Any, uf: _Form, pf: _Form, slot: str | None
    ) -> tuple[float, tuple[int, int]]:
        lu, lp = len(u), len(p)
        if lp == 0 or lu == 0:
            return 0.0, (0, 0)
        full = fuzz.ratio(u, p) / 100.0
        best, span = full, (0, lu)
        if lp < lu:
            al = fuzz.partial_ratio_alignment(p, u)
            part = al.score / 100.0
            start, end = al.dest_start, al.dest_end
            if slot is None:
                # a command must be most of what was said: "好" inside a long sentence is not
                # "yes" — unless it leads the sentence ("不对，是电梯坏了", "对，就是这个")
                leads = start == 0 and pf.surface not in self._fillers
                part *= (0.85 + 0.15 * lp / lu) if leads else (0.5 + 0.5 * lp / lu)
            if not self._compact and not _on_word_bounds(uf.surface, start, end):
                part *= 0.8
            if part > best:
                best, span = part, (start, end)
        start = span[0]
        if start > 0 and self._negated(uf.surface[:start]) and not self._negated_phrase(pf.surface):
            best *= 0.5
        return best, span

    def _negated(self, before: str) -> bool:
        before = before.rstrip()
        for neg in self.pack.negators:
            if before.endswith(neg) and (
                self._compact or len(before) == len(neg) or before[-len(neg) - 1] == " "
            ):
                return True
        return False

    def _negated_phrase(self, phrase: str) -> bool:
        return any(phrase.startswith(n) for n in self.pack.negators)

    def _slots(self, name: str, form: _Form, span: tuple[int, int]) -> dict[str, str]:
        slots: dict[str, str] = {}
        start, end = span
        text_start = form.index[start] if start < len(form.index) else len(form.text)
        text_end = form.index[end - 1] + 1 if 0 < end <= len(form.index) else len(form.text)
        after = form.text[text_end:].strip()
        before = form.text[:text_start].strip()
        spec = self.pack.intents[name]
        if spec.slot == "description":
            description = self.clean_description(after) or self.clean_description(before)
            if description:
                slots["description"] = description
                hint = self.category_hint(description)
                if hint:
                    slots["category"] = hint
        if name == "progress" or spec.slot == "reference":
            ref = _find_reference(form.text, self.pack, self.reference_format)
            if ref:
                slots["reference"] = ref
        if spec.slot is None and after:
            slots["rest"] = after
        return slots


def _on_word_bounds(text: str, start: int, end: int) -> bool:
    left = start == 0 or text[start - 1] == " "
    right = end >= len(text) or text[end] == " "
    return left and right


@lru_cache(maxsize=4096)
def _pinyin_tokens(surface: str) -> tuple[str, ...]:
    from pypinyin import lazy_pinyin

    tokens = lazy_pinyin(surface, errors=lambda chunk: list(chunk))
    if len(tokens) != len(surface):  # keep one token per character, whatever pypinyin did
        tokens = [lazy_pinyin(c, errors=lambda chunk: list(chunk))[0] for c in surface]
    return tuple(_fuzzy_syllable(t) for t in tokens)


def _fuzzy_syllable(s: str) -> str:
    if not s.isascii() or not s.isalpha():
        return s
    for a, b in _FUZZY_INITIALS:
        if s.startswith(a):
            s = b + s[len(a) :]
            break
    for a, b in _FUZZY_FINALS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s


# --- references ----------------------------------------------------------------------------------


def _tokens(text: str, pack: LanguagePack) -> list[tuple[str, str]]:
    """Split text into (kind, value) tokens: digit, unit, sep, or other."""
    out: list[tuple[str, str]] = []
    numerals = pack.numerals
    seps = pack.separators
    for word in text.split():
        if word in numerals:
            out.append(("digit", str(numerals[word])))
            continue
        if word in seps:
            out.append(("sep", word))
            continue
        if word in pack.number_units:
            out.append(("unit", word))
            continue
        i = 0
        while i < len(word):
            ch = word[i]
            sep = next((s for s in seps if word.startswith(s, i)), None)
            if ch.isdigit() and ch.isascii():
                out.append(("digit", ch))
                i += 1
            elif sep is not None:
                out.append(("sep", sep))
                i += len(sep)
            elif ch in numerals and not ch.isascii():
                out.append(("digit", str(numerals[ch])))
                i += 1
            elif ch in pack.number_units:
                out.append(("unit", ch))
                i += 1
            else:
                out.append(("other", ch))
                i += 1
        out.append(("space", " "))
    return out


def _group_value(group: list[tuple[str, str]], pack: LanguagePack) -> str:
    """Digits of one group; positional numbers (一百二十三) are evaluated."""
    if not any(kind == "unit" for kind, _ in group):
        return "".join(v for kind, v in group if kind == "digit")
    total, current = 0, None
    for kind, value in group:
        if kind == "digit":
            current = int(value) if current is None else current * 10 + int(value)
        elif kind == "unit":
            total += (1 if current is None else current) * pack.number_units[value]
            current = None
    total += current or 0
    return str(total)


def _find_reference(text: str, pack: LanguagePack, fmt: ReferenceFormat) -> str | None:
    runs: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for kind, value in _tokens(text, pack):
        if kind in ("digit", "unit", "sep"):
            current.append((kind, value))
        elif kind == "space":
            continue
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    found: list[str] = []
    for run in runs:
        groups: list[list[tuple[str, str]]] = [[]]
        for kind, value in run:
            if kind == "sep":
                if groups[-1]:
                    groups.append([])
            else:
                groups[-1].append((kind, value))
        values = [_group_value(g, pack) for g in groups if g]
        ref = None
        if len(values) >= 2:
            ref = fmt.make(values[0], "".join(values[1:]))
        elif len(values) == 1 and len(values[0]) > fmt.year_digits:
            ref = fmt.make(values[0][: fmt.year_digits], values[0][fmt.year_digits :])
        if ref:
            found.append(ref)
    return found[-1] if found else None
