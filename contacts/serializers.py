"""Serializers of the customer API: input validation and output shapes."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from .crypto import mask_phone
from .models import BankImportJob, Customer, TimelineEntry
from .privacy import customer_phones


class CustomerFilterSerializer(serializers.Serializer):
    tag = serializers.IntegerField(required=False)
    ring = serializers.ChoiceField(choices=Customer.Ring.choices, required=False)
    channel = serializers.IntegerField(required=False)
    channel_type = serializers.CharField(required=False, max_length=24)
    staff = serializers.CharField(required=False, max_length=64)
    verified = serializers.BooleanField(required=False, allow_null=True, default=None)
    added_from = serializers.DateField(required=False)
    added_to = serializers.DateField(required=False)
    q = serializers.CharField(required=False, max_length=64)


class CustomerSerializer(serializers.ModelSerializer):
    phone = serializers.SerializerMethodField(help_text="masked, e.g. 138****1234")
    first_channel = serializers.CharField(source="first_channel.name", default="", read_only=True)
    customer_no = serializers.CharField(
        source="bank_record.customer_no", default="", read_only=True
    )
    # Plain string: "status" choice sets differ across apps and would collide in the schema.
    status = serializers.CharField(read_only=True, help_text="active / lost / erased")

    class Meta:
        model = Customer
        fields = (
            "id",
            "external_userid",
            "name",
            "ring",
            "status",
            "first_channel",
            "first_added_at",
            "verified_at",
            "verify_method",
            "marketing_opt_out",
            "customer_no",
            "phone",
        )

    def get_phone(self, obj) -> str:
        phones = customer_phones(obj)
        return mask_phone(phones[0]) if phones else ""


class TimelineEntrySerializer(serializers.ModelSerializer):
    staff = serializers.CharField(source="staff.userid", default="", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = ("at", "kind", "summary", "staff")


class CustomerDetailSerializer(CustomerSerializer):
    timeline = serializers.SerializerMethodField()

    class Meta(CustomerSerializer.Meta):
        fields = (*CustomerSerializer.Meta.fields, "timeline")

    def get_timeline(self, obj) -> list[dict]:
        from .selectors import customer_timeline

        return TimelineEntrySerializer(customer_timeline(customer=obj), many=True).data


class RevealSerializer(serializers.Serializer):
    phones = serializers.ListField(child=serializers.CharField())
    id_number = serializers.CharField(allow_blank=True)
    customer_no = serializers.CharField(allow_blank=True)


class BindSerializer(serializers.Serializer):
    customer_no = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    phone = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")


class EraseSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class OptOutSerializer(serializers.Serializer):
    opted_out = serializers.BooleanField(default=True)


class BankRowSerializer(serializers.Serializer):
    customer_no = serializers.CharField(allow_blank=True)
    name = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    id_number = serializers.CharField(required=False, allow_blank=True)
    birthday = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    branch = serializers.CharField(required=False, allow_blank=True)
    debit_card = serializers.CharField(required=False, allow_blank=True)
    credit_card = serializers.CharField(required=False, allow_blank=True)
    other_bank_card = serializers.CharField(required=False, allow_blank=True)
    aum_bracket = serializers.CharField(required=False, allow_blank=True)
    product_name = serializers.CharField(required=False, allow_blank=True)
    product_maturity = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class BankImportSerializer(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="CSV or XLSX")
    rows = BankRowSerializer(many=True, required=False)

    def validate(self, attrs):
        if not attrs.get("file") and not attrs.get("rows"):
            raise serializers.ValidationError("file or rows is required")
        return attrs


class RowErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    customer_no = serializers.CharField()
    messages = serializers.ListField(child=serializers.CharField())


class BankImportAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="queued / running / done / failed")
    status_url = serializers.URLField()


class BankImportJobSerializer(serializers.ModelSerializer):
    # Plain string: "status" choice sets differ across apps and would collide in the schema.
    status = serializers.CharField(read_only=True, help_text="queued / running / done / failed")
    created = serializers.IntegerField(source="created_count", read_only=True)
    updated = serializers.IntegerField(source="updated_count", read_only=True)
    matched = serializers.IntegerField(source="matched_count", read_only=True)
    percent = serializers.IntegerField(read_only=True, allow_null=True)
    errors = RowErrorSerializer(many=True, read_only=True, help_text="the first 1,000 rows")
    error_report_url = serializers.SerializerMethodField(help_text="full report (CSV), audited")
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = BankImportJob
        fields = (
            "id",
            "status",
            "file_name",
            "source",
            "total",
            "processed",
            "percent",
            "created",
            "updated",
            "error_count",
            "matched",
            "errors",
            "error_report_url",
            "error_message",
            "created_at",
            "started_at",
            "finished_at",
            "status_url",
        )

    def _url(self, name: str, pk: int) -> str:
        url = reverse(name, args=[pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request is not None else url

    def get_status_url(self, obj) -> str:
        return self._url("api-bank-import-job", obj.pk)

    def get_error_report_url(self, obj) -> str:
        return self._url("api-bank-import-job-errors", obj.pk) if obj.error_report else ""
