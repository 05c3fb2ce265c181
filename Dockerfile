# Production image: gunicorn serving dsr.wsgi with gunicorn.conf.py. In docker-compose.yml
# nginx sits in front (TLS, static files, buffering slow clients); the app can also serve
# its static files itself (WhiteNoise). The same image runs the Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DSR_VAR_DIR=/tmp/dsr \
    GUNICORN_BIND=0.0.0.0:8000

WORKDIR /app

RUN groupadd --system --gid 10001 dsr \
 && useradd --system --uid 10001 --gid dsr --create-home --home-dir /home/dsr dsr

# Dependencies first (read from pyproject.toml), so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The project itself, installed in place so templates/ and manage.py sit beside the package;
# the translation catalogues compiled (polib, no GNU gettext in the image).
COPY . .
RUN pip install --no-deps -e . \
 && SECRET_KEY=build-only-dummy-secret-key-never-used-at-runtime \
    DSR_ENCRYPTION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    DSR_VAR_DIR=/tmp/dsr-build \
    sh -c 'python manage.py collectstatic --noinput -v 0 && python manage.py compile_catalogues' \
 && rm -rf /tmp/dsr-build /tmp/build.sqlite3 \
 && chown -R dsr:dsr /app/staticfiles   # compose refreshes it at start, as this user

USER dsr

EXPOSE 8000

CMD ["gunicorn", "-c", "gunicorn.conf.py", "dsr.wsgi:application"]
