"""Coupons keep their campaign and template without foreign-key constraints (each
claim would check and share-lock the two hottest rows); a trigger refuses instead to
delete a campaign or template that still has coupons, the one way the reference could
break."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0008_coupon_fewer_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql="""
CREATE FUNCTION campaigns_coupon_parent_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM campaigns_coupon c
        WHERE (TG_TABLE_NAME = 'campaigns_campaign' AND c.campaign_id = OLD.id)
           OR (TG_TABLE_NAME = 'campaigns_coupontemplate' AND c.template_id = OLD.id)
    ) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'foreign_key_violation',
            MESSAGE = format('%s %s still has coupons', TG_TABLE_NAME, OLD.id);
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER campaigns_campaign_keeps_coupons BEFORE DELETE ON campaigns_campaign
    FOR EACH ROW EXECUTE FUNCTION campaigns_coupon_parent_guard();
CREATE TRIGGER campaigns_template_keeps_coupons BEFORE DELETE ON campaigns_coupontemplate
    FOR EACH ROW EXECUTE FUNCTION campaigns_coupon_parent_guard();
""",
            reverse_sql="""
DROP TRIGGER campaigns_template_keeps_coupons ON campaigns_coupontemplate;
DROP TRIGGER campaigns_campaign_keeps_coupons ON campaigns_campaign;
DROP FUNCTION campaigns_coupon_parent_guard();
""",
        ),
        migrations.AlterField(
            model_name="coupon",
            name="campaign",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="coupons",
                to="campaigns.campaign",
                verbose_name="活动",
            ),
        ),
        migrations.AlterField(
            model_name="coupon",
            name="template",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="coupons",
                to="campaigns.coupontemplate",
                verbose_name="模板",
            ),
        ),
    ]
