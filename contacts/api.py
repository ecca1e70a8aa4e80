"""Customer API (DRF): list and detail start from ``customers_visible_to`` (D14).

Systems authenticate with a token, pages with the session; errors are
``{"code", "message"}`` JSON (scrm.core.api).
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from scrm.core.errors import DomainError

from .bank import customer_bind_by_manager
from .bank_jobs import (
    bank_import_job_error_report,
    bank_import_job_get,
    bank_import_job_submit,
)
from .privacy import (
    customer_erase,
    customer_marketing_opt_out,
    customer_pii_reveal,
    customers_export_csv,
)
from .selectors import customer_list, customers_visible_to
from .serializers import (
    BankImportAcceptedSerializer,
    BankImportJobSerializer,
    BankImportSerializer,
    BindSerializer,
    CustomerDetailSerializer,
    CustomerFilterSerializer,
    CustomerSerializer,
    EraseSerializer,
    OptOutSerializer,
    RevealSerializer,
)


def _filtered(request):
    filters = CustomerFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return customer_list(user=request.user, **filters.validated_data), filters.validated_data


@extend_schema(parameters=[CustomerFilterSerializer], tags=["customers"])
class CustomerListApi(generics.ListAPIView):
    serializer_class = CustomerSerializer

    def get_queryset(self):
        qs, _ = _filtered(self.request)
        return qs.prefetch_related("follows")


@extend_schema(tags=["customers"])
class CustomerDetailApi(generics.RetrieveAPIView):
    serializer_class = CustomerDetailSerializer

    def get_queryset(self):
        return (
            customers_visible_to(self.request.user)
            .select_related("first_channel", "bank_record")
            .prefetch_related("follows")
        )


@extend_schema(tags=["customers"], request=None, responses=RevealSerializer)
class CustomerRevealApi(APIView):
    """Plain phones and ID number (needs contacts.reveal_pii); audited."""

    def post(self, request, pk: int):
        data = customer_pii_reveal(user=request.user, customer_id=pk, request=request)
        return Response(RevealSerializer(data).data)


@extend_schema(tags=["customers"], request=BindSerializer, responses=CustomerSerializer)
class CustomerBindApi(APIView):
    """A manager binds their customer to a bank record of their scope by customer number
    or phone (D4); 404 for a record missing or out of scope, 409 when bound to another
    customer, 429 past the hourly attempts. Audited."""

    def post(self, request, pk: int):
        body = BindSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = customer_bind_by_manager(
            user=request.user, customer_id=pk, request=request, **body.validated_data
        )
        return Response(CustomerSerializer(customer).data)


@extend_schema(tags=["customers"], request=EraseSerializer, responses=CustomerSerializer)
class CustomerEraseApi(APIView):
    """PIPL erasure of one customer's personal data (needs contacts.erase_customer)."""

    def post(self, request, pk: int):
        body = EraseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = customer_erase(
            user=request.user, customer_id=pk, request=request, **body.validated_data
        )
        return Response(CustomerSerializer(customer).data)


@extend_schema(tags=["customers"], request=OptOutSerializer, responses=CustomerSerializer)
class CustomerOptOutApi(APIView):
    """Record that a customer refuses (or accepts again) marketing messages."""

    def post(self, request, pk: int):
        body = OptOutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        customer = customers_visible_to(request.user).filter(pk=pk).first()
        if customer is None:
            raise DomainError("not_found", "客户不存在或无权查看", status=404)
        if not request.user.has_perm("contacts.change_customer"):
            raise DomainError("forbidden", "没有修改客户的权限", status=403)
        customer = customer_marketing_opt_out(
            customer=customer,
            opted_out=body.validated_data["opted_out"],
            source="api",
            actor=request.user,
            request=request,
        )
        return Response(CustomerSerializer(customer).data)


@extend_schema(
    tags=["customers"],
    parameters=[CustomerFilterSerializer],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
)
class CustomerExportApi(APIView):
    """CSV of the filtered list; masked unless ?reveal=1 and contacts.reveal_pii. Audited."""

    def get(self, request):
        qs, filters = _filtered(request)
        reveal = request.query_params.get("reveal") in ("1", "true")
        body = customers_export_csv(
            user=request.user,
            queryset=qs,
            reveal=reveal,
            request=request,
            filters={k: str(v) for k, v in filters.items() if v is not None},
        )
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="customers.csv"'
        return response


@extend_schema(
    tags=["bank records"],
    request={"multipart/form-data": BankImportSerializer, "application/json": BankImportSerializer},
    responses={202: BankImportAcceptedSerializer},
)
class BankRecordImportApi(APIView):
    """Queue a load of bank customer rows (file upload or JSON rows): 202 with the job's
    URL (``Location``); the job's status, counts and per-row errors are read there."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def post(self, request):
        if not request.user.has_perm("contacts.add_bankrecord"):
            raise DomainError("forbidden", "没有导入行内客户的权限", status=403)
        body = BankImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data.get("file")
        if upload is not None:
            job = bank_import_job_submit(
                actor=request.user, file_name=upload.name, data=upload.read(), source="api"
            )
        else:
            job = bank_import_job_submit(
                actor=request.user, rows=body.validated_data["rows"], source="api"
            )
        url = request.build_absolute_uri(reverse("api-bank-import-job", args=[job.pk]))
        return Response(
            BankImportAcceptedSerializer(
                {"id": job.pk, "status": job.status, "status_url": url}
            ).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


@extend_schema(tags=["bank records"], responses=BankImportJobSerializer)
class BankImportJobApi(APIView):
    """One import job: status, progress, counts and the first rows in error. Seen by
    people who may import bank records and by whoever submitted the job."""

    def get(self, request, pk: int):
        job = bank_import_job_get(user=request.user, job_id=pk)
        return Response(BankImportJobSerializer(job, context={"request": request}).data)


@extend_schema(
    tags=["bank records"],
    responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV")},
)
class BankImportJobErrorsApi(APIView):
    """The job's full per-row error report (CSV); audited as an export."""

    def get(self, request, pk: int):
        path, name = bank_import_job_error_report(user=request.user, job_id=pk, request=request)
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=name,
            content_type="text/csv; charset=utf-8",
        )
