# webex-tokenbot: the panel, the refresher and the bot in one process (`tokenbot serve`).
#   docker build -t webex-tokenbot .
#   docker run -p 127.0.0.1:2000:2000 -v tokenbot-data:/data --env-file tokenbot.env webex-tokenbot
# See README.md, "Running in a container".
#
# The base image is pinned by digest, so a rebuild gets the same system libraries until we
# choose otherwise. To move to a newer python:3.11-slim-bookworm (security updates), look the
# digest up and replace it in both FROM lines:
#   docker buildx imagetools inspect python:3.11-slim-bookworm --format '{{.Manifest.Digest}}'
ARG BASE=python:3.11-slim-bookworm@sha256:b18992999dbe963a45a8a4da40ac2b1975be1a776d939d098c647482bcad5cba

FROM ${BASE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Only what the wheel is built from (.dockerignore keeps the rest of the checkout out).
# tokenbot/core, tokenbot/admin, tokenbot/bot and tokenbot/emulator are symlinks to these folders.
COPY pyproject.toml README.md LICENSE ./
COPY admin ./admin
COPY bot ./bot
COPY core ./core
COPY emulator ./emulator
COPY tokenbot ./tokenbot
# Runtime dependencies only (no dev extra, no test tools, no browser), into a virtual
# environment that the final stage copies whole: the wheels themselves never reach the image.
RUN python -m venv /opt/tokenbot \
    && /opt/tokenbot/bin/pip install --no-compile . \
    && /opt/tokenbot/bin/pip uninstall --yes pip

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/tokenbot/bin:$PATH \
    TOKENBOT_CONFIG=/etc/tokenbot/config.yaml
RUN groupadd --system --gid 10001 tokenbot \
    && useradd --system --uid 10001 --gid tokenbot --home-dir /data --shell /usr/sbin/nologin tokenbot \
    && mkdir -p /data /etc/tokenbot \
    && chown tokenbot:tokenbot /data
COPY --from=build /opt/tokenbot /opt/tokenbot
COPY docker/config.yaml /etc/tokenbot/config.yaml
COPY docker/entrypoint.sh /usr/local/bin/tokenbot-entrypoint

USER tokenbot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 2000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:2000/healthz', timeout=4).status == 200 else 1)"]
# tokenbot finishes what is in flight within 8 s of SIGTERM, inside `docker stop`'s default 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tokenbot-entrypoint"]
CMD ["serve"]
