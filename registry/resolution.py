"""Name resolution: a factory's free-text tool name → a registry tool, with a confidence.

Pure and framework-free (plain data in, plain data out); ``registry.services`` loads the
registry into a :class:`Resolver` and writes the results.

Steps, cheapest first:
1. ``normalize``: case, accents, punctuation, parentheticals ("(self-managed)"), edition
   and deployment words ("LTS", "CE", "server", "community edition"), version numbers.
2. exact lookup of the key among tool names, aliases and "name without its vendor";
   the declared name with a known vendor prefix stripped is tried too.
3. blocking: only tools sharing a token, or a token's first or last three letters, with
   the name are scored (the cost grows with the registry, not registry × adoptions);
4. fuzzy scoring with rapidfuzz; the best candidate above ``threshold`` wins, and a near
   tie between two tools is not guessed (it goes to the unresolved queue).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

# Words that name an edition, a deployment or a packaging, not a product.
EDITION_WORDS = frozenset(
    [
        "lts",
        "ce",
        "ee",
        "oss",
        "community",
        "enterprise",
        "edition",
        "server",
        "self",
        "managed",
        "selfmanaged",
        "selfhosted",
        "onprem",
        "on",
        "prem",
        "premises",
        "saas",
        "version",
        "release",
        "stable",
        "latest",
        "x64",
        "x86",
        "amd64",
    ]
)
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_VERSION = re.compile(r"^(v|r)?\d+([.\-_]\d+)*[a-z]?$")
_SPLIT = re.compile(r"[^a-z0-9]+")

DEFAULT_THRESHOLD = 0.86
FUZZY_BATCH = 2000  # keys scored per native call in resolve_many
# A second tool scoring within this margin of the best makes the match ambiguous.
AMBIGUITY_MARGIN = 0.02


def _fold(text: str) -> str:
    if text.isascii():  # nothing to decompose or strip
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def tokens(name: str) -> list[str]:
    """The meaningful tokens of a name (lowercase, no editions, versions or punctuation)."""
    text = _PAREN.sub(" ", _fold(name or "")).replace("&", " and ").replace("+", " plus ")
    raw = [t for t in _SPLIT.split(text) if t]
    kept = [t for t in raw if t not in EDITION_WORDS and not _VERSION.match(t)]
    # A name made only of noise words (e.g. a tool called "Server") keeps its words.
    return kept or [t for t in raw if not _VERSION.match(t)] or raw


def normalize(name: str) -> str:
    """The resolution key of a name: ``"GitLab CI (self-managed) 16.4"`` → ``"gitlab ci"``."""
    return " ".join(tokens(name))


def strip_vendor(key: str, vendor_keys: Iterable[str]) -> str:
    """``key`` without a leading vendor name (``"siemens opcenter"`` → ``"opcenter"``); the
    longest matching vendor wins. Pass a set for speed: the cost is per token, not vendor."""
    vendors = vendor_keys if isinstance(vendor_keys, set | frozenset) else set(vendor_keys)
    words = key.split(" ")
    for n in range(min(len(words) - 1, 4), 0, -1):
        prefix = " ".join(words[:n])
        if prefix in vendors and len(key) > len(prefix) + 2:
            return key[len(prefix) + 1 :]
    return key


@dataclass(frozen=True)
class ToolEntry:
    """What the resolver knows of one registry tool."""

    id: int
    name: str
    vendor: str = ""
    aliases: tuple[str, ...] = ()


class Match(NamedTuple):
    """The outcome for one name: ``tool_id`` is None when unresolved."""

    name: str
    key: str
    tool_id: int | None
    confidence: float
    method: str  # exact | alias | fuzzy | ambiguous | none
    candidate_id: int | None = None  # the best guess of an unresolved name, for the queue


def _block_keys(key: str) -> set[str]:
    keys = set()
    for token in key.split():
        if len(token) >= 3:
            keys.add(token)
            keys.add("^" + token[:3])
            keys.add("$" + token[-3:])
        elif token:
            keys.add(token)
    return keys


def scores(query: str, choices: list[str]) -> np.ndarray:
    """0–100 per choice: the mean of plain and token-set similarity (robust to extra or
    missing words), computed natively by rapidfuzz for the whole candidate list."""
    plain = process.cdist([query], choices, scorer=fuzz.ratio, dtype=np.float32)[0]
    token_set = process.cdist([query], choices, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
    return 0.5 * plain + 0.5 * token_set


def _order(segment, score, index, n_segments: int) -> np.ndarray:
    """Positions ordered by segment, then best score first, then index: one sort of a
    packed 64-bit key (segment, the score's float32 bits reversed, index) when the sizes
    fit it, else a three-key ``lexsort``. Scores are non-negative float32, whose bit
    patterns order as the values do."""
    if n_segments < 1 << 12 and (len(index) == 0 or int(index.max()) < 1 << 20):
        bits = score.astype(np.float32).view(np.int32).astype(np.int64)
        reversed_bits = 0x7F7FFFFF - bits
        key = (segment.astype(np.int64) << 51) | (reversed_bits << 20) | index
        return np.argsort(key, kind="stable")
    return np.lexsort((index, -score, segment))


def _top(segment, score, index, n_segments: int, n: int) -> np.ndarray:
    """The positions of each segment's ``n`` best pairs (by :func:`_order`)."""
    order = _order(segment, score, index, n_segments)
    counts = np.bincount(segment, minlength=n_segments)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(order)) - starts[segment[order]]
    return order[rank < n]


class Resolver:
    """Resolves names against a fixed registry snapshot; build once, call many times."""

    def __init__(self, tools: Iterable[ToolEntry], *, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold
        self.exact: dict[str, set[int]] = defaultdict(set)
        self.alias: dict[str, set[int]] = defaultdict(set)
        self.vendor_keys: frozenset[str] = frozenset()
        self.keys: list[str] = []  # fuzzy choices
        self.key_tool: list[int] = []
        self.blocks: dict[str, list[int]] = defaultdict(list)
        self._key_array = self._tool_array = None  # numpy views of keys, built when batching
        self._bare_keys: dict[str, str] = {}
        vendors = set()
        for tool in tools:
            name_key = normalize(tool.name)
            vendor_key = normalize(tool.vendor) if tool.vendor else ""
            if vendor_key:
                vendors.add(vendor_key)
            self.exact[name_key].add(tool.id)
            self._add_choice(name_key, tool.id)
            if vendor_key:
                bare = strip_vendor(name_key, [vendor_key])
                if bare != name_key:
                    self.exact[bare].add(tool.id)
                    self._add_choice(bare, tool.id)
                else:
                    self.exact[f"{vendor_key} {name_key}"].add(tool.id)
            for alias in tool.aliases:
                alias_key = normalize(alias)
                self.alias[alias_key].add(tool.id)
                self._add_choice(alias_key, tool.id)
        self.vendor_keys = frozenset(vendors)

    def _add_choice(self, key: str, tool_id: int) -> None:
        if not key:
            return
        index = len(self.keys)
        self.keys.append(key)
        self.key_tool.append(tool_id)
        for block in _block_keys(key):
            self.blocks[block].append(index)

    def _exact(self, key: str) -> tuple[int | None, str]:
        for table, method in ((self.alias, "alias"), (self.exact, "exact")):
            ids = table.get(key)
            if ids and len(ids) == 1:
                return next(iter(ids)), method
        return None, ""

    def _shortcut(self, key: str, name: str = "") -> Match | None:
        """The match of an empty key or an exact one (with a vendor prefix stripped too)."""
        if not key:
            return Match(name, key, None, 0.0, "none")
        for candidate in (key, self._bare(key)):
            tool_id, method = self._exact(candidate)
            if tool_id is not None:
                return Match(name, key, tool_id, 1.0, method)
        return None

    def _bare(self, key: str) -> str:
        """``key`` without a known vendor prefix (remembered per key)."""
        bare = self._bare_keys.get(key)
        if bare is None:
            bare = self._bare_keys[key] = strip_vendor(key, self.vendor_keys)
        return bare

    def _decide(self, key: str, name: str, best_by_tool: dict[int, float]) -> Match:
        """The outcome from each candidate tool's best fuzzy score."""
        if not best_by_tool:
            return Match(name, key, None, 0.0, "none")
        ranked = sorted(best_by_tool.items(), key=lambda item: (-item[1], item[0]))
        top_id, top = ranked[0]
        if top < self.threshold:
            return Match(name, key, None, round(top, 4), "none", candidate_id=top_id)
        if len(ranked) > 1 and ranked[1][1] >= top - AMBIGUITY_MARGIN:
            return Match(name, key, None, round(top, 4), "ambiguous", candidate_id=top_id)
        return Match(name, key, top_id, round(top, 4), "fuzzy")

    def resolve_key(self, key: str, name: str = "") -> Match:
        """Resolve an already normalised key."""
        match = self._shortcut(key, name)
        if match is not None:
            return match
        best_by_tool: dict[int, float] = {}
        for query in {key, strip_vendor(key, self.vendor_keys)}:
            self._fuzzy(query, best_by_tool)
        return self._decide(key, name, best_by_tool)

    def _candidates(self, query: str) -> set[int]:
        """The choices sharing a block with ``query``."""
        indexes: set[int] = set()
        for block in _block_keys(query):
            indexes.update(self.blocks.get(block, ()))
        return indexes

    def _fuzzy_many(self, keys: list[str], names: dict[str, str]) -> dict[str, Match]:
        """Resolve many keys that had no exact match: every (query, candidate) pair of the
        batch is scored in one native call per scorer (on all cores) and each query's eight
        best choices are picked in one sort, then each key is decided exactly as
        :meth:`resolve_key` decides it."""
        segment_keys, queries, flat, lengths = [], [], [], []
        for key in keys:
            for query in {key, self._bare(key)}:
                ordered = self._candidates(query)
                segment_keys.append(key)
                queries.extend([query] * len(ordered))
                flat.extend(ordered)
                lengths.append(len(ordered))
        best: dict[str, dict[int, float]] = {key: {} for key in keys}
        if flat:
            if self._key_array is None or len(self._key_array) != len(self.keys):
                self._key_array = np.array(self.keys, dtype=object)
                self._tool_array = np.array(self.key_tool, dtype=np.int64)
            index = np.array(flat, dtype=np.int64)
            segment = np.repeat(np.arange(len(lengths)), lengths)
            choices = self._key_array[index].tolist()
            plain = process.cpdist(
                queries, choices, scorer=fuzz.ratio, dtype=np.float32, workers=-1
            )
            picked = self._needed(plain, segment, index, len(lengths))
            # Only the pairs scored in full can be among a query's eight best: every query
            # has its eight best by plain similarity among them, and a pair left out scores
            # half its plain similarity, no more than any of those (ties go to them too).
            at = picked.tolist()
            segment, index = segment[picked], index[picked]
            values = 0.5 * plain[picked]
            values += 0.5 * process.cpdist(
                [queries[i] for i in at], [choices[i] for i in at],
                scorer=fuzz.token_set_ratio, dtype=np.float32, workers=-1,
            )  # fmt: skip
            kept = _top(segment, values, index, len(lengths), 8)
            for seg, tool_id, value in zip(
                segment[kept].tolist(), self._tool_array[index[kept]].tolist(),
                values[kept].tolist(), strict=True,
            ):  # fmt: skip
                found = best[segment_keys[seg]]
                found[tool_id] = max(found.get(tool_id, 0.0), value / 100.0)
        return {key: self._decide(key, names[key], best[key]) for key in keys}

    def _needed(self, plain, segment, index, n_segments) -> np.ndarray:
        """The pairs (positions, ascending) whose score can matter, where the token-set
        scorer is run. The token-set similarity is at most 100, so a pair whose plain
        similarity is below ``floor`` scores under the threshold less the ambiguity margin:
        it can neither win nor make a winner ambiguous, and a name's outcome is the same as
        with every pair scored. Such pairs are scored in full only among each query's eight
        best by plain similarity (the best guess and confidence of a name left
        unresolved)."""
        floor = 200 * (self.threshold - AMBIGUITY_MARGIN) - 100 - 0.5  # float32 slack
        need = plain >= floor
        need[_top(segment, plain, index, n_segments, 8)] = True
        return np.flatnonzero(need)

    def _keep_best(self, values, ordered: list[int], best_by_tool: dict[int, float]) -> None:
        """Each tool's best score among the query's eight best choices."""
        for pos in np.argsort(-values, kind="stable")[:8]:
            tool_id = self.key_tool[ordered[pos]]
            best_by_tool[tool_id] = max(best_by_tool.get(tool_id, 0.0), float(values[pos]) / 100.0)

    def _fuzzy(self, query: str, best_by_tool: dict[int, float]) -> None:
        """Score ``query`` against the choices of its blocks; keep each tool's best score."""
        ordered = sorted(self._candidates(query))
        if ordered:
            self._keep_best(scores(query, [self.keys[i] for i in ordered]), ordered, best_by_tool)

    def resolve(self, name: str) -> Match:
        """Resolve one free-text name."""
        return self.resolve_key(normalize(name), name)

    def resolve_many(self, names: Iterable[str], keys: Iterable[str] | None = None) -> list[Match]:
        """Resolve many names (``keys``: their normalised forms, when already computed):
        each distinct name is normalised once, each distinct key resolved once — exact
        matches first, the rest scored in batches (:meth:`_fuzzy_many`)."""
        names = list(names)
        if keys is None:
            key_of: dict[str, str] = {}
            keys = [key_of.get(n) or key_of.setdefault(n, normalize(n)) for n in names]
        else:
            keys = list(keys)
        first_name: dict[str, str] = {}
        for name, key in zip(names, keys, strict=True):
            first_name.setdefault(key, name)
        found: dict[str, Match] = {}
        pending = []
        for key, name in first_name.items():
            match = self._shortcut(key, name)
            if match is None:
                pending.append(key)
            else:
                found[key] = match
        for start in range(0, len(pending), FUZZY_BATCH):
            found.update(self._fuzzy_many(pending[start : start + FUZZY_BATCH], first_name))
        out = []
        for name, key in zip(names, keys, strict=True):
            m = found[key]
            out.append(Match(name, key, m.tool_id, m.confidence, m.method, m.candidate_id))
        return out
