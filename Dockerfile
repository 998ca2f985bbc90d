# webex-tokenbot: the panel, the refresher and the bot in one process (`tokenbot serve`).
#   docker build -t webex-tokenbot .
#   docker run -p 2000:2000 -v tokenbot-data:/data --env-file tokenbot.env webex-tokenbot
# See README.md, "Running in a container".

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md ./
COPY admin ./admin
COPY bot ./bot
COPY core ./core
COPY emulator ./emulator
COPY tokenbot ./tokenbot
# Runtime dependencies only: no dev extra, no test tools, no browser.
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TOKENBOT_CONFIG=/etc/tokenbot/config.yaml
RUN groupadd --system --gid 10001 tokenbot \
    && useradd --system --uid 10001 --gid tokenbot --home-dir /data --shell /usr/sbin/nologin tokenbot \
    && mkdir -p /data /etc/tokenbot \
    && chown tokenbot:tokenbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels webex-tokenbot && rm -rf /wheels
COPY docker/config.yaml /etc/tokenbot/config.yaml
COPY docker/entrypoint.sh /usr/local/bin/tokenbot-entrypoint

USER tokenbot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 2000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:2000/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tokenbot-entrypoint"]
CMD ["serve"]
