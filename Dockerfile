# Pagecast: one image for the web, worker and beat processes of the Procfile.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=core.settings.production \
    DATA_DIR=/var/lib/pagecast \
    BIND_HOST=0.0.0.0 \
    PORT=8000

# espeak-ng voices and Tesseract OCR are optional features that need these programs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev \
    && SECRET_KEY=collectstatic-only-$(head -c 48 /dev/urandom | base64) ALLOWED_HOSTS=localhost \
       python manage.py collectstatic --noinput \
    && useradd --system --home-dir /app pagecast \
    && mkdir -p /var/lib/pagecast && chown pagecast /var/lib/pagecast

USER pagecast
EXPOSE 8000
# The same commands as the Procfile: web (default), worker, beat.
CMD ["gunicorn", "core.wsgi:application", "--config", "core/gunicorn_conf.py"]
