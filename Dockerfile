FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings, not secrets: a throwaway key for this build step only.
RUN ALLIANCE_ENV=embedded SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --system --uid 1000 alliance
# The beat's schedule lives on a volume mounted here; a new named volume takes this owner.
RUN mkdir -p /var/lib/alliance-beat && chown alliance /var/lib/alliance-beat
USER alliance
EXPOSE 8000
# Workers, threads, backlog and timeouts: gunicorn.conf.py (README: Scaling).
CMD ["gunicorn", "--config", "gunicorn.conf.py"]
