"""The role matrix: every URL pattern of the resolver and every operation of the OpenAPI
schema, requested as every role, checked against ``tests/security/policy.py``.

``matrix_run(world)`` returns the findings (an empty list when every role got exactly
what the policy says); tests assert on it, and a test with a URLconf override shows that
an unclassified or unprotected view is reported.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from . import policy as P

OUTSIDE_IP = "203.0.113.9"  # not loopback: /metrics must refuse it
MISSING_ID = "987654321"

# Which roles may read a model admin's pages at all, by app label. The model admin's own
# permissions then decide view by view; a 200 for a role not listed here is a finding,
# and an app of the admin that is not listed fails the matrix (classify it here).
ADMIN_APP_ROLES: dict[str, frozenset[str]] = {
    "auth": frozenset({P.OPS_ADMIN}),
    "authtoken": frozenset({P.OPS_ADMIN}),
    "core": frozenset({P.OPS_ADMIN}),
    "axes": frozenset({P.OPS_ADMIN}),
    "django_celery_beat": P.OPS,
    "wecom": P.OPS,
    "content": P.OPS | {P.COMPLIANCE},
    "workspace": P.OPS,
    "contacts": P.OPS | P.MANAGERS,
    "groups": P.OPS | P.MANAGERS,
    "sop": P.OPS,
    "tagging": P.OPS | P.MANAGERS,
    "behaviour": P.OPS,
    "intent": P.OPS,
    "tag_rules": P.OPS,
    "surveys": P.OPS,
    "leads": P.OPS,
    "campaigns": P.OPS | {P.COMPLIANCE},
    "payouts": P.OPS,
    "lottery": P.OPS | {P.COMPLIANCE},
    "referral": P.OPS,
}


@dataclass(frozen=True)
class Endpoint:
    key: str  # the policy key: "namespace:name", or the view's dotted path when unnamed
    route: str  # the full route, as the resolver spells it
    pattern: URLPattern


@dataclass(frozen=True)
class Finding:
    key: str
    role: str
    method: str
    path: str
    status: int | None
    problem: str

    def __str__(self) -> str:
        return (
            f"{self.key} [{self.role}] {self.method} {self.path} -> {self.status}: {self.problem}"
        )


# --------------------------------------------------------------------------- the walk


def endpoints(urlconf=None) -> Iterator[Endpoint]:
    """Every URL pattern of ``urlconf``, through every include, with its policy key."""

    def walk(resolver: URLResolver, prefix: str, namespace: str | None):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                yield from walk(p, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                name = p.name or p.lookup_str
                key = f"{namespace}:{name}" if namespace else name
                yield Endpoint(key=key, route=prefix + str(p.pattern), pattern=p)

    yield from walk(get_resolver(urlconf), "", None)


def rule_for(endpoint: Endpoint) -> P.Rule | None:
    rule = P.POLICY.get(endpoint.key)
    if rule is not None:
        return rule
    standard = endpoint.key.rsplit("_", 1)[-1] in P.ADMIN_MODEL_VIEWS
    if endpoint.key.startswith("admin:") and standard and admin_model_of(endpoint.route):
        return P.ADMIN_MODEL
    return None


def admin_model_of(route: str):
    m = re.match(r"^admin/(\w+)/(\w+)/", route)
    if not m:
        return None
    try:
        model = apps.get_model(m.group(1), m.group(2))
    except LookupError:
        return None
    return model if admin.site.is_registered(model) else None


# --------------------------------------------------------------------------- samples


def _admin_object(world, model):
    from contacts.models import FollowRelation

    scoped = {type(row): row for row in world.scoped_rows()}
    if model in scoped:
        return scoped[model]
    if model is FollowRelation:
        return FollowRelation.objects.filter(customer=world.customer_b).first()
    if model is type(world.cast.manager_b):
        return world.cast.manager_b
    return model._default_manager.order_by("pk").first()


def sample_value(world, endpoint: Endpoint, param: str) -> str:
    """A value for one URL parameter: real rows (of another manager where it matters)."""
    key = endpoint.key
    model = admin_model_of(endpoint.route)
    if param == "token":
        return "forged-token.AbCdEf"
    if param == "task_id":
        return str(world.task_b.pk)
    if param == "fmt":
        return "csv"
    if param == "url":
        return "no-such-page/"
    if param == "app_label":
        return "contacts"
    if param == "content_type_id":
        return str(ContentType.objects.get_for_model(type(world.customer_b)).pk)
    if key == "admin:view_on_site" and param == "object_id":
        return str(world.customer_b.pk)
    if param == "id" and key == "admin:auth_user_password_change":
        return str(world.cast.manager_b.pk)
    if param == "plan_id":
        plan = model._default_manager.order_by("pk").first() if model else None
        return str(plan.pk) if plan is not None else MISSING_ID
    if param == "key_id":
        return str(world.merchant_key.pk)
    if param in ("object_id", "pk") and model is not None:
        if key.startswith("admin:campaigns_merchant_key"):
            return str(world.merchant.pk)
        obj = _admin_object(world, model)
        return str(obj.pk) if obj is not None else MISSING_ID
    if param == "pk":
        if "customer" in key:
            return str(world.customer_b.pk)
        if key.startswith("content-"):
            return str(world.content.pk)
        if key.startswith("api-bank-import-job"):
            return str(world.extra["import_job"].pk)
        return MISSING_ID
    if param in ("campaign_id", "draw_id"):
        return MISSING_ID
    raise LookupError(
        f"no sample for <{param}> of {key} ({endpoint.route}): add one in "
        "tests/security/matrix.py sample_value()"
    )


def endpoint_path(world, endpoint: Endpoint) -> str:
    route = endpoint.route
    if "(?P<" in route or route.startswith("^") or "^" in route:

        def fill(m):
            return sample_value(world, endpoint, m.group(1))

        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", fill, route)
        path = path.replace("^", "").replace("$", "")
    else:

        def fill(m):
            return sample_value(world, endpoint, m.group(2))

        path = re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)
    return "/" + path


# --------------------------------------------------------------------------- the schema


@functools.cache
def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def schema_operations() -> dict[str, set[str]]:
    """The OpenAPI schema's operations: full route -> methods (every path must resolve)."""
    schema = _schema()
    found: dict[str, set[str]] = {}
    for path, operations in schema["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        try:
            match = resolve(concrete)
        except Resolver404:
            found.setdefault(f"UNRESOLVED {path}", set())
            continue
        methods = {m.upper() for m in operations if m.lower() != "parameters"}
        found.setdefault(match.route, set()).update(methods)
    return found


# --------------------------------------------------------------------------- the roles


def role_clients(world) -> dict[str, Client]:
    cast = world.cast
    users = {
        P.CUSTOMER_MANAGER: cast.manager_a,
        P.BRANCH_MANAGER: cast.branch_manager,
        P.OPS_STAFF: cast.ops,
        P.COMPLIANCE: cast.compliance,
        P.OPS_ADMIN: cast.ops_admin,
    }
    clients: dict[str, Client] = {}
    for role in P.ROLES:
        headers = {}
        if role == P.MERCHANT_KEY:
            headers["Authorization"] = f"Bearer {world.merchant_raw_key}"
        elif role == P.BANK_TOKEN:
            headers["Authorization"] = f"Token {world.bank_token}"
        client = Client(raise_request_exception=False, headers=headers, REMOTE_ADDR=OUTSIDE_IP)
        if role in users:
            client.force_login(users[role])
        clients[role] = client
    return clients


def role_users(world) -> dict[str, object]:
    from django.contrib.auth.models import AnonymousUser

    cast = world.cast
    return {
        P.ANONYMOUS: AnonymousUser(),
        P.CUSTOMER_MANAGER: cast.manager_a,
        P.BRANCH_MANAGER: cast.branch_manager,
        P.OPS_STAFF: cast.ops,
        P.COMPLIANCE: cast.compliance,
        P.OPS_ADMIN: cast.ops_admin,
        P.MERCHANT_KEY: AnonymousUser(),
        P.BANK_TOKEN: world.bank_user,
    }


# --------------------------------------------------------------------------- the checks


def _json(response) -> dict | None:
    if "json" not in response.get("Content-Type", ""):
        return None
    if getattr(response, "streaming", False):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, (dict, list)) else None


def _json_error(response) -> str | None:
    body = _json(response)
    if not isinstance(body, dict):
        return "an API refusal that is not a JSON object"
    if not body.get("code") or not body.get("message"):
        return f"an API refusal without code and message: {body}"
    return None


def _to_login(response, login="/accounts/login/") -> bool:
    return response.status_code == 302 and response["Location"].startswith(login)


def _row_states(world) -> list:
    return [type(r).objects.filter(pk=r.pk).values().first() for r in world.scoped_rows()]


def _admin_expected(endpoint: Endpoint, user, world) -> bool:
    """Whether the model admin's own permissions let ``user`` open this standard view."""
    model = admin_model_of(endpoint.route)
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = user
    view = endpoint.key.rsplit("_", 1)[-1]
    obj = None
    if view in ("change", "delete", "history"):
        obj = _admin_object(world, model)
    if view == "changelist":
        return model_admin.has_view_or_change_permission(request)
    if view == "add":
        return model_admin.has_add_permission(request)
    if view == "delete":
        return model_admin.has_delete_permission(request, obj)
    return model_admin.has_view_or_change_permission(request, obj)


def check(endpoint, rule, role, method, response, world, user, before, after) -> list[str]:
    status = response.status_code
    problems: list[str] = []
    sees_all = role in P.SEES_EVERYTHING
    body = b"" if getattr(response, "streaming", False) else response.content
    roles = rule.roles_for(method)
    if not sees_all:
        text = body.decode("utf-8", "replace")
        decoded = _json(response)
        if decoded is not None:  # JSON may spell Chinese as \\u escapes
            text += json.dumps(decoded, ensure_ascii=False)
        leaked = [s for s in world.secrets if s in text]
        if leaked:
            problems.append(f"another manager's rows read: {leaked}")
    if before != after and (not sees_all or (rule.scoped and role not in roles)):
        problems.append("another manager's customer, group or task changed")
    if status >= 500 and not (endpoint.key == "healthz" and status == 503):
        problems.append("a server error")
    kind = rule.kind
    header_only = role in (P.ANONYMOUS, P.MERCHANT_KEY, P.BANK_TOKEN)

    if kind == "public":
        pass
    elif kind == "metrics":
        if status not in (403, 405):
            problems.append("metrics must be refused to callers from outside (403)")
    elif kind in ("signed_h5", "wecom_callback"):
        if status not in (400, 403, 404, 405, 410):
            problems.append("a forged token or signature must be refused (4xx)")
    elif kind == "bench":
        if status != 404:
            problems.append("benchmark endpoints must be off (404)")
    elif kind == "page":
        if header_only:
            if not _to_login(response):
                problems.append("a login page must send this caller to the login")
        elif status == 405:
            pass  # the method is not offered; no role gets further
        elif role in roles:
            if status >= 400 or _to_login(response):
                problems.append("this role must get the page")
        elif status in (403, 404):
            pass
        elif method == "POST" and status == 302 and not _to_login(response):
            pass  # the action refused with a message; the row check above holds
        else:
            problems.append("this role must be refused (403/404)")
    elif kind in ("api", "merchant_api"):
        allowed = role == P.MERCHANT_KEY if kind == "merchant_api" else role in roles
        if kind == "api" and role in (P.ANONYMOUS, P.MERCHANT_KEY):
            allowed = False
        if status == 405:
            problems.append("an operation of the schema answered 405")
        elif allowed:
            if status in (401, 403) or (rule.scoped and status == 404):
                problems.append(f"this role must get through (got {status})")
        else:
            if status not in (401, 403, 404):
                problems.append("this role must be refused (401/403/404)")
            elif role in (P.ANONYMOUS, P.MERCHANT_KEY) and status == 404:
                problems.append("an unauthenticated caller must get 401/403, not 404")
            else:
                err = _json_error(response)
                if err:
                    problems.append(err)
    elif kind == "admin":
        if role not in P.STAFF:
            if not _to_login(response, "/admin/login/"):
                problems.append("the admin must send a non-staff caller to the admin login")
            return problems
        if rule is P.ADMIN_MODEL:
            app_label = endpoint.route.split("/")[1]
            app_roles = ADMIN_APP_ROLES.get(app_label)
            if app_roles is None:
                problems.append(
                    f"admin app {app_label!r} is not classified: add it to ADMIN_APP_ROLES"
                )
                return problems
            expected = _admin_expected(endpoint, user, world)
            if status == 200 and role not in app_roles:
                problems.append(f"{role} must not open the {app_label} admin")
            if expected and status == 403:
                problems.append("the model admin's permissions let this role in, the view refused")
            if not expected and status == 200:
                problems.append(
                    "the model admin's permissions refuse this role, the view let it in"
                )
        else:
            if role in roles:
                if status == 403 or _to_login(response, "/admin/login/"):
                    problems.append("this role must get this admin page")
            elif status == 200:
                problems.append("this role must not open this admin page")
    else:
        problems.append(f"unknown policy class {kind!r}")
    return problems


# --------------------------------------------------------------------------- the run


def _methods(endpoint: Endpoint, rule: P.Rule, operations: dict[str, set[str]]) -> list[str]:
    if endpoint.route in operations:
        return sorted(operations[endpoint.route])
    if rule.kind == "admin":
        return ["GET"]
    return ["GET", "POST"]


# Bodies that pass an operation's input validation, so the permission or scope check
# behind it is what answers (an empty body would be refused as invalid first).
BODIES: dict[tuple[str, str], dict] = {
    ("scrm.workspace.api.TaskSkipApi", "POST"): {"reason": "other", "note": "x"},
    ("content-list", "POST"): {"title": "新内容", "text": "正文"},
    ("content-detail", "PATCH"): {"title": "改过的标题"},
    ("api-customer-bind", "POST"): {"customer_no": "C001"},
    ("api-customer-opt-out", "POST"): {"opted_out": True},
    ("api-customer-erase", "POST"): {"reason": "客户要求删除"},
    ("api-bank-import", "POST"): {"rows": [{"customer_no": "C9", "phone": "13900139000"}]},
}


def _request(client: Client, method: str, path: str, kind: str, key: str = ""):
    if method == "GET":
        return client.get(path)
    if kind in ("api", "merchant_api"):
        body = json.dumps(BODIES.get((key, method), {}))
        return client.generic(method, path, data=body, content_type="application/json")
    return client.generic(method, path, data="", content_type="application/x-www-form-urlencoded")


def matrix_run(world, *, urlconf=None, roles=P.ROLES, only=None) -> tuple[list[Finding], dict]:
    """Request every endpoint as every role; the findings and a small coverage summary.
    ``only`` (a predicate on the endpoint) limits the requests, not the classification:
    every URL must still be known to the policy."""
    findings: list[Finding] = []
    operations = schema_operations()
    for route in operations:
        if route.startswith("UNRESOLVED"):
            findings.append(Finding(route, "-", "-", route, None, "schema path resolves to no URL"))
    clients = role_clients(world)
    users = role_users(world)
    seen_routes: set[str] = set()
    requests = 0
    classes: dict[str, int] = {}
    for endpoint in endpoints(urlconf):
        rule = rule_for(endpoint)
        if rule is None:
            findings.append(
                Finding(
                    endpoint.key,
                    "-",
                    "-",
                    endpoint.route,
                    None,
                    "URL not classified: add it to tests/security/policy.py POLICY",
                )
            )
            continue
        if only is not None and not only(endpoint):
            continue
        classes[rule.kind] = classes.get(rule.kind, 0) + 1
        try:
            path = endpoint_path(world, endpoint)
        except LookupError as exc:
            findings.append(Finding(endpoint.key, "-", "-", endpoint.route, None, str(exc)))
            continue
        seen_routes.add(endpoint.route)
        for method in _methods(endpoint, rule, operations):
            for role in roles:
                client = clients[role]
                cookies = copy.deepcopy(client.cookies)  # a logout must not log the role out
                # Another manager's rows are compared around every write, and around
                # every request to a URL about one of them.
                watch = method != "GET" or rule.scoped
                before = _row_states(world) if watch else None
                with transaction.atomic():
                    response = _request(client, method, path, rule.kind, endpoint.key)
                    after = _row_states(world) if watch else None
                    transaction.set_rollback(True)
                client.cookies = cookies
                requests += 1
                for problem in check(
                    endpoint, rule, role, method, response, world, users[role], before, after
                ):
                    findings.append(
                        Finding(endpoint.key, role, method, path, response.status_code, problem)
                    )
    for route in operations if only is None else ():
        if not route.startswith("UNRESOLVED") and route not in seen_routes:
            findings.append(Finding(route, "-", "-", route, None, "schema operation not walked"))
    summary = {
        "urls": sum(classes.values()),
        "requests": requests,
        "classes": classes,
        "operations": len(operations),
    }
    return findings, summary
