"""Lead activation benchmark: the ranked outreach list over a large bank and event table.

Creates a throwaway database and migrates it; seeds (set-based SQL) 20 branches with 10
managers each, ``--records`` bank records (a birthday, an AUM bracket, a branch), one
in ten of them someone's WeCom friend (a customer with an active follow relation), and
``--events`` bank-side events over 120 days (app_login, product_viewed, coupon_claimed,
fund_purchased, material_opened) on random records. Then times ``leads_ranked`` (the
whole list, cold and warm, and one branch's tier), writing the ranked snapshot
(``leads_refresh``), reading one page of it as the ops page does, and the daily
``leads_assign`` (recompute, then cap 10 a manager: up to 2,000 leads handed out,
each with its task).

    .venv/bin/python bench/leads_ranking.py [--records 1000000] [--events 2000000]

Last line: one JSON object (rank_s, rank_warm_s, rank_branch_tier_s, refresh_s, page_s,
assign_s, leads, assigned, and the sizes).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from _support import bench_database  # noqa: E402

BENCH_DB = "scrm_bench_leads"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args()
    with bench_database(BENCH_DB, redis_db=10):
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.dev")
        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        from tagging.leads.selectors import leads_ranked, snapshot_page
        from tagging.leads.services import leads_assign, leads_refresh

        t0 = time.perf_counter()
        with connection.cursor() as cur:
            cur.execute(
                "INSERT INTO contacts_branch (code, name) SELECT 'B' || g, '第' || g || '支行' "
                "FROM generate_series(1, 20) g"
            )
            cur.execute(
                "INSERT INTO contacts_staff (userid, name, branch_id, position, status, "
                "is_follow_user, created_at, updated_at) "
                "SELECT 'mgr' || g, '经理' || g, (SELECT id FROM contacts_branch "
                "WHERE code = 'B' || (1 + g % 20)), '', 'active', true, now(), now() "
                "FROM generate_series(1, 200) g"
            )
            cur.execute(
                """
                INSERT INTO contacts_bankrecord (customer_no, name, phone, phone_hash, id_number,
                    birthday, branch_code, branch_id, has_debit_card, has_credit_card,
                    has_other_bank_card, ring, aum_bracket, product_name, imported_at, updated_at)
                SELECT 'C' || lpad(g::text, 9, '0'), '客户' || g, '', '', '',
                       date '1960-01-01' + (g %% 15000), '',
                       (SELECT min(id) FROM contacts_branch) + g %% 20, false, false, false,
                       'outer', (ARRAY['', 'lt50k', '50k_500k', '500k_6m', 'gte6m'])[1 + g %% 5],
                       '', now(), now()
                  FROM generate_series(1, %s) g
                """,
                [args.records],
            )
            cur.execute("SELECT min(id), max(id) FROM contacts_bankrecord")
            lo, hi = cur.fetchone()
            cur.execute(
                """
                INSERT INTO contacts_customer (external_userid, name, avatar, type, gender,
                    unionid, corp_name, corp_full_name, status, ring, first_state,
                    verify_method, bank_record_id, marketing_opt_out, created_at, updated_at)
                SELECT 'wm' || r.id, '', '', 1, 0, '', '', '', 'active', 'outer', '', '',
                       r.id, false, now(), now()
                  FROM contacts_bankrecord r WHERE r.id % 10 = 0
                """
            )
            cur.execute(
                """
                INSERT INTO contacts_followrelation (customer_id, staff_id, status, remark,
                    description, remark_corp_name, add_way, state, oper_userid, remark_mobiles,
                    remark_mobile_hashes, updated_at)
                SELECT c.id, (SELECT min(id) FROM contacts_staff), 'active', '', '', '', 0, '',
                       '', '', '{}', now()
                  FROM contacts_customer c
                """
            )
            cur.execute(
                """
                INSERT INTO behaviour_event (source, event_id, bank_record_id, type, properties,
                    occurred_at, received_at)
                SELECT 'api', 'e' || g, %(lo)s + abs(hashtext(g::text)) %% %(span)s,
                       (ARRAY['app_login', 'product_viewed', 'coupon_claimed', 'fund_purchased',
                              'material_opened'])[1 + g %% 5],
                       '{}', now() - make_interval(secs => (g::bigint * 7919) %% (120 * 86400)),
                       now()
                  FROM generate_series(1, %(n)s) g
                """,
                {"lo": lo, "span": hi - lo + 1, "n": args.events},
            )
            cur.execute("ANALYZE")
        seed_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        leads = leads_ranked()
        rank_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        leads_ranked()
        rank_warm_s = time.perf_counter() - t0
        branch = leads[0].branch_id if leads else None
        t0 = time.perf_counter()
        leads_ranked(branch_id=branch, tier=2, limit=50)
        rank_branch_tier_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        snapshot = leads_refresh()
        refresh_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        from django.core.paginator import Paginator

        page = Paginator(snapshot_page(tier=2, branch_id=branch), 50).get_page(3)
        rows = [(r.position, r.bank_record.customer_no) for r in page]
        page_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = leads_assign()
        assign_s = time.perf_counter() - t0
        tiers = {t: sum(1 for lead in leads if lead.tier == t) for t in (1, 2, 3, 4)}
        figures = {
            "records": args.records,
            "events": args.events,
            "seed_s": round(seed_s, 1),
            "leads": len(leads),
            "tiers": tiers,
            "rank_s": round(rank_s, 2),
            "rank_warm_s": round(rank_warm_s, 2),
            "rank_branch_tier_s": round(rank_branch_tier_s, 2),
            "refresh_s": round(refresh_s, 2),
            "snapshot": snapshot,
            "page_s": round(page_s, 3),
            "page_rows": len(rows),
            "assign_s": round(assign_s, 2),
            "assigned": report.assigned,
        }
        print(
            f"{args.records:,} records, {args.events:,} events: {len(leads):,} leads {tiers}; "
            f"ranked in {rank_s:.2f}s (warm {rank_warm_s:.2f}s, one branch's tier "
            f"{rank_branch_tier_s:.2f}s); snapshot of {snapshot:,} written in {refresh_s:.2f}s, a "
            f"page of it read in {page_s * 1000:.0f} ms; {report.assigned:,} handed out (with "
            f"the day's recomputation) in {assign_s:.2f}s"
        )
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
