"""The events API: the bank's systems report what customers did
(``POST /api/events/``).

A DRF token (or a session) of a user with ``behaviour.send_events`` (the bank-systems
account; ops have it through their role). Body ``{"events": [...]}``, at most 1,000
events; the answer is ``202`` with the counts accepted / duplicate / rejected and the
reason for each rejected event. Sending the same batch again is safe: every event
comes back as a duplicate and nothing changes, so no ``Idempotency-Key`` is needed.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.core.api import ErrorSerializer, holds_permission

from .intake import MAX_BATCH, api_events_accept


class EventCustomerSerializer(serializers.Serializer):
    external_userid = serializers.CharField(required=False, max_length=64)
    bank_customer_no = serializers.CharField(required=False, max_length=32)


class EventInputSerializer(serializers.Serializer):
    event_id = serializers.CharField(max_length=64)
    customer = EventCustomerSerializer()
    type = serializers.CharField(max_length=48)
    properties = serializers.DictField(required=False)
    occurred_at = serializers.DateTimeField()


class EventsInputSerializer(serializers.Serializer):
    events = EventInputSerializer(many=True, max_length=MAX_BATCH)


class RejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField()
    code = serializers.CharField(
        help_text="unknown_customer, bad_type, too_old, in_future or invalid"
    )
    message = serializers.CharField()


class EventsResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    rejections = RejectionSerializer(many=True)


ERRORS = {
    status: OpenApiResponse(ErrorSerializer, description=text)
    for status, text in {
        400: "invalid body, or batch_too_large (more than 1,000 events)",
        401: "missing or bad token",
        403: "forbidden (no permission to send events)",
    }.items()
}


class EventsApi(APIView):
    """Record a batch of customer events from the bank's systems. Each event is checked
    on its own (``unknown_customer``, ``bad_type``, ``too_old``, ``in_future``,
    ``invalid``); the good ones are recorded, a repeat is counted as a duplicate."""

    # Token first: an anonymous caller is told to authenticate (401), not refused (403).
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, holds_permission("behaviour.send_events")]

    @extend_schema(
        operation_id="events_create",
        request=EventsInputSerializer,
        responses={202: EventsResultSerializer, **ERRORS},
    )
    def post(self, request):
        data = request.data
        events = data.get("events") if isinstance(data, dict) else None
        # The input serializer only documents the shape: checking a thousand events
        # through DRF fields would cost more than recording them (see intake).
        return Response(api_events_accept(events=events), status=202)
