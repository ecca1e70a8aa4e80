# Production image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=scrm.settings.production \
    SCRM_VAR_DIR=/var/lib/scrm

WORKDIR /app
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app --uid 10001 scrm \
    && mkdir -p /var/lib/scrm/bank-imports /var/lib/scrm/prometheus \
    && chown -R scrm /var/lib/scrm

COPY pyproject.toml README.md LICENSE ./
COPY scrm ./scrm
COPY contacts ./contacts
COPY groups ./groups
COPY campaigns ./campaigns
COPY tagging ./tagging
COPY templates ./templates
COPY locale ./locale
COPY manage.py ./
RUN pip install . \
    && django-admin compilemessages --ignore '*site-packages*' \
    && SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost \
       ALLOWED_HOSTS=build WECOM_CORP_ID=b WECOM_SECRET=b WECOM_TOKEN=b WECOM_AES_KEY=b \
       SCRM_PUBLIC_URL=https://build FIELD_ENCRYPTION_KEY=ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMDA= PHONE_HASH_KEY=build \
       python manage.py collectstatic --noinput

USER scrm
EXPOSE 8000
# The config file shares request metrics between the workers (Prometheus multiprocess
# mode, files in $SCRM_VAR_DIR/prometheus, emptied at start).
CMD ["gunicorn", "scrm.wsgi", "--config", "/app/scrm/gunicorn_conf.py", \
     "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4", \
     "--worker-class", "gthread", "--access-logfile", "-", "--graceful-timeout", "20"]
