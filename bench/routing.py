"""Benchmark: routing a visitor to their local pool (D3), in process.

Runs alone: ``.venv/bin/python bench/routing.py``. Uses DATABASE_URL/REDIS_URL
when set, else starts the embedded PostgreSQL/Redis; creates a throwaway
database, loads the shipped regions plus synthetic branch areas around every
city (3,000 regions in all), then times ``groups.services.routing_decide``
calls, each including the write of its RoutingDecision row. Prints figures;
the last line is one JSON object with ``requests_per_s`` and ``p99_ms``.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import bench_database, percentile  # noqa: E402

BENCH_DB = "scrm_bench_routing"
TOTAL_REGIONS = 3000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "5000"))
WARMUP = 300


def _offset(lat: float, lng: float, km: float, rng: random.Random) -> tuple[float, float]:
    """A point up to ``km`` away in a random direction."""
    distance = km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = distance * math.cos(bearing) / 111.2
    dlng = distance * math.sin(bearing) / (111.2 * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


def _seed(rng: random.Random) -> list[tuple[float, float]]:
    """Shipped regions, synthetic branch areas up to 3,000 regions, pools; return city centres."""
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from contacts.models import Customer
    from groups.models import GroupPool, Region
    from groups.routing import routing_index_invalidate

    call_command("load_regions", stdout=StringIO())
    cities = list(Region.objects.filter(level=Region.Level.CITY))
    missing = TOTAL_REGIONS - Region.objects.count()
    districts = []
    for i in range(missing):
        city = cities[i % len(cities)]
        lat, lng = _offset(city.latitude, city.longitude, 30, rng)
        districts.append(
            Region(
                code=f"{city.code}-B{i // len(cities) + 1:02d}",
                name=f"{city.name}片区{i // len(cities) + 1}",
                level=Region.Level.DISTRICT,
                parent=city,
                latitude=round(lat, 4),
                longitude=round(lng, 4),
            )
        )
    Region.objects.bulk_create(districts, batch_size=1000)
    pools = [
        GroupPool(name=f"{c.name}福利群", region=c, qr_code=f"https://qr.example/{c.code}.png")
        for c in cities
    ]
    # Half the branch areas have their own pool; some pools are for verified customers only.
    pools += [
        GroupPool(
            name=f"{d.name}福利群",
            region=d,
            verified_only=n % 3 == 0,
            qr_code=f"https://qr.example/{d.code}.png",
        )
        for n, d in enumerate(Region.objects.filter(level=Region.Level.DISTRICT))
        if n % 2 == 0
    ]
    pools.append(
        GroupPool(name="全国福利群", is_default=True, qr_code="https://qr.example/all.png")
    )
    GroupPool.objects.bulk_create(pools, batch_size=1000)
    Customer.objects.bulk_create(
        [
            Customer(
                external_userid=f"wmBENCH{i:05d}", verified_at=timezone.now() if i % 2 else None
            )
            for i in range(1000)
        ]
    )
    routing_index_invalidate()
    return [(c.latitude, c.longitude) for c in cities]


def _requests(rng: random.Random, centres: list[tuple[float, float]], n: int) -> list[dict]:
    from contacts.links import join_token_make

    tokens = [join_token_make(external_userid=f"wmBENCH{i:05d}") for i in range(0, 1000, 7)]
    codes = ["440300", "510100", "230100", "110100", "310100", "440000", "540100"]
    out = []
    for _ in range(n):
        roll = rng.random()
        req: dict = {}
        if roll < 0.80:
            lat, lng = _offset(*rng.choice(centres), 60, rng)
            req = {"lat": lat, "lng": lng}
        elif roll < 0.88:
            req = {"lat": rng.uniform(18, 53), "lng": rng.uniform(74, 134)}
        elif roll < 0.93:
            req = {"lat": rng.uniform(5, 15), "lng": rng.uniform(125, 140)}  # far offshore
        else:
            req = {"region_code": rng.choice(codes)}
        if rng.random() < 0.3:
            req["token"] = rng.choice(tokens)
        out.append(req)
    return out


def _run() -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    from groups.models import Region, RoutingDecision
    from groups.routing import routing_index
    from groups.services import routing_decide

    rng = random.Random(2026)
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    centres = _seed(rng)
    print(f"seeded {Region.objects.count()} regions in {time.perf_counter() - t0:.1f}s", flush=True)

    t0 = time.perf_counter()
    index = routing_index()
    print(
        f"index built in {(time.perf_counter() - t0) * 1000:.1f} ms "
        f"({sum(len(c) for c in index.grid.values())} routable centres, "
        f"{len(index.grid)} grid cells)",
        flush=True,
    )

    for req in _requests(rng, centres, WARMUP):
        routing_decide(**req)
    work = _requests(rng, centres, REQUESTS)
    timings = []
    fallbacks: dict[str, int] = {}
    started = time.perf_counter()
    for req in work:
        t = time.perf_counter()
        decision = routing_decide(**req)
        timings.append((time.perf_counter() - t) * 1000)
        fallbacks[decision.fallback] = fallbacks.get(decision.fallback, 0) + 1
    elapsed = time.perf_counter() - started
    timings.sort()
    p50 = statistics.median(timings)
    p99 = percentile(timings, 0.99)
    recorded = RoutingDecision.objects.count()
    print(
        f"{REQUESTS} routing decisions (with the decision row written) in {elapsed:.2f}s",
        flush=True,
    )
    print(f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {timings[-1]:.2f} ms", flush=True)
    print(f"fallbacks: {fallbacks}; decisions recorded: {recorded}", flush=True)
    return {
        "regions": TOTAL_REGIONS,
        "requests": REQUESTS,
        "requests_per_s": round(REQUESTS / elapsed, 1),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
    }


def main() -> int:
    with bench_database(BENCH_DB):
        result = _run()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
