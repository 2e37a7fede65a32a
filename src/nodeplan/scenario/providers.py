"""Which hosting provider an ASN or an organisation string belongs to.

The mapping ships as ``data/providers.csv`` (columns ``kind,key,provider,category,note``): ``asn`` rows
map an AS number to a canonical provider name (``aws``, ``google-cloud``, ``hetzner``, ...);
``org-pattern`` rows map a case-insensitive regular expression, searched in an org/ISP string, to one.
The AS number is tried first, the org patterns second (in file order). When neither matches the answer is
``None``: the provider is *unknown*, never guessed.

>>> derive_provider(16509, None)
'aws'
>>> derive_provider(None, "AWS EC2 (us-east-1)")
'aws'
>>> derive_provider(24940, "Agile Ventures s.r.o")  # a Hetzner customer: the ASN wins
'hetzner'
>>> derive_provider(64512, "Some Private Network") is None
True
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from nodeplan.exceptions import DataImportError

__all__ = [
    "PROVIDER_CATEGORIES",
    "ProviderMap",
    "default_provider_map",
    "derive_provider",
    "derive_providers",
    "load_provider_map",
    "provider_category",
    "provider_of_asn",
]

#: Allowed values of the ``category`` column: what kind of dependency the provider is.
PROVIDER_CATEGORIES: tuple[str, ...] = (
    "cloud",
    "hosting",
    "colocation",
    "transit",
    "isp",
    "operator-network",
)

_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True)
class ProviderMap:
    """An ASN table plus ordered org patterns; see the module docstring for the lookup order.

    Attributes
    ----------
    asn_to_provider
        AS number -> canonical provider name.
    patterns
        ``(compiled case-insensitive regex, provider)`` in the order they are tried.
    categories
        provider -> category (one of :data:`PROVIDER_CATEGORIES`).
    """

    asn_to_provider: Mapping[int, str]
    patterns: tuple[tuple[re.Pattern[str], str], ...]
    categories: Mapping[str, str]
    _org_cache: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    def of_asn(self, asn: int | None) -> str | None:
        """Provider of AS number ``asn`` or ``None`` (also for ``None`` and AS0, "no ASN")."""
        if asn is None or asn == 0:
            return None
        return self.asn_to_provider.get(int(asn))

    def of_org(self, org: str | None) -> str | None:
        """Provider whose pattern first matches ``org`` (case-insensitive) or ``None``."""
        if not org:
            return None
        cached = self._org_cache.get(org, _MISS)
        if cached is not _MISS:
            return cached  # type: ignore[return-value]
        found = next((prov for pat, prov in self.patterns if pat.search(org)), None)
        self._org_cache[org] = found
        return found

    def derive(self, asn: int | None, org: str | None) -> str | None:
        """Provider from the ASN, else from the org string, else ``None``."""
        return self.of_asn(asn) or self.of_org(org)

    def derive_many(
        self, asns: Sequence[int | None], orgs: Sequence[str | None] | None = None
    ) -> list[str | None]:
        """:meth:`derive` over aligned sequences; each distinct org string is matched once."""
        if orgs is None:
            orgs = [None] * len(asns)
        if len(orgs) != len(asns):
            raise DataImportError(
                f"providers: {len(asns)} ASNs but {len(orgs)} org strings; give one per node"
            )
        table = self.asn_to_provider
        out: list[str | None] = []
        for asn, org in zip(asns, orgs, strict=True):
            prov = table.get(asn) if asn else None
            out.append(prov if prov is not None else self.of_org(org))
        return out


_MISS = object()


def _parse_rows(rows: Iterable[list[str]], origin: str) -> ProviderMap:
    asn_map: dict[int, str] = {}
    patterns: list[tuple[re.Pattern[str], str]] = []
    categories: dict[str, str] = {}
    header: list[str] | None = None
    for lineno, row in enumerate(rows, start=1):
        if not row or row[0].startswith("#"):
            continue
        if header is None:
            header = [c.strip() for c in row]
            missing = [c for c in ("kind", "key", "provider", "category") if c not in header]
            if missing:
                raise DataImportError(f"{origin}: line {lineno}: missing column {missing[0]!r}")
            idx = {c: header.index(c) for c in ("kind", "key", "provider", "category")}
            continue
        if len(row) < len(header):
            raise DataImportError(f"{origin}: line {lineno}: expected {len(header)} fields, got {len(row)}")
        kind, key, prov, cat = (row[idx[c]].strip() for c in ("kind", "key", "provider", "category"))
        if not _PROVIDER_NAME.match(prov):
            raise DataImportError(f"{origin}: line {lineno}: column 'provider': bad provider name {prov!r}")
        if cat not in PROVIDER_CATEGORIES:
            raise DataImportError(
                f"{origin}: line {lineno}: column 'category': {cat!r} is not one of {', '.join(PROVIDER_CATEGORIES)}"
            )
        if categories.setdefault(prov, cat) != cat:
            raise DataImportError(
                f"{origin}: line {lineno}: provider {prov!r} has category {cat!r} here but {categories[prov]!r} before"
            )
        if kind == "asn":
            try:
                asn = int(key.upper().removeprefix("AS"))
            except ValueError:
                raise DataImportError(
                    f"{origin}: line {lineno}: column 'key': bad AS number {key!r}"
                ) from None
            if asn in asn_map:
                raise DataImportError(f"{origin}: line {lineno}: AS{asn} is listed twice")
            asn_map[asn] = prov
        elif kind == "org-pattern":
            try:
                patterns.append((re.compile(key, re.IGNORECASE), prov))
            except re.error as exc:
                raise DataImportError(
                    f"{origin}: line {lineno}: column 'key': bad pattern {key!r}: {exc}"
                ) from None
        else:
            raise DataImportError(
                f"{origin}: line {lineno}: column 'kind': {kind!r} is not 'asn' or 'org-pattern'"
            )
    if header is None:
        raise DataImportError(f"{origin}: empty provider mapping")
    return ProviderMap(asn_to_provider=asn_map, patterns=tuple(patterns), categories=categories)


def load_provider_map(path: str | Path) -> ProviderMap:
    """Read a provider mapping CSV in the format of the shipped ``providers.csv``.

    Raises
    ------
    DataImportError
        One line naming the file, line and bad value.
    """
    p = Path(path)
    try:
        with p.open(encoding="utf-8", newline="") as fh:
            return _parse_rows(csv.reader(fh), str(p))
    except OSError as exc:
        raise DataImportError(f"providers: cannot read {p}: {exc.strerror or exc}") from None


@lru_cache(maxsize=1)
def default_provider_map() -> ProviderMap:
    """The mapping shipped with the package (read once, on first use)."""
    text = resources.files("nodeplan.scenario").joinpath("data", "providers.csv").read_text(encoding="utf-8")
    return _parse_rows(csv.reader(text.splitlines()), "providers.csv")


def derive_provider(asn: int | None, org: str | None, mapping: ProviderMap | None = None) -> str | None:
    """Canonical provider of a node from its AS number, else its org/ISP string; ``None`` when unknown.

    Parameters
    ----------
    asn
        AS number (``None`` or 0 = unknown).
    org
        Organisation or ISP name as a geolocation database reports it.
    mapping
        Defaults to :func:`default_provider_map`.
    """
    return (mapping or default_provider_map()).derive(asn, org)


def derive_providers(
    asns: Sequence[int | None], orgs: Sequence[str | None] | None = None, mapping: ProviderMap | None = None
) -> list[str | None]:
    """Batch form of :func:`derive_provider` over aligned sequences (one entry per node).

    >>> derive_providers([20326, 396356, None, 0], [None, None, "Hetzner Online GmbH", "Google Fiber Inc"])
    ['teraswitch', 'latitude-sh', 'hetzner', None]
    """
    return (mapping or default_provider_map()).derive_many(asns, orgs)


def provider_of_asn(asn: int | None, mapping: ProviderMap | None = None) -> str | None:
    """Provider of one AS number from the ASN table only (no org fallback); ``None`` when not listed.

    >>> provider_of_asn(14618), provider_of_asn(7922), provider_of_asn(1)
    ('aws', 'comcast', None)
    """
    return (mapping or default_provider_map()).of_asn(asn)


def provider_category(provider: str | None, mapping: ProviderMap | None = None) -> str | None:
    """Category (cloud, hosting, colocation, transit, isp, operator-network) of a canonical provider name.

    >>> provider_category("hetzner"), provider_category("comcast"), provider_category("nope")
    ('hosting', 'isp', None)
    """
    if provider is None:
        return None
    return (mapping or default_provider_map()).categories.get(provider)
