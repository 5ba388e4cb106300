FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 RESOLVE_VAR_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY . .
RUN pip install --no-cache-dir . && useradd --create-home resolve && mkdir -p var && chown resolve var
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
USER resolve
EXPOSE 8000 2525
CMD ["gunicorn", "tracker.wsgi:application", "--bind", "0.0.0.0:8000"]
