"""Location routing (D3): which pool serves a point or a picked region.

The rule:
1. Find the nearest active city/district centre within ``GROUP_ROUTING_MAX_KM``
   (default 80 km) of the point.
2. If that region has an active pool, use it (``nearest``); else walk up its
   parents and use the first one with an active pool (``parent``).
3. If nothing is within range, or no region up the chain has a pool, use the
   default pool (``default``); without a default pool there is nothing to show
   (``none``).
A region picked by hand (location refused) starts at step 2.

Routing reads an in-process index (regions on a coarse 1° grid, pools per
region), rebuilt when the version counter in the shared cache moves. Every
write to a region or pool bumps the counter (see ``groups.apps``), so all web
processes pick up admin edits on their next request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from .models import GroupPool, Region

logger = logging.getLogger(__name__)

VERSION_KEY = "groups:routing:version"
# Even without a version change (the cache was unreachable when someone bumped
# it), no process serves an index older than this.
INDEX_MAX_AGE_S = 300.0
EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LAT = 111.2
CELL_DEGREES = 1.0
DEFAULT_MAX_KM = 80.0

# Levels a point can land on; provinces are only reached by walking up.
_ROUTABLE_LEVELS = (Region.Level.CITY, Region.Level.DISTRICT)


def max_distance_km() -> float:
    return float(getattr(settings, "GROUP_ROUTING_MAX_KM", DEFAULT_MAX_KM))


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class RegionNode:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    lat: float | None
    lng: float | None


@dataclass(frozen=True, slots=True)
class PoolInfo:
    id: int
    name: str
    qr_code: str
    verified_only: bool
    owner_id: int | None
    region_id: int | None


@dataclass(frozen=True, slots=True)
class Route:
    """Where routing landed, before any gatekeeping."""

    fallback: str
    pool: PoolInfo | None
    matched_region: RegionNode | None = None
    pool_region: RegionNode | None = None
    distance_km: float | None = None


@dataclass
class RoutingIndex:
    version: object
    built_at: float = field(default_factory=time.monotonic)
    regions: dict[int, RegionNode] = field(default_factory=dict)
    by_code: dict[str, RegionNode] = field(default_factory=dict)
    grid: dict[tuple[int, int], list[RegionNode]] = field(default_factory=dict)
    pool_by_region: dict[int, PoolInfo] = field(default_factory=dict)
    default_pool: PoolInfo | None = None

    @classmethod
    def build(cls, version: object) -> RoutingIndex:
        index = cls(version=version)
        grid: dict[tuple[int, int], list[RegionNode]] = defaultdict(list)
        rows = Region.objects.filter(is_active=True).values_list(
            "id", "code", "name", "level", "parent_id", "latitude", "longitude"
        )
        for row in rows:
            node = RegionNode(*row)
            index.regions[node.id] = node
            index.by_code[node.code] = node
            if node.level in _ROUTABLE_LEVELS and node.lat is not None and node.lng is not None:
                grid[_cell(node.lat, node.lng)].append(node)
        index.grid = dict(grid)
        pools = GroupPool.objects.filter(is_active=True).order_by("id")
        for p in pools.values_list(
            "id", "name", "qr_code", "verified_only", "owner_id", "region_id", "is_default"
        ):
            info = PoolInfo(*p[:6])
            if p[6] and index.default_pool is None:
                index.default_pool = info
            # The oldest active pool of a region serves it; later ones wait as spares.
            if info.region_id is not None:
                index.pool_by_region.setdefault(info.region_id, info)
        return index

    def nearest(self, lat: float, lng: float, max_km: float) -> tuple[RegionNode, float] | None:
        """Nearest routable centre within ``max_km``, scanning only nearby grid cells."""
        dlat = max_km / KM_PER_DEGREE_LAT
        cos_lat = max(math.cos(math.radians(min(abs(lat) + dlat, 89.0))), 0.01)
        dlng = min(max_km / (KM_PER_DEGREE_LAT * cos_lat), 180.0)
        best: tuple[RegionNode, float] | None = None
        for i in range(_floor(lat - dlat), _floor(lat + dlat) + 1):
            for j in range(_floor(lng - dlng), _floor(lng + dlng) + 1):
                for node in self.grid.get((i, j), ()):
                    d = haversine_km(lat, lng, node.lat, node.lng)
                    if d <= max_km and (best is None or d < best[1]):
                        best = (node, d)
        return best

    def pool_up_from(self, region: RegionNode) -> tuple[PoolInfo, RegionNode] | None:
        node: RegionNode | None = region
        seen: set[int] = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            pool = self.pool_by_region.get(node.id)
            if pool is not None:
                return pool, node
            node = self.regions.get(node.parent_id) if node.parent_id else None
        return None

    def route_region(self, region: RegionNode, distance_km: float | None = None) -> Route:
        found = self.pool_up_from(region)
        if found is not None:
            pool, pool_region = found
            fallback = "nearest" if pool_region.id == region.id else "parent"
            return Route(fallback, pool, region, pool_region, distance_km)
        return self._default(region, distance_km)

    def route_point(self, lat: float, lng: float, max_km: float | None = None) -> Route:
        hit = self.nearest(lat, lng, max_distance_km() if max_km is None else max_km)
        if hit is None:
            return self._default(None, None)
        region, distance = hit
        return self.route_region(region, distance)

    def _default(self, region: RegionNode | None, distance_km: float | None) -> Route:
        if self.default_pool is None:
            return Route("none", None, region, None, distance_km)
        pool_region = self.regions.get(self.default_pool.region_id or 0)
        return Route("default", self.default_pool, region, pool_region, distance_km)

    def provinces_with_cities(self) -> list[dict]:
        """The picker's data: provinces, each with its active cities, by code."""
        cities: dict[int, list[RegionNode]] = defaultdict(list)
        for node in self.regions.values():
            if node.level == Region.Level.CITY and node.parent_id:
                cities[node.parent_id].append(node)
        provinces = sorted(
            (n for n in self.regions.values() if n.level == Region.Level.PROVINCE),
            key=lambda n: n.code,
        )
        return [
            {
                "code": p.code,
                "name": p.name,
                "cities": [
                    {"code": c.code, "name": c.name}
                    for c in sorted(cities.get(p.id, []), key=lambda n: n.code)
                ],
            }
            for p in provinces
            if cities.get(p.id)
        ]


def _floor(value: float) -> int:
    return math.floor(value / CELL_DEGREES)


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return (_floor(lat), _floor(lng))


_lock = threading.Lock()
_index: RoutingIndex | None = None


def _current_version() -> object:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            # A fresh (or flushed) cache: start from a value no process has seen.
            cache.add(VERSION_KEY, time.time_ns(), timeout=None)
            version = cache.get(VERSION_KEY)
        return version
    except Exception:  # the cache is down: keep routing on what this process has
        logger.warning("routing index version unavailable", exc_info=True)
        return _index.version if _index is not None else None


def _fresh(index: RoutingIndex | None, version: object) -> bool:
    return (
        index is not None
        and index.version == version
        and time.monotonic() - index.built_at < INDEX_MAX_AGE_S
    )


def routing_index() -> RoutingIndex:
    """This process's index, rebuilt when the shared version has moved."""
    global _index
    version = _current_version()
    index = _index
    if _fresh(index, version):
        return index
    with _lock:
        if not _fresh(_index, version):
            _index = RoutingIndex.build(version)
        return _index


def _bump() -> None:
    try:
        try:
            cache.incr(VERSION_KEY)
        except ValueError:
            cache.add(VERSION_KEY, time.time_ns(), timeout=None)
    except Exception:  # a region edit must not fail because the cache is down
        logger.warning("routing index version not bumped", exc_info=True)


def routing_index_invalidate() -> None:
    """Call after changing regions or pools outside the ORM's save/delete.

    Bumps now (this process and anyone reading the open transaction) and again
    on commit, so no process keeps an index built from uncommitted rows.
    """
    global _index
    _index = None
    _bump()
    transaction.on_commit(_bump)
