"""Security defaults shared by all flavours; production tightens them."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext_lazy as _

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Login lockout (django-axes): 5 wrong passwords for one username from one address lock
# that pair out for 30 minutes, on the login page and the admin alike. Attempts are kept
# in the database, so every web process sees them and ops admins can lift a lock in the
# admin (axes' "access attempts") or with ``manage.py axes_reset_username``.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=30)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
# The 30 minutes run from the lockout; further tries while locked do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The page states the 30 minutes too: change both together.
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_COOLOFF_MESSAGE = _("登录失败次数过多，账号已锁定 30 分钟，请稍后再试或联系运营管理员解锁。")
AXES_PERMALOCK_MESSAGE = _("登录失败次数过多，账号已锁定，请联系运营管理员解锁。")
