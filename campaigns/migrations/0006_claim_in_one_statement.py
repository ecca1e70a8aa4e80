"""The claim runs as one statement: a refused claim must undo the limit counters it
bumped, so the statement ends by calling ``campaigns_claim_verdict``, which raises
(SQLSTATE P0001, the refusal code as its message) when any guard said no, and
PostgreSQL rolls the whole statement back. A claim's batch id needs no index."""

from django.db import migrations, models

VERDICT = """
CREATE OR REPLACE FUNCTION campaigns_claim_verdict(
    limits_ok boolean, stock_ok boolean, budget_ok boolean
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT limits_ok THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'limit_reached';
    END IF;
    IF NOT stock_ok THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'out_of_stock';
    END IF;
    IF NOT budget_ok THEN
        RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'budget';
    END IF;
    RETURN true;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0005_idempotency_body_text")]

    operations = [
        migrations.AlterField(
            model_name="coupon",
            name="claim_ref",
            field=models.UUIDField(verbose_name="领取批次"),
        ),
        migrations.RunSQL(
            VERDICT,
            reverse_sql="DROP FUNCTION IF EXISTS campaigns_claim_verdict(boolean, boolean, boolean);",
        ),
    ]
