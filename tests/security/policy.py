"""Who may use which URL: the explicit policy the role matrix checks every URL against.

Every URL pattern the resolver knows is looked up here by its name (``namespace:name``)
or, for an unnamed pattern, by its view's dotted path. A URL this table does not know
fails the matrix: a new endpoint is never silently uncovered. Classify it by adding a
line below (choose the class that says who may use it, and the roles it is meant for).

Classes (what each role must get, checked in ``tests/security/matrix.py``):

- ``public``: anyone; only "never a 500".
- ``metrics``: the Prometheus scrape; refused to everyone from outside (403).
- ``signed_h5``: customer H5 pages reached by a signed token in the URL; a forged token
  is refused (4xx) for everyone and changes nothing.
- ``wecom_callback``: WeCom's callback; a request without WeCom's signature is refused.
- ``bench``: benchmark baselines, 404 unless ``SCRM_BENCH_ENDPOINTS``.
- ``page``: a login page of the staff site; anonymous callers (and API keys, which
  pages ignore) are sent to the login; ``roles`` get it; other people get 403/404.
- ``api``: the DRF API with a session or a token; anonymous callers and merchant keys
  get 401/403 JSON with a code; ``roles`` get through; others get 403/404 JSON.
- ``merchant_api``: the POS API; only a merchant key gets through.
- ``admin``: the ops admin; non-staff are sent to the admin login; staff get what the
  model admin's permissions give them (``roles`` for the admin's own extra views).

``scoped=True`` marks a URL whose sample object belongs to another manager (陈静, of
another branch): only those who see everything may reach it; for every other role it
must answer like a missing object (404, or for a page's POST action a redirect that
changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

ANONYMOUS = "anonymous"
CUSTOMER_MANAGER = "customer_manager"
BRANCH_MANAGER = "branch_manager"
OPS_STAFF = "ops_staff"
COMPLIANCE = "compliance"
OPS_ADMIN = "ops_admin"
MERCHANT_KEY = "merchant_key"
BANK_TOKEN = "bank_token"

ROLES = (
    ANONYMOUS,
    CUSTOMER_MANAGER,
    BRANCH_MANAGER,
    OPS_STAFF,
    COMPLIANCE,
    OPS_ADMIN,
    MERCHANT_KEY,
    BANK_TOKEN,
)
SESSION = frozenset({CUSTOMER_MANAGER, BRANCH_MANAGER, OPS_STAFF, COMPLIANCE, OPS_ADMIN})
USERS = SESSION | {BANK_TOKEN}
OPS = frozenset({OPS_STAFF, OPS_ADMIN})
MANAGERS = frozenset({CUSTOMER_MANAGER, BRANCH_MANAGER})
# Who sees another manager's customers, groups and tasks (scrm.core.access).
SEES_EVERYTHING = OPS
STAFF = frozenset({BRANCH_MANAGER, OPS_STAFF, COMPLIANCE, OPS_ADMIN})  # is_staff
NOBODY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    kind: str
    roles: frozenset[str] = NOBODY
    scoped: bool = False
    # Who may write (POST, PATCH, PUT, DELETE) when that differs from who may read.
    write_roles: frozenset[str] | None = None

    def roles_for(self, method: str) -> frozenset[str]:
        if method != "GET" and self.write_roles is not None:
            return self.write_roles
        return self.roles


def public() -> Rule:
    return Rule("public")


def page(roles=SESSION, *, scoped=False) -> Rule:
    return Rule("page", frozenset(roles), scoped)


def api(roles=USERS, *, scoped=False, write=None) -> Rule:
    return Rule("api", frozenset(roles), scoped, None if write is None else frozenset(write))


def admin_extra(roles, *, scoped=False) -> Rule:
    return Rule("admin", frozenset(roles), scoped)


ADMIN_MODEL = Rule("admin")  # a model admin's standard view: its own permissions decide

POLICY: dict[str, Rule] = {
    # --- site, login, health
    "home": page(),
    "healthz": public(),
    "metrics": Rule("metrics"),
    "login": public(),
    "logout": public(),
    "set_language": public(),
    "api-schema": api(USERS),
    # --- WeCom
    "wecom:callback": Rule("wecom_callback"),
    "wecom:ping-trivial": Rule("bench"),
    # --- customer H5 pages (signed links)
    "campaigns:h5-claim": Rule("signed_h5"),
    "campaigns:h5-coupons": Rule("signed_h5"),
    "lottery:h5-draw": Rule("signed_h5"),
    "referral:h5-invite": Rule("signed_h5"),
    "referral:h5-invite-from-claim": Rule("signed_h5"),
    "h5-verify": Rule("signed_h5"),
    "h5-unsubscribe": Rule("signed_h5"),
    "groups:join": public(),  # the location picker; the routed group's link is signed
    "groups:api-routing": public(),  # location -> region -> pool, no customer data
    # --- merchant API and the store staff's page
    "campaigns:api-redemption": Rule("merchant_api"),
    "campaigns:api-redemption-reverse": Rule("merchant_api"),
    "campaigns:merchant-redeem": page(NOBODY),  # store staff only (none in the cast)
    # --- bank-systems API
    "campaigns:api-coupon-issue": api(OPS | {BANK_TOKEN}),
    "referral:api-conversion": api(OPS | {BANK_TOKEN}),
    "referral:api-invite-link": api(OPS | {BANK_TOKEN}),
    # --- tagging.behaviour: the bank's systems report customer events; tracked materials
    "behaviour:api-events": api(OPS | {BANK_TOKEN}),
    # A tracked link always redirects (a forged one to the material's registered URL or
    # to the neutral page, recording nothing): public, only "never a 500".
    "behaviour:tracked-link": public(),
    "behaviour:link-gone": public(),
    "behaviour:h5-article": Rule("signed_h5"),
    "behaviour:h5-article-dwell": Rule("signed_h5"),
    # --- campaign reports (ops; a draw's replay also compliance)
    "lottery:api-report": api(OPS),
    "lottery:api-replay": api(OPS | {COMPLIANCE}),
    # --- manager workspace: customers, groups, tasks (scrm.core.access)
    "customer-list": page(),
    "customer-detail": page(SEES_EVERYTHING, scoped=True),
    "workspace": page(),
    # A task is acted on by its own manager only (陈静, not in the cast of roles here).
    "workspace-task-done": page(NOBODY, scoped=True),
    "workspace-task-skip": page(NOBODY, scoped=True),
    "workspace-task-act": page(NOBODY, scoped=True),
    "api-customer-list": api(USERS),
    "api-customer-detail": api(SEES_EVERYTHING, scoped=True),
    "api-customer-bind": api(NOBODY, scoped=True),  # by the customer's own manager only
    "api-customer-opt-out": api(SEES_EVERYTHING, scoped=True),
    "api-customer-reveal": api({OPS_ADMIN}, scoped=True),
    "api-customer-erase": api({OPS_ADMIN}, scoped=True),
    "api-customer-export": api(OPS),
    "api-bank-import": api(OPS),
    "api-bank-import-job": api(OPS),
    "api-bank-import-job-errors": api(OPS),
    "groups:api-groups": api(USERS),
    "api-workspace": api(USERS),
    "scrm.workspace.api.TaskDoneApi": api(NOBODY, scoped=True),
    "scrm.workspace.api.TaskSkipApi": api(NOBODY, scoped=True),
    "scrm.workspace.api.TaskActApi": api(NOBODY, scoped=True),
    # --- content library: ops write, compliance reviews (four eyes: not even an ops
    # admin approves), managers read approved content; anyone logged in may check a
    # text for banned phrases and list what they may read (nothing, for the bank token)
    "content-list": api(USERS, write=OPS),
    "content-check": api(USERS),
    "content-detail": api(SESSION, write=OPS),
    "content-submit": api(OPS),
    "content-approve": api({COMPLIANCE}),
    "content-reject": api({COMPLIANCE}),
    "content-versions": api(OPS | {COMPLIANCE}),
    "content-message": api(SESSION),
    # --- the admin's own pages
    "admin:index": admin_extra(STAFF),
    "admin:login": public(),
    "admin:logout": public(),
    "admin:password_change": admin_extra(STAFF),
    "admin:password_change_done": admin_extra(STAFF),
    "admin:autocomplete": admin_extra(NOBODY),  # 403 without a valid field to complete
    "admin:jsi18n": admin_extra(STAFF),
    "admin:view_on_site": admin_extra(STAFF),
    "admin:app_list": admin_extra(STAFF),
    "admin:django.contrib.admin.sites.AdminSite.catch_all_view": admin_extra(STAFF),
    "admin:django.views.generic.base.RedirectView": admin_extra(STAFF),
    "admin:auth_user_password_change": admin_extra({OPS_ADMIN}),
    # --- extra admin views of the apps
    "admin:contacts_customer_reveal": admin_extra({OPS_ADMIN}, scoped=True),
    "admin:contacts_bankrecord_import": admin_extra(OPS),
    "admin:contacts_bankimportjob_errors": admin_extra(OPS),
    "admin:sop_sopplan_preview": admin_extra(OPS),
    "admin:content_content_review": admin_extra({COMPLIANCE, OPS_ADMIN, OPS_STAFF}),
    "admin:content_contentreviewqueue_review": admin_extra({COMPLIANCE, OPS_ADMIN, OPS_STAFF}),
    "admin:campaigns_campaign_act": admin_extra(OPS | {COMPLIANCE}),
    "admin:campaigns_campaign_export": admin_extra(OPS),
    "admin:campaigns_campaignreviewqueue_act": admin_extra(OPS | {COMPLIANCE}),
    "admin:campaigns_campaignreviewqueue_export": admin_extra(OPS),
    "admin:campaigns_merchant_key_create": admin_extra(OPS),
    "admin:campaigns_merchant_key_revoke": admin_extra(OPS),
    "admin:lottery_lotterycampaign_report": admin_extra(OPS),
    "admin:lottery_lotterycampaign_act": admin_extra(OPS | {COMPLIANCE}),
    "admin:lottery_lotterycampaign_export": admin_extra(OPS),
    "admin:referral_spreaders": admin_extra(OPS),
    # --- tagging.surveys: the customer's survey page, the links API (the bank-systems
    # account holds surveys.make_survey_links),
    # the results page (masked; a POST reveal is audited) and the audited export
    "surveys:h5-survey": Rule("signed_h5"),
    "surveys:api-survey-links": api(OPS | {BANK_TOKEN}),
    "admin:surveys_survey_results": admin_extra(OPS),
    "admin:surveys_survey_export": admin_extra(OPS),
    "admin:surveys_survey_links": admin_extra(OPS),
    # --- tagging.leads: the ranked dormant customers (masked)
    "admin:leads_leadassignment_ranking": admin_extra(OPS),
    # --- tagging.rules: a rule's preview ("would tag N customers now"), posted from its
    # change form instead of saving; nothing is written
    "admin:tag_rules_tagrule_preview": admin_extra(OPS),
}

# A model admin's standard views (changelist, add, change, delete, history) are
# recognised by their name's suffix; everything else of the admin must be listed above.
ADMIN_MODEL_VIEWS = ("changelist", "add", "change", "delete", "history")
