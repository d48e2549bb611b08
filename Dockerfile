FROM python:3.11-slim

# No .pyc files in the image; unbuffered output so logs reach `docker logs` at once.
# PYTHONPATH=/app: run the source tree, not the site-packages copy, so settings'
# BASE_DIR finds templates/, static/ and var/ (they are not in the wheel).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=clinic.settings

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not
# reinstall every dependency (this layer stays cached until pyproject changes).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project'].get('dependencies', [])))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install .

# Static files are baked into the image for whitenoise (with the manifest that
# DEBUG=false needs). The secret key and host are throwaways for this one
# command; settings refuse to load without them and they never reach runtime.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret DJANGO_DEBUG=false ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput

# Run unprivileged: code and static files stay root-owned and read-only; only
# var/ (settings create it; celery beat keeps its schedule there) is writable.
RUN useradd --create-home --no-log-init --uid 10001 app \
    && mkdir -p /app/var && chown app:app /app/var
USER app

EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
