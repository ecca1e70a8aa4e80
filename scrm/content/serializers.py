"""Input and output shapes of the content API."""

from __future__ import annotations

from rest_framework import serializers

from .models import Content, ContentReview, ContentVersion


class ContentWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    text = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)
    attachments = serializers.ListField(child=serializers.DictField(), required=False)


class ContentPatchSerializer(ContentWriteSerializer):
    title = serializers.CharField(max_length=100, required=False)


class ReviewInputSerializer(serializers.Serializer):
    comment = serializers.CharField(allow_blank=True, required=False, default="")
    version = serializers.IntegerField(required=False, min_value=1)


class MessageInputSerializer(serializers.Serializer):
    variables = serializers.DictField(child=serializers.CharField(), required=False, default=dict)


class CheckInputSerializer(serializers.Serializer):
    text = serializers.CharField(
        allow_blank=True, required=False, default="", trim_whitespace=False
    )
    attachments = serializers.ListField(child=serializers.DictField(), required=False, default=list)


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username")
    version = serializers.IntegerField(source="version.number")

    class Meta:
        model = ContentReview
        fields = ["version", "decision", "reviewer", "comment", "decided_at"]


class VersionSerializer(serializers.ModelSerializer):
    submitted_by = serializers.CharField(source="submitted_by.username")
    review = serializers.SerializerMethodField()

    class Meta:
        model = ContentVersion
        fields = [
            "number",
            "title",
            "text",
            "attachments",
            "variables",
            "submitted_by",
            "submitted_at",
            "review",
        ]

    def get_review(self, obj) -> dict | None:
        # A version waiting for review has no review row yet.
        review = getattr(obj, "review", None)
        return ReviewSerializer(review).data if review else None


class ApprovedVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContentVersion
        fields = ["number", "title", "text", "attachments", "variables", "submitted_at"]


class ContentSerializer(serializers.ModelSerializer):
    """The full working copy, for ops and compliance."""

    pending_version = serializers.IntegerField(source="pending_version.number", default=None)
    approved_version = ApprovedVersionSerializer(default=None)

    class Meta:
        model = Content
        fields = [
            "id",
            "title",
            "text",
            "attachments",
            "status",
            "pending_version",
            "approved_version",
            "created_at",
            "updated_at",
        ]


class ApprovedContentSerializer(serializers.ModelSerializer):
    """What managers see: only the approved version, never a draft."""

    approved_version = ApprovedVersionSerializer()

    class Meta:
        model = Content
        fields = ["id", "title", "approved_version"]
