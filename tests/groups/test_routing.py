"""D3: customers land in the group pool of their own city, with a clear fallback."""

from __future__ import annotations

import pytest

from groups.models import Region, RoutingDecision
from groups.routing import haversine_km, routing_index
from groups.services import routing_decide
from scrm.core.errors import DomainError
from tests.factories import GroupPoolFactory, RegionFactory

pytestmark = pytest.mark.django_db

FUTIAN_SHENZHEN = (22.54, 114.05)
TIANFU_SQUARE_CHENGDU = (30.66, 104.07)
CENTRAL_STREET_HARBIN = (45.77, 126.62)
SOUTH_CHINA_SEA_FAR_OFFSHORE = (12.0, 125.0)


@pytest.mark.parametrize(
    ("point", "pool_key", "city_code"),
    [
        (FUTIAN_SHENZHEN, "shenzhen", "440300"),
        (TIANFU_SQUARE_CHENGDU, "chengdu", "510100"),
        (CENTRAL_STREET_HARBIN, "harbin", "230100"),
    ],
)
def test_a_customer_located_in_the_city_lands_in_that_citys_pool(
    local_pools, point, pool_key, city_code
):
    decision = routing_decide(lat=point[0], lng=point[1])
    assert decision.pool.id == local_pools[pool_key].id
    assert decision.fallback == RoutingDecision.Fallback.NEAREST
    assert decision.matched_region.code == city_code
    assert decision.distance_km < 20


def test_a_point_far_offshore_falls_back_to_the_default_pool_and_says_so(local_pools):
    decision = routing_decide(
        lat=SOUTH_CHINA_SEA_FAR_OFFSHORE[0], lng=SOUTH_CHINA_SEA_FAR_OFFSHORE[1]
    )
    assert decision.pool.id == local_pools["default"].id
    assert decision.fallback == RoutingDecision.Fallback.DEFAULT
    assert decision.matched_region is None
    row = RoutingDecision.objects.get(id=decision.decision_id)
    assert row.fallback == "default" and row.matched_region is None


def test_a_city_without_a_pool_walks_up_to_its_provinces_pool(local_pools, regions):
    province_pool = GroupPoolFactory(name="四川省福利群", region=regions["510000"])
    mianyang = (31.47, 104.68)
    decision = routing_decide(lat=mianyang[0], lng=mianyang[1])
    assert decision.matched_region.code == "510700"
    assert decision.pool.id == province_pool.id
    assert decision.pool_region.code == "510000"
    assert decision.fallback == RoutingDecision.Fallback.PARENT


def test_a_branch_area_with_its_own_pool_beats_its_city(local_pools, regions):
    gaoxin = RegionFactory(
        code="510100-GX",
        name="高新区片区",
        level=Region.Level.DISTRICT,
        parent=regions["510100"],
        latitude=30.58,
        longitude=104.06,
    )
    gaoxin_pool = GroupPoolFactory(name="高新福利群", region=gaoxin)
    near_gaoxin = routing_decide(lat=30.57, lng=104.05)
    assert near_gaoxin.pool.id == gaoxin_pool.id
    # Closer to the city centre than to the branch area: the city's pool.
    near_centre = routing_decide(lat=30.66, lng=104.07)
    assert near_centre.pool.id == local_pools["chengdu"].id


def test_a_city_with_no_pool_up_its_chain_gets_the_default_pool(local_pools):
    lhasa = (29.65, 91.13)
    decision = routing_decide(lat=lhasa[0], lng=lhasa[1])
    assert decision.matched_region.code == "540100"
    assert decision.pool.id == local_pools["default"].id
    assert decision.fallback == RoutingDecision.Fallback.DEFAULT


def test_without_any_default_pool_the_visitor_is_told_there_is_no_group(regions):
    decision = routing_decide(lat=12.0, lng=125.0)
    assert decision.pool is None
    assert decision.fallback == RoutingDecision.Fallback.NONE
    assert decision.outcome == RoutingDecision.Outcome.NO_POOL


def test_an_inactive_pool_or_region_is_skipped(local_pools, regions):
    local_pools["shenzhen"].is_active = False
    local_pools["shenzhen"].save()
    decision = routing_decide(lat=FUTIAN_SHENZHEN[0], lng=FUTIAN_SHENZHEN[1])
    assert decision.pool.id == local_pools["default"].id

    region = regions["510100"]
    region.is_active = False
    region.save()
    decision = routing_decide(lat=TIANFU_SQUARE_CHENGDU[0], lng=TIANFU_SQUARE_CHENGDU[1])
    assert decision.matched_region.code != "510100"
    assert decision.pool.id != local_pools["chengdu"].id


def test_maximum_distance_is_configurable(local_pools, settings):
    # The nearest centre (Ziyang) is about 30 km away: out of reach at 20 km.
    settings.GROUP_ROUTING_MAX_KM = 20
    decision = routing_decide(lat=30.2, lng=104.3)
    assert decision.fallback == RoutingDecision.Fallback.DEFAULT
    assert decision.matched_region is None


def test_a_refused_location_routes_through_the_picked_city(local_pools):
    decision = routing_decide(region_code="440300")
    assert decision.pool.id == local_pools["shenzhen"].id
    assert decision.source == RoutingDecision.Source.PICKER
    row = RoutingDecision.objects.get(id=decision.decision_id)
    assert row.requested_region.code == "440300"
    assert row.latitude is None and row.longitude is None


def test_a_picked_city_without_a_pool_falls_back_like_a_located_one(local_pools):
    decision = routing_decide(region_code="440100")  # Guangzhou: no pool, no Guangdong pool
    assert decision.pool.id == local_pools["default"].id
    assert decision.fallback == RoutingDecision.Fallback.DEFAULT
    assert decision.matched_region.code == "440100"


def test_an_unknown_picked_region_is_a_domain_error(local_pools):
    with pytest.raises(DomainError) as err:
        routing_decide(region_code="999999")
    assert err.value.code == "region_unknown"


def test_recorded_coordinates_are_rounded_to_about_a_kilometre(local_pools):
    decision = routing_decide(lat=30.657412, lng=104.065837)
    row = RoutingDecision.objects.get(id=decision.decision_id)
    assert str(row.latitude) == "30.66"
    assert str(row.longitude) == "104.07"


def test_a_new_pool_is_routed_to_at_once(local_pools, regions):
    guangzhou = (23.13, 113.26)
    assert routing_decide(lat=guangzhou[0], lng=guangzhou[1]).fallback == "default"
    pool = GroupPoolFactory(name="广州福利群", region=regions["440100"])
    assert routing_decide(lat=guangzhou[0], lng=guangzhou[1]).pool.id == pool.id


def test_the_index_is_reused_until_regions_or_pools_change(local_pools, regions):
    first = routing_index()
    assert routing_index() is first
    regions["440300"].name = "深圳"
    regions["440300"].save()
    assert routing_index() is not first


def test_grid_search_agrees_with_a_full_scan(local_pools, regions):
    """The coarse grid prefilter never misses the true nearest centre."""
    import random

    index = routing_index()
    nodes = [n for cell in index.grid.values() for n in cell]
    rng = random.Random(5)
    for _ in range(300):
        lat, lng = rng.uniform(18, 53), rng.uniform(74, 134)
        hit = index.nearest(lat, lng, 120)
        scan = min(((n, haversine_km(lat, lng, n.lat, n.lng)) for n in nodes), key=lambda x: x[1])
        if scan[1] <= 120:
            assert hit is not None and hit[0].id == scan[0].id
        else:
            assert hit is None


class _DownCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("redis is down")

        return fail


def test_routing_and_region_edits_keep_working_while_the_cache_is_down(
    local_pools, regions, monkeypatch
):
    import groups.routing as routing

    routing_index()
    monkeypatch.setattr(routing, "cache", _DownCache())
    decision = routing_decide(lat=FUTIAN_SHENZHEN[0], lng=FUTIAN_SHENZHEN[1])
    assert decision.pool.id == local_pools["shenzhen"].id
    regions["440300"].name = "深圳"
    regions["440300"].save()  # does not fail
    assert routing_decide(region_code="440300").matched_region.name == "深圳"


def test_an_old_index_is_rebuilt_even_if_no_change_was_announced(local_pools, monkeypatch):
    import groups.routing as routing

    first = routing_index()
    monkeypatch.setattr(routing, "INDEX_MAX_AGE_S", 0.0)
    assert routing_index() is not first
