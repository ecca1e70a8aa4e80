"""API plumbing shared by every app: errors always come back as
``{"code": ..., "message": ...}`` JSON (plus ``fields`` for validation errors, and a
``DomainError``'s ``data``)."""

from __future__ import annotations

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import DomainError


class ErrorSerializer(serializers.Serializer):
    """Every API error's body, for the OpenAPI schema (one component for all apps)."""

    code = serializers.CharField()
    message = serializers.CharField()


def holds_permission(codename: str) -> type[BasePermission]:
    """A DRF permission class: the caller (a session or a token's user) holds
    ``codename`` (``"app_label.codename"``), as the bank-systems account's APIs require."""

    class HoldsPermission(BasePermission):
        def has_permission(self, request, view) -> bool:
            return request.user.has_perm(codename)

    HoldsPermission.__name__ = HoldsPermission.__qualname__ = f"Holds({codename})"
    return HoldsPermission


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_message(next(iter(detail.values())))
    return str(detail)


def _too_large(exc: Exception, context) -> Response:
    """A body over Django's upload limits (``DATA_UPLOAD_MAX_*``), raised while the
    request is read: JSON like every other API error, not Django's 400 page."""
    request = context.get("request")
    if request is not None:
        # Always JSON: the browsable API's page would read the body again (to
        # re-check the caller) and raise the same error while rendering.
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    if isinstance(exc, RequestDataTooBig):
        body = {"code": "request_too_large", "message": _("请求内容过大，超过了上传限制")}
    else:
        body = {"code": "too_many_fields", "message": _("请求包含的字段或文件过多")}
    return Response(body, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


def _error_as_json(context) -> None:
    """Errors are JSON whatever the view renders on success (the OpenAPI schema view
    answers YAML by default; its 401/403 must still be ``{"code", "message"}`` JSON).
    The browsable API (development only) keeps its HTML page."""
    request = context.get("request")
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is not None and renderer.format not in ("json", "api"):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


def exception_handler(exc, context):
    _error_as_json(context)
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)):
        return _too_large(exc, context)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "message": _first_message(exc.detail),
            "fields": exc.detail,
        }
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "message": _first_message(exc.detail),
        }
    return response


def json_error(code: str, message: str, http_status: int = status.HTTP_400_BAD_REQUEST):
    return Response({"code": code, "message": message}, status=http_status)
